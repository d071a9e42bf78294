"""The object lifecycle: apply manifests, schedules and workflows; pause, resume and remove.

These actions take whole Chaos Mesh objects (or build a Schedule or a
Workflow from steps) rather than one fault's arguments; ``remove_chaos`` is
the rollback of every fault, and ``remove_all_chaos`` removes everything
chaosllm created. :func:`restore_entry` is the fault ledger's restorer for
every object chaosllm created (id ``chaosmesh.object``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from chaosllm._clients.k8s import chaos_mesh_api
from chaosllm.arguments import Range, strict
from chaosllm.chaosmesh._bulk import managed, remove_managed
from chaosllm.chaosmesh._kinds import KINDS, kind_of
from chaosllm.chaosmesh._manifests import render_manifests, render_schedule, render_workflow
from chaosllm.chaosmesh._spec import dry_run_requested
from chaosllm.chaosmesh._status import PAUSE_ANNOTATION, injection_effect
from chaosllm.chaosmesh._submit import deadline_of, remove, submit
from chaosllm.errors import ConfigurationError, FaultFailed, TargetNotFound
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


@strict
def apply_manifest(
    path_or_manifest: str | dict[str, Any] | list[dict[str, Any]],
    namespace: str = "default",
    allow_unbounded: bool = False,
    lifetime: str | None = None,
    wait: bool = True,
    timeout: str = "60s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the Chaos Mesh objects of a YAML or JSON manifest (a file path, text or object).

    A file may hold several documents. Objects without a namespace go to
    `namespace`. All are checked before any is created, and if one fails,
    those already created are removed. A Schedule needs an end: `lifetime`
    (or its own `chaosllm.io/lifetime` annotation), after which chaosllm
    removes it, unless `allow_unbounded` is true. Every object is recorded
    in the fault ledger, so that `chaosllm cleanup` removes what a killed
    run left.

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
        manifest = entry["manifest"]
        meta, spec = manifest["metadata"], manifest.get("spec") or {}
        handle = fault_handle(manifest["kind"], meta["name"], meta["namespace"], spec,
                              deadline_of(manifest)[0])
        handle.update(namespace=meta["namespace"], replaced=entry["replaced"])
        handles.append({**handle, **_effect(manifest["kind"], entry["object"], wait)})
    return {"objects": handles}


def _effect(kind: str, obj: dict[str, Any], wait: bool) -> dict[str, Any]:
    """A created object's effect: a confirmed fault's records; otherwise unknown, and why."""
    if not kind_of(kind).is_chaos:
        return injection_effect(obj, f"a {kind} injects its faults over time: see the faults it creates")
    return injection_effect(obj, "" if wait else "not waited for injection (wait is false)")


@strict
def schedule_chaos(
    kind: str,
    spec: dict[str, Any],
    schedule: str,
    duration: str | None = None,
    lifetime: str | None = None,
    allow_unbounded: bool = False,
    concurrency_policy: str = "Forbid",
    history_limit: Annotated[int, Range(1, 2**31 - 1)] = 1,
    starting_deadline_seconds: Annotated[int, Range(0)] | None = None,
    name: str | None = None,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a chaos `spec` of `kind` on a cron `schedule`, each run lasting `duration`.

    The Schedule itself runs for `lifetime` (required unless
    `allow_unbounded`): it is recorded in the fault ledger with that
    deadline, and a detached healer (or `chaosllm cleanup`) removes it then,
    even if the run was killed. Declare `remove_chaos` in the rollbacks.

    ```json
    {"type": "action", "name": "kill-a-pod-every-5m",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "schedule_chaos",
                  "arguments": {"kind": "PodChaos", "schedule": "@every 5m", "duration": "10s",
                                "lifetime": "1h",
                                "spec": {"action": "pod-kill", "mode": "one",
                                         "selector": {"labelSelectors": {"app": "gateway"}}}}}}
    ```
    """
    manifests = render_schedule(locals())
    return _submit_one(manifests, False, 0.0, dry_run, configuration, secrets)


@strict
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
                "namespace": meta["namespace"], **result,
                "effect": "none", "evidence": {"reason": "dry run"}}
    handle = fault_handle(manifest["kind"], meta["name"], meta["namespace"], manifest["spec"],
                          deadline_of(manifest)[0])
    return {**handle, "namespace": meta["namespace"], "replaced": result["replaced"],
            "status": result["object"].get("status"),
            **_effect(manifest["kind"], result["object"], wait)}


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


@strict
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


@strict
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


@strict
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


@strict
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
    with chaos_mesh_api(f"remove all chaos in {namespace or 'all namespaces'}",
                        configuration, secrets) as api:
        if dry_run_requested(dry_run):
            # Schedules and workflows first, the order in which they would go.
            order = sorted(KINDS.values(), key=lambda k: k.is_chaos)
            would = [{"removed": False, "would_remove": True, "kind": kind.kind, "name": name,
                      "namespace": ns} for kind, ns, name in managed(api, namespace, order)]
            return {"dry_run": True, "removed": [], "count": 0, "would_remove": would}
        results, failed = remove_managed(api, namespace, bool(force), seconds)
    removed = [r for r in results if r["removed"]]
    if failed:
        raise FaultFailed(f"removed {len(removed)} object(s), but: " + "; ".join(failed))
    return {"removed": removed, "count": len(removed)}


def restore_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The fault ledger's restorer for a Chaos Mesh object: remove it (with force), idempotently.

    Refuses when the current Kubernetes configuration points at another API
    server than the one the object was created on.
    """
    state = entry["state"]
    kind, namespace, name = state["kind"], state["namespace"], state["name"]
    secrets = {"KUBERNETES_CONTEXT": state["context"]} if state.get("context") else None
    with chaos_mesh_api(f"remove {kind} {namespace}/{name} (from the fault ledger)",
                        None, secrets) as api:
        if state.get("host") and api.host != state["host"]:
            raise ConfigurationError(
                f"could not remove {kind} {namespace}/{name}: it was created on {state['host']}, "
                f"but the Kubernetes configuration now points at {api.host} (kubeconfig "
                f"{state.get('kubeconfig') or 'default'}, context {state.get('context') or 'current'})"
                "; switch back and run chaosllm cleanup again"
            )
        return remove(api, kind, namespace, name, True, parse_duration("30s"))
