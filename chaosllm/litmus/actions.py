"""Litmus fault actions: run one fault through a ChaosEngine, and stop it.

``run_litmus_fault`` checks the blast-radius policy on the engine (its app
namespace, labels and ``PODS_AFFECTED_PERC``) and the cluster's halt, records
the engine in the fault ledger, creates it, and returns once its ChaosResult
``<engine>-<fault>`` has left ``Running``: the verdict, the probe success
percentage, each probe's verdict and the targeted pods. A ChaosResult that
never appears means the fault never started: the engine is stopped and
removed and the action fails. ``stop_litmus_fault`` is its rollback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from chaosllm._clients.k8s import ChaosMeshApi, chaos_mesh_api
from chaosllm.arguments import strict
from chaosllm.chaosmesh._spec import dry_run_requested
from chaosllm.chaosmesh._submit import WaitTimeout, remove, submit, wait_for
from chaosllm.errors import ChaosLLMError, NotInjected, TargetNotFound
from chaosllm.faults import fault_handle, format_duration, parse_duration, utcnow_iso
from chaosllm.journal_keys import EFFECT_KEY, EVIDENCE_KEY
from chaosllm.litmus._engine import app_target, render_engine, result_name
from chaosllm.litmus._result import ENGINE_DONE, RUNNING_PHASES, phase_of, result_effect, result_view

__all__ = ["run_litmus_fault", "stop_litmus_fault"]

ENGINES = "chaosengines"
RESULTS = "chaosresults"
# The completion wait's default: the fault's duration plus this much.
COMPLETION_GRACE = 120.0


def _experiment_check(api: ChaosMeshApi, namespace: str, manifest: Mapping[str, Any]) -> None:
    """Refuse a fault whose ChaosExperiment is not installed, or env it does not read."""
    experiment = manifest["spec"]["experiments"][0]
    fault = experiment["name"]
    found = api.get("chaosexperiments", namespace, fault)
    if found is None:
        installed = sorted(str(o["metadata"]["name"]) for o in api.list("chaosexperiments", namespace))
        raise TargetNotFound(
            f"Litmus fault {fault!r} is not installed in namespace {namespace}: no ChaosExperiment "
            f"{fault} (installed: {', '.join(installed) or 'none'}); install it from the Litmus "
            "chaos hub (faults/kubernetes/<name>/fault.yaml) or fix the name"
        )
    known = {str(e.get("name")) for e in ((found.get("spec") or {}).get("definition") or {}).get("env") or []}
    given = [e["name"] for e in experiment["spec"]["components"]["env"]]
    unknown = [name for name in given if known and name not in known]
    if unknown:
        raise TargetNotFound(
            f"Litmus fault {fault}: env {', '.join(unknown)} is not read by ChaosExperiment "
            f"{namespace}/{fault} (it reads {', '.join(sorted(known))})"
        )


def _fresh(prior: Mapping[str, Any] | None, engine_uid: str) -> Callable[[dict[str, Any] | None], bool]:
    """"This engine's ChaosResult exists": not the one an earlier run of the same name left."""
    before = str((prior or {}).get("metadata", {}).get("resourceVersion") or "")

    def appeared(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        uid = (meta.get("labels") or {}).get("chaosUID")
        return str(meta.get("resourceVersion") or "") != before and uid in (None, "", engine_uid)

    return appeared


def _finished(where: str) -> Callable[[dict[str, Any] | None], bool]:
    def done(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            raise NotInjected(f"{where} was deleted while its experiment ran")
        return phase_of(obj) not in RUNNING_PHASES

    return done


def _stop_engine(api: ChaosMeshApi, namespace: str, name: str, force: bool, timeout: float) -> dict[str, Any]:
    """Patch ``engineState: stop``, wait until Litmus says stopped (or completed), then remove it.

    Idempotent: a missing engine gives ``{"removed": false}``. An engine that
    does not confirm the stop within ``timeout`` is removed anyway (deleting
    an engine makes Litmus abort its experiment); ``stop_confirmed`` says so.
    """
    obj = api.get(ENGINES, namespace, name)
    stopped, confirmed = False, True
    if obj is not None and str((obj.get("status") or {}).get("engineStatus")) not in ENGINE_DONE:
        stopped = api.merge_patch(ENGINES, namespace, name, {"spec": {"engineState": "stop"}}) is not None
        try:
            wait_for(api, ENGINES, namespace, name,
                     lambda o: o is None or str((o.get("status") or {}).get("engineStatus")) in ENGINE_DONE,
                     timeout)
        except WaitTimeout:
            confirmed = False
    removed = remove(api, "ChaosEngine", namespace, name, force, timeout)
    return {**removed, "stopped": stopped, "stop_confirmed": confirmed if stopped else None}


def _abort(api: ChaosMeshApi, namespace: str, name: str, cause: BaseException) -> None:
    """Stop and remove the engine after a failed wait; say so in a chaosllm error."""
    try:
        _stop_engine(api, namespace, name, True, 30.0)
        suffix = f"; ChaosEngine {namespace}/{name} was stopped and removed"
    except Exception as exc:
        suffix = f"; removing ChaosEngine {namespace}/{name} failed too: {exc}"
    if isinstance(cause, ChaosLLMError):
        cause.args = (str(cause) + suffix, *cause.args[1:])


def _await(api: ChaosMeshApi, namespace: str, name: str, fault: str, engine_uid: str,
           prior: Mapping[str, Any] | None, start: float, finish: float) -> dict[str, Any]:
    """The ChaosResult once it has appeared (within ``start`` s) and left Running (``finish`` s)."""
    rname = result_name(name, fault)
    where = f"ChaosResult {namespace}/{rname}"
    try:
        wait_for(api, RESULTS, namespace, rname, _fresh(prior, engine_uid), start, absent_ok=True)
    except WaitTimeout:
        raise NotInjected(
            f"Litmus fault {fault} did not start: {where} did not appear within "
            f"{format_duration(start)} (is the Litmus operator running, and does the service "
            "account of the engine exist?)"
        ) from None
    try:
        found = wait_for(api, RESULTS, namespace, rname, _finished(where), finish)
    except WaitTimeout as late:
        raise NotInjected(
            f"{where} was still {phase_of(late.last) or 'Running'} after {format_duration(finish)}"
        ) from None
    assert found is not None
    return found


@strict
def run_litmus_fault(
    fault: str,
    app_label: str | dict[str, str],
    duration: str,
    app_namespace: str | None = None,
    app_kind: str = "deployment",
    env: dict[str, Any] | None = None,
    probes: list[dict[str, Any]] | None = None,
    service_account: str | None = None,
    name: str | None = None,
    namespace: str = "default",
    start_timeout: str = "2m",
    timeout: str | None = None,
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the Litmus fault `fault` (a ChaosExperiment installed in `namespace`) through a ChaosEngine.

    The engine targets the `app_kind` pods labelled `app_label` in
    `app_namespace` (default `namespace`) for `duration` (its
    `TOTAL_CHAOS_DURATION`), with the fault's other `env` (such as
    `PODS_AFFECTED_PERC`, `CHAOS_INTERVAL`) and `probes` in Litmus's own
    format, run by `service_account` (default `<fault>-sa`). Returns once the
    ChaosResult `<engine>-<fault>` has left Running: `phase`, `verdict`,
    `probe_success_percentage`, `probe_statuses`, `targets`, and the effect
    (observed when Litmus reports an injected target). If the ChaosResult does
    not appear within `start_timeout`, or the experiment runs past `timeout`
    (default: `duration` plus 2 minutes), the engine is stopped and removed
    and the action fails. The blast-radius policy checks the app namespace,
    labels and `PODS_AFFECTED_PERC` first; a dry run (or `CHAOSLLM_DRY_RUN=1`)
    has the API server validate the engine and lists the pods it would
    target, creating nothing. Declare `stop_litmus_fault` in the rollbacks.

    ```json
    {"type": "action", "name": "delete-a-gateway-pod",
     "provider": {"type": "python", "module": "chaosllm.litmus.actions",
                  "func": "run_litmus_fault",
                  "arguments": {"fault": "pod-delete", "app_label": "app=gateway",
                                "namespace": "shop", "duration": "30s",
                                "env": {"CHAOS_INTERVAL": "10", "PODS_AFFECTED_PERC": "50"},
                                "probes": [{"name": "gateway-up", "type": "httpProbe", "mode": "Continuous",
                                            "httpProbe/inputs": {"url": "http://gateway.shop/healthz",
                                                                 "method": {"get": {"criteria": "==",
                                                                                    "responseCode": "200"}}},
                                            "runProperties": {"probeTimeout": "2s", "interval": "1s",
                                                              "retry": 1}}]}}}
    ```
    """
    args = dict(locals())
    manifest = render_engine(args)
    meta, spec = manifest["metadata"], manifest["spec"]
    ns, engine = meta["namespace"], meta["name"]
    seconds = parse_duration(duration)
    start = parse_duration(start_timeout, "start_timeout")
    finish = parse_duration(timeout, "timeout") if timeout else seconds + COMPLETION_GRACE
    dry = dry_run_requested(dry_run)
    with chaos_mesh_api(f"run Litmus fault {fault}", configuration, secrets) as api:
        _experiment_check(api, ns, manifest)
        prior = None if dry else api.get(RESULTS, ns, result_name(engine, fault))
    created = submit([manifest], False, 0.0, dry, configuration, secrets, f"run Litmus fault {fault}")[0]
    target = app_target(manifest)
    if dry:
        return {"dry_run": True, "kind": "ChaosEngine", "name": engine, "namespace": ns, "target": target,
                **created, "would_touch": {"matching_pods": len(created["pods"])},
                EFFECT_KEY: "none", EVIDENCE_KEY: {"reason": "dry run"}}
    handle = fault_handle("ChaosEngine", engine, target, spec, seconds)
    uid = str(created["object"].get("metadata", {}).get("uid") or "")
    with chaos_mesh_api(f"wait for Litmus fault {fault}", configuration, secrets) as api:
        try:
            found = _await(api, ns, engine, fault, uid, prior, start, finish)
        except BaseException as exc:  # also Ctrl-C: the engine is not left running
            _abort(api, ns, engine, exc)
            raise
    view = result_view(found)
    # The fault ended when its result left Running: that is its window's real end.
    handle.update(expires_at=utcnow_iso(), namespace=ns, experiment=fault, result=view["name"],
                  replaced=created["replaced"])
    handle.update({k: v for k, v in view.items() if k not in ("name", "namespace", "engine", "experiment")})
    handle.update(result_effect(view))
    return handle


@strict
def stop_litmus_fault(
    name: str,
    namespace: str = "default",
    force: bool = False,
    timeout: str = "30s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stop a Litmus fault: set its ChaosEngine's `engineState` to stop, wait until stopped, remove it.

    Idempotent: an engine already gone returns `{"removed": false}`. An
    engine whose experiment already ended is removed at once. With `force`,
    an engine stuck deleting for `timeout` loses its finalizers. A dry run
    (or `CHAOSLLM_DRY_RUN=1`) changes nothing and says whether it exists.

    ```json
    {"type": "action", "name": "stop-pod-delete",
     "provider": {"type": "python", "module": "chaosllm.litmus.actions",
                  "func": "stop_litmus_fault",
                  "arguments": {"name": "pod-delete-gateway", "namespace": "shop"}}}
    ```
    """
    seconds = parse_duration(timeout, "timeout")
    with chaos_mesh_api(f"stop ChaosEngine {namespace}/{name}", configuration, secrets) as api:
        if dry_run_requested(dry_run):
            exists = api.get(ENGINES, namespace, name) is not None
            return {"dry_run": True, "removed": False, "exists": exists, "kind": "ChaosEngine",
                    "name": name, "namespace": namespace}
        return _stop_engine(api, namespace, name, bool(force), seconds)


def _bound(arguments: Mapping[str, Any]) -> dict[str, Any]:
    bound = inspect.signature(run_litmus_fault).bind(**arguments)
    bound.apply_defaults()
    return dict(bound.arguments)


# The side-effect-free manifest builders, by action name, for the blast-radius control.
RENDERERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "run_litmus_fault": lambda **arguments: [render_engine(_bound(arguments))],
}
ROLLBACKS = {"run_litmus_fault": "stop_litmus_fault"}
