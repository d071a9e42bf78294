"""The object lifecycle: apply manifests, schedules and workflows; pause, resume and remove.

These actions take whole Chaos Mesh objects (or build a Schedule or a
Workflow from steps) rather than one fault's arguments; ``remove_chaos`` is
the rollback of every fault, and ``remove_all_chaos`` removes everything
chaosllm created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm._clients.k8s import chaos_mesh_api
from chaosllm.chaosmesh._kinds import KINDS, kind_of
from chaosllm.chaosmesh._manifests import render_manifests, render_schedule, render_workflow
from chaosllm.chaosmesh._spec import MANAGED_BY, dry_run_requested
from chaosllm.chaosmesh._status import PAUSE_ANNOTATION
from chaosllm.chaosmesh._submit import remove, submit
from chaosllm.errors import FaultFailed, TargetNotFound
from chaosllm.faults import fault_handle, parse_duration

__all__ = [
    "apply_manifest",
    "schedule_chaos",
    "create_workflow",
    "pause_chaos",
    "resume_chaos",
    "remove_chaos",
    "remove_all_chaos",
]


def apply_manifest(
    path_or_manifest: str | dict[str, Any] | list[dict[str, Any]],
    namespace: str = "default",
    allow_unbounded: bool = False,
    wait: bool = True,
    timeout: str = "60s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the Chaos Mesh objects of a YAML or JSON manifest (a file path, text or object).

    A file may hold several documents. Objects without a namespace go to
    `namespace`. All are checked before any is created, and if one fails,
    those already created are removed.

    ```json
    {"type": "action", "name": "apply-chaos",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "apply_manifest",
                  "arguments": {"path_or_manifest": "experiments/chaos-mesh/gateway-delay.yaml",
                                "namespace": "shop"}}}
    ```
    """
    manifests = render_manifests(locals())
    seconds = parse_duration(timeout, "timeout")
    results = submit(manifests, wait, seconds, dry_run_requested(dry_run), configuration, secrets)
    if dry_run_requested(dry_run):
        return {"dry_run": True, "objects": results}
    handles = []
    for entry in results:
        meta, spec = entry["manifest"]["metadata"], entry["manifest"].get("spec") or {}
        duration = spec.get("duration")
        handle = fault_handle(entry["manifest"]["kind"], meta["name"], meta["namespace"], spec,
                              parse_duration(duration) if duration else None)
        handles.append({**handle, "namespace": meta["namespace"], "replaced": entry["replaced"]})
    return {"objects": handles}


def schedule_chaos(
    kind: str,
    spec: dict[str, Any],
    schedule: str,
    duration: str | None = None,
    allow_unbounded: bool = False,
    concurrency_policy: str = "Forbid",
    history_limit: int = 1,
    starting_deadline_seconds: int | None = None,
    name: str | None = None,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a chaos `spec` of `kind` on a cron `schedule`, each run lasting `duration`.

    The Schedule itself runs until it is removed: declare `remove_chaos` in
    the rollbacks.

    ```json
    {"type": "action", "name": "kill-a-pod-every-5m",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "schedule_chaos",
                  "arguments": {"kind": "PodChaos", "schedule": "@every 5m", "duration": "10s",
                                "spec": {"action": "pod-kill", "mode": "one",
                                         "selector": {"labelSelectors": {"app": "gateway"}}}}}}
    ```
    """
    manifests = render_schedule(locals())
    return _submit_one(manifests, False, 0.0, dry_run, configuration, secrets)


def create_workflow(
    steps: list[dict[str, Any]],
    duration: str | None = None,
    mode: str = "Serial",
    status_check: dict[str, Any] | None = None,
    name: str | None = None,
    namespace: str = "default",
    wait: bool = True,
    timeout: str = "60s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `steps` one after another ("Serial") or together ("Parallel") within `duration`.

    A step is `{"name", "kind", "spec", "duration"}` (or a raw Chaos Mesh
    template). With `status_check` (`{"url", "status_code", "interval_seconds",
    "failure_threshold"}`), an HTTP check runs beside the steps and aborts
    the workflow when it fails. With `wait`, returns once Chaos Mesh has
    scheduled the workflow.

    ```json
    {"type": "action", "name": "degrade-then-kill",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "create_workflow",
                  "arguments": {"duration": "5m", "mode": "Serial",
                                "status_check": {"url": "http://gateway.shop/healthz"},
                                "steps": [{"name": "slow-db", "kind": "NetworkChaos", "duration": "60s",
                                           "spec": {"action": "delay", "mode": "all",
                                                    "selector": {"labelSelectors": {"app": "postgres"}},
                                                    "delay": {"latency": "200ms"}}}]}}}
    ```
    """
    manifests = render_workflow(locals())
    return _submit_one(manifests, wait, parse_duration(timeout, "timeout"), dry_run,
                       configuration, secrets)


def _submit_one(
    manifests: list[dict[str, Any]], wait: bool, timeout: float, dry_run: bool,
    configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None,
) -> dict[str, Any]:
    dry = dry_run_requested(dry_run)
    result = submit(manifests, wait, timeout, dry, configuration, secrets)[0]
    manifest = manifests[0]
    meta = manifest["metadata"]
    if dry:
        return {"dry_run": True, "kind": manifest["kind"], "name": meta["name"],
                "namespace": meta["namespace"], **result}
    handle = fault_handle(manifest["kind"], meta["name"], meta["namespace"], manifest["spec"], None)
    return {**handle, "namespace": meta["namespace"], "replaced": result["replaced"],
            "status": result["object"].get("status")}


# -- pause, resume, remove ----------------------------------------------------------


def _set_pause(
    kind: str, name: str, namespace: str, paused: bool, dry_run: bool,
    configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """The patched object (None when it does not exist); in a dry run, the object unchanged."""
    spec = kind_of(kind)
    patch = {"metadata": {"annotations": {PAUSE_ANNOTATION: "true" if paused else None}}}
    verb = "pause" if paused else "resume"
    with chaos_mesh_api(f"{verb} {spec.kind} {namespace}/{name}", configuration, secrets) as api:
        if dry_run_requested(dry_run):
            return api.get(spec.plural, namespace, name)
        return api.merge_patch(spec.plural, namespace, name, patch)


def pause_chaos(
    kind: str,
    name: str,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pause a fault (Chaos Mesh recovers its targets) by setting the pause annotation.

    ```json
    {"type": "action", "name": "pause-delay",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "pause_chaos",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    if _set_pause(kind, name, namespace, True, dry_run, configuration, secrets) is None:
        raise TargetNotFound(f"could not pause {kind_of(kind).kind} {namespace}/{name}: not found")
    return {"kind": kind_of(kind).kind, "name": name, "namespace": namespace,
            **({"dry_run": True, "paused": False} if dry_run_requested(dry_run) else {"paused": True})}


def resume_chaos(
    kind: str,
    name: str,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Resume a paused fault by removing the pause annotation; a missing object is not an error.

    ```json
    {"type": "action", "name": "resume-delay",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "resume_chaos",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    found = _set_pause(kind, name, namespace, False, dry_run, configuration, secrets)
    result = {"kind": kind_of(kind).kind, "name": name, "namespace": namespace,
              "paused": False, "removed": found is not None}
    if dry_run_requested(dry_run):
        result.update(dry_run=True, removed=False, exists=found is not None)
    return result


def remove_chaos(
    kind: str,
    name: str,
    namespace: str = "default",
    force: bool = False,
    timeout: str = "30s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Delete a Chaos Mesh object and wait until Chaos Mesh has recovered its targets.

    Idempotent: an object already gone returns `{"removed": false}`. With
    `force`, an object stuck deleting for `timeout` gets the clean-finalizer
    annotation. A dry run (or `CHAOSLLM_DRY_RUN=1`) deletes nothing and says
    whether the object exists.

    ```json
    {"type": "action", "name": "remove-delay",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "remove_chaos",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    spec = kind_of(kind)
    seconds = parse_duration(timeout, "timeout")
    with chaos_mesh_api(f"remove {spec.kind} {namespace}/{name}", configuration, secrets) as api:
        if dry_run_requested(dry_run):
            exists = api.get(spec.plural, namespace, name) is not None
            return {"dry_run": True, "removed": False, "exists": exists, "kind": spec.kind,
                    "name": name, "namespace": namespace}
        return remove(api, spec.kind, namespace, name, bool(force), seconds)


def remove_all_chaos(
    namespace: str | None = None,
    force: bool = False,
    timeout: str = "30s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Remove every object chaosllm created (label managed-by=chaosllm), in one namespace or all.

    Schedules and workflows go first, so that they start nothing new. A dry
    run (or `CHAOSLLM_DRY_RUN=1`) deletes nothing and lists what it would remove.

    ```json
    {"type": "action", "name": "remove-all-chaos",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "remove_all_chaos", "arguments": {"namespace": "shop"}}}
    ```
    """
    seconds = parse_duration(timeout, "timeout")
    label = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
    order = sorted(KINDS.values(), key=lambda k: k.is_chaos)
    removed, failed = [], []
    with chaos_mesh_api(f"remove all chaos in {namespace or 'all namespaces'}",
                        configuration, secrets) as api:
        for kind in order:
            for obj in api.list(kind.plural, namespace, label):
                meta = obj["metadata"]
                if dry_run_requested(dry_run):
                    removed.append({"removed": False, "would_remove": True, "kind": kind.kind,
                                    "name": meta["name"], "namespace": meta["namespace"]})
                    continue
                try:
                    removed.append(remove(api, kind.kind, meta["namespace"], meta["name"],
                                          bool(force), seconds))
                except FaultFailed as exc:  # try the others first, then report
                    failed.append(str(exc))
    if failed:
        raise FaultFailed(f"removed {len(removed)} object(s), but: " + "; ".join(failed))
    if dry_run_requested(dry_run):
        return {"dry_run": True, "removed": [], "count": 0, "would_remove": removed}
    return {"removed": [r for r in removed if r["removed"]], "count": sum(r["removed"] for r in removed)}
