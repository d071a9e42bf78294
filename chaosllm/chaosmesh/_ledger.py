"""Chaos Mesh objects in the durable fault ledger: one entry per object chaosllm creates.

An entry is written before the object is created and dropped when a
rollback (or a sweep) has removed it, so that a run killed in between
leaves a record that ``chaosllm cleanup`` acts on through the restorer
``chaosmesh.object``. The entry names the API server it was made on;
restoring refuses to act on another cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from chaosllm.faults.ledger import Ledger, record_fault

__all__ = ["RESTORER", "entry_id", "record_object", "forget_objects"]

RESTORER = "chaosmesh.object"


def entry_id(kind: str, namespace: str, name: str) -> str:
    return f"chaosmesh {kind} {namespace}/{name}"


def record_object(
    manifest: Mapping[str, Any], host: str, deadline: float | None, healer: bool,
    secrets: Mapping[str, Any] | None,
) -> str:
    """Record ``manifest``'s object before it is created; returns the entry id.

    ``deadline`` is seconds from now (None: no end). With ``healer``, a
    detached healer removes the object then (for a Schedule, which nothing
    else ends); otherwise Chaos Mesh ends the fault and the entry waits for
    the rollback or ``chaosllm cleanup`` to remove the object itself.
    """
    meta = manifest["metadata"]
    kind, namespace, name = str(manifest["kind"]), str(meta["namespace"]), str(meta["name"])
    key = entry_id(kind, namespace, name)
    context = (secrets or {}).get("KUBERNETES_CONTEXT") or os.environ.get("KUBERNETES_CONTEXT")
    state = {"kind": kind, "name": name, "namespace": namespace, "host": host, "context": context,
             "kubeconfig": os.environ.get("KUBECONFIG")}
    ledger = Ledger()
    ledger.pop(key)  # a replaced object starts a new entry with its own deadline
    record_fault(key, RESTORER, state, deadline, f"{kind} {namespace}/{name} on {host}",
                 ledger, healer=healer and deadline is not None)
    return key


def forget_objects(refs: Iterable[tuple[str, str, str]]) -> None:
    """Drop the entries of removed objects ``(kind, namespace, name)``; one read when none is there."""
    ledger = Ledger()
    present = ledger.entries()
    for kind, namespace, name in refs:
        key = entry_id(kind, namespace, name)
        if key in present:
            ledger.pop(key)
