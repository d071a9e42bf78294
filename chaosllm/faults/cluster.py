"""The fault ledger's copy in the cluster: one Secret per fault, so that faults outlive the pod.

A runner in a pod keeps its ledger on the pod's disk, and its detached
healers run in the same pod: when the pod dies, both are gone, and a Redis
``maxmemory``, a role's ``statement_timeout`` or a RabbitMQ policy would
stay changed. When the setting ``ledger_namespace``
(``$CHAOSLLM_LEDGER_NAMESPACE``) names a namespace, or the process runs in a
pod (``CHAOSTOOLKIT_IN_POD=true``, then the pod's own namespace), every
change to the ledger is also written there: an entry is a Secret (it holds
the connection settings the restore needs) named
``chaosllm-fault-<hash of the entry id>``, labelled
``chaosllm.io/ledger=fault``, whose key ``entry`` is the entry as JSON. The
Secret is written before the fault is applied: when it cannot be written,
the fault is refused. ``chaosllm cleanup --cluster`` restores, from
anywhere, the faults whose deadline has passed (``--all``: every one).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.settings import get_setting

__all__ = ["SETTING", "LABELS", "ClusterCopy", "ledger_namespace", "secret_name"]

SETTING = "ledger_namespace"
LABELS = {"app.kubernetes.io/managed-by": "chaosllm", "chaosllm.io/ledger": "fault"}
SELECTOR = ",".join(f"{k}={v}" for k, v in LABELS.items())
ID_ANNOTATION = "chaosllm.io/fault"
# Where Kubernetes mounts the pod's namespace for its service account.
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def ledger_namespace(value: str | None = None) -> str | None:
    """The namespace of the ledger's copy: ``value``, the setting, or the pod's own namespace."""
    found = get_setting(SETTING, value)
    if found:
        return str(found)
    if os.environ.get("CHAOSTOOLKIT_IN_POD", "").lower() == "true":
        with contextlib.suppress(OSError):
            return POD_NAMESPACE_FILE.read_text().strip() or None
    return None


def secret_name(entry_id: str) -> str:
    """A valid object name for any entry id (ids hold spaces, slashes and colons)."""
    return "chaosllm-fault-" + hashlib.sha256(entry_id.encode()).hexdigest()[:40]


class ClusterCopy:
    """The ledger's entries as Secrets in ``namespace``."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    @contextlib.contextmanager
    def _api(self, action: str) -> Iterator[Any]:
        from chaosllm._clients.k8s import chaos_mesh_api

        with chaos_mesh_api(f"{action} (the fault ledger's copy in namespace {self.namespace})") as api:
            yield api

    def entries(self) -> dict[str, Any]:
        with self._api("read the fault ledger") as api:
            items = api.list_secrets(self.namespace, SELECTOR)
        entries: dict[str, Any] = {}
        for item in items:
            name = item.get("metadata", {}).get("name", "?")
            try:
                entry = json.loads(base64.b64decode((item.get("data") or {})["entry"]))
                entries[str(entry["id"])] = entry
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"the fault ledger Secret {self.namespace}/{name} has no readable 'entry' "
                    f"({exc.__class__.__name__}): fix or delete it; nothing is restored until then"
                ) from exc
        return entries

    def sync(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Write the entries that changed from ``before`` to ``after`` and delete the removed ones."""
        changed = [entry for key, entry in sorted(after.items()) if before.get(key) != entry]
        removed = sorted(key for key in before if key not in after)
        if not changed and not removed:
            return
        with self._api("write the fault ledger") as api:
            for entry in changed:
                api.write_secret(self.namespace, secret_name(entry["id"]),
                                 {"entry": json.dumps(entry, sort_keys=True)}, dict(LABELS),
                                 {ID_ANNOTATION: str(entry["id"])[:1000]})  # fmt: skip
            for key in removed:
                api.delete_secret(self.namespace, secret_name(key))
