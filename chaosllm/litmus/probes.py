"""Litmus probes: a fault's ChaosResult, and a ChaosEngine's status."""

from __future__ import annotations

from typing import Any

from chaosllm._clients.k8s import chaos_mesh_api
from chaosllm.arguments import strict
from chaosllm.litmus._engine import result_name
from chaosllm.litmus._result import engine_view, result_view

__all__ = ["litmus_result", "litmus_engine_status"]


@strict
def litmus_result(
    engine: str,
    fault: str,
    namespace: str = "default",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ChaosResult `<engine>-<fault>`: phase, verdict, probe success percentage, probes, targets.

    `phase` is "absent" when there is no such result (the fault never ran).
    The result outlives its engine, so this reads the last run's verdict
    after the rollback has removed the engine.

    ```json
    {"type": "probe", "name": "pod-delete-result",
     "provider": {"type": "python", "module": "chaosllm.litmus.probes",
                  "func": "litmus_result",
                  "arguments": {"engine": "pod-delete-gateway", "fault": "pod-delete",
                                "namespace": "shop"}}}
    ```
    """
    name = result_name(engine, fault)
    with chaos_mesh_api(f"read ChaosResult {namespace}/{name}", configuration, secrets) as api:
        found = api.get("chaosresults", namespace, name)
    if found is None:
        return {"name": name, "namespace": namespace, "engine": engine, "experiment": fault,
                "phase": "absent", "verdict": "", "probe_success_percentage": None,
                "probe_statuses": [], "targets": []}
    return result_view(found)


@strict
def litmus_engine_status(
    name: str,
    namespace: str = "default",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ChaosEngine's `engine_state` (active, stop), `engine_status` (initialized, completed,
    stopped; "absent" when there is none) and each experiment's status and verdict.

    ```json
    {"type": "probe", "name": "pod-delete-engine",
     "provider": {"type": "python", "module": "chaosllm.litmus.probes",
                  "func": "litmus_engine_status",
                  "arguments": {"name": "pod-delete-gateway", "namespace": "shop"}}}
    ```
    """
    with chaos_mesh_api(f"read ChaosEngine {namespace}/{name}", configuration, secrets) as api:
        found = api.get("chaosengines", namespace, name)
    if found is None:
        return {"kind": "ChaosEngine", "name": name, "namespace": namespace, "engine_state": None,
                "engine_status": "absent", "experiments": [], "deleting": False}
    return engine_view(found)
