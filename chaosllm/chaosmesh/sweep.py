"""The cluster side of the halt switch: stop every chaosllm fault in the cluster, and say so.

``halt_cluster`` writes the ``chaosllm-halt`` ConfigMap (so that new faults
are refused from then on, wherever they are submitted), pauses every
chaosllm-managed Chaos Mesh object (one patch each, concurrently; Chaos Mesh
recovers the targets of a paused fault at once) and then removes them all
(concurrently). ``lift_cluster`` deletes the ConfigMap; ``cluster_halt``
reads it. The ``chaosllm halt --cluster`` command calls these::

    halt_cluster("bad deploy in progress", "alice", None, "chaos-system")
    cluster_halt("chaos-system")   # {"reason": ..., "by": "alice", "at": ...}
    lift_cluster("chaos-system")
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.k8s import chaos_mesh_api
from chaosllm.chaosmesh._bulk import pause_managed, remove_managed
from chaosllm.chaosmesh._halt import HALT_CONFIG_MAP, read_halt, write_halt

__all__ = ["HALT_CONFIG_MAP", "halt_cluster", "lift_cluster", "cluster_halt"]

# How long the removals may take before force is used on what is left.
REMOVE_TIMEOUT = 30.0


def halt_cluster(
    reason: str,
    by: str,
    namespace: str | None,
    state_namespace: str,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Halt chaos in the cluster: refuse new faults, pause every managed object, remove them.

    ``namespace`` limits the sweep (None: every namespace); the ConfigMap
    goes to ``state_namespace``. Returns the halt and the counts:
    ``{"reason", "by", "at", "state_namespace", "paused", "removed", "failed": [...]}``.
    """
    where = namespace or "all namespaces"
    with chaos_mesh_api(f"halt chaos in {where}", configuration, secrets) as api:
        halt = write_halt(api, state_namespace, reason, by)
        paused, pause_failed = pause_managed(api, namespace)
        results, failed = remove_managed(api, namespace, True, REMOVE_TIMEOUT)
    return {**halt, "state_namespace": state_namespace, "paused": len(paused),
            "removed": sum(1 for r in results if r["removed"]), "failed": pause_failed + failed}


def lift_cluster(
    state_namespace: str,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """Lift the halt: delete the ConfigMap. False when there was no halt."""
    with chaos_mesh_api(f"lift the halt in {state_namespace}", configuration, secrets) as api:
        return api.delete_config_map(state_namespace, HALT_CONFIG_MAP)


def cluster_halt(
    state_namespace: str,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The halt in force (``{"reason", "by", "at"}``), or None."""
    with chaos_mesh_api(f"read the halt in {state_namespace}", configuration, secrets) as api:
        return read_halt(api, state_namespace)
