"""Creating, confirming and removing Chaos Mesh objects.

The order is fixed: the blast-radius policy is checked on the manifest,
then against the pods the selector matches (a fault whose selector matches
no pod is refused there, naming the selector, the namespace and the kind),
then a cluster-wide halt is looked for; only then is anything created, each
object recorded in the fault ledger first. A conflict on create replaces an
object chaosllm manages and refuses a foreign one. With ``wait``, injection
is confirmed through a watch; if it is not confirmed in time, or Chaos Mesh
selects nothing after all, what was created is removed before the error is
raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from chaosllm._clients.k8s import ChaosMeshApi, chaos_mesh_api
from chaosllm.chaosmesh._halt import refuse_if_halted
from chaosllm.chaosmesh._kinds import kind_of
from chaosllm.chaosmesh._ledger import forget_objects, record_object
from chaosllm.chaosmesh._selections import engine_env, selections
from chaosllm.chaosmesh._selector import describe_selector, matching_pods, selector_namespaces
from chaosllm.chaosmesh._spec import LIFETIME_ANNOTATION, MANAGED_BY, Common
from chaosllm.chaosmesh._status import (
    force_patch,
    forced_how,
    injection_effect,
    injection_state,
    summarise,
    workflow_started,
)
from chaosllm.chaosmesh.policy import Policy, enforce, policy_from
from chaosllm.errors import ChaosLLMError, FaultFailed, NotInjected
from chaosllm.faults import fault_handle, format_duration, parse_duration, utcnow_iso
from chaosllm.journal_keys import EFFECT_KEY, EVIDENCE_KEY

__all__ = [
    "submit",
    "submit_fault",
    "remove",
    "wait_for",
    "injection_check",
    "WaitTimeout",
    "ident",
    "SELECTION_GRACE",
    "deadline_of",
]

# How long a replaced or rolled-back object may take to go before force is considered.
REMOVE_TIMEOUT = 30.0
# How long "nothing selected" must last before it is believed (see injection_check).
SELECTION_GRACE = 2.0


class WaitTimeout(Exception):
    """Internal: the condition did not hold in time; carries the last object seen."""

    def __init__(self, last: dict[str, Any] | None):
        super().__init__("timeout")
        self.last = last


def ident(manifest: Mapping[str, Any]) -> str:
    meta = manifest.get("metadata") or {}
    return f"{manifest.get('kind')} {meta.get('namespace')}/{meta.get('name')}"


def wait_for(
    api: ChaosMeshApi,
    plural: str,
    namespace: str,
    name: str,
    done: Callable[[dict[str, Any] | None], bool],
    timeout: float,
    recheck: float | None = None,
    absent_ok: bool = False,
) -> dict[str, Any] | None:
    """Return the object once ``done(obj)`` holds (obj None means deleted).

    Reads the object, then follows a watch from its resourceVersion, so
    that no change is missed and nothing sleeps. With ``recheck``, each
    watch lasts at most that long and ``done`` is asked again even when
    nothing changed (for conditions that depend on time). ``done`` may
    raise to stop early. Raises :class:`WaitTimeout` when ``timeout``
    seconds pass. A missing object ends the wait at once, unless
    ``absent_ok`` (waiting for an object someone else creates): then the
    watch follows the namespace's list from its resourceVersion.
    """
    deadline = time.monotonic() + timeout
    obj = api.get(plural, namespace, name)
    while not done(obj):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (obj is None and not absent_ok):
            raise WaitTimeout(obj)
        if obj is None:  # the list's version: nothing created after it is missed
            items, version = api.list_versioned(plural, namespace)
            obj = next((o for o in items if o["metadata"].get("name") == name), None)
            if done(obj):
                return obj
        else:
            version = str(obj["metadata"].get("resourceVersion", ""))
        segment = min(remaining, recheck) if recheck else remaining
        for event, changed in api.watch(plural, namespace, name, version, segment):
            if event == "ERROR":  # an expired resourceVersion: re-read and watch again
                break
            obj = None if event == "DELETED" else changed
            if done(obj):
                return obj
            if time.monotonic() >= deadline:
                raise WaitTimeout(obj)
        obj = api.get(plural, namespace, name)  # the watch ended: re-read, then go on
    return obj


def injection_check(where: str, default_namespace: str) -> Callable[[dict[str, Any] | None], bool]:
    """The predicate "injection confirmed" for :func:`wait_for`.

    Right after creation Chaos Mesh may briefly report Selected=False, before
    its selection has run; "nothing selected" is final only once it has
    lasted ``SELECTION_GRACE`` seconds.
    """
    first_seen: list[float] = []

    def injected(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            raise NotInjected(f"{where} disappeared before its injection was confirmed")
        if obj.get("kind") == "Workflow":  # confirmed once Chaos Mesh has scheduled it
            return workflow_started(obj, where)
        state = injection_state(obj)
        if state != "not-selected":
            first_seen.clear()
            return state == "injected"
        first_seen[:] = first_seen or [time.monotonic()]
        if time.monotonic() - first_seen[0] < SELECTION_GRACE:
            return False
        selector = (obj.get("spec") or {}).get("selector") or {}
        namespaces = ",".join(selector_namespaces(selector, default_namespace))
        raise NotInjected(
            f"{where} selected no pod: selector ({describe_selector(selector)}) matched "
            f"nothing in namespace(s) {namespaces}"
        )

    return injected


def remove(
    api: ChaosMeshApi, kind: str, namespace: str, name: str, force: bool, timeout: float
) -> dict[str, Any]:
    """Delete one object and wait until it is gone; idempotent.

    Chaos Mesh keeps a finalizer until it has recovered every target, so
    "gone" means "recovered". If it is stuck deleting and ``force`` is set,
    the clean-finalizer annotation tells Chaos Mesh to drop the finalizer.
    """
    spec = kind_of(kind)
    where = f"{spec.kind} {namespace}/{name}"
    result: dict[str, Any] = {"kind": spec.kind, "name": name, "namespace": namespace}
    if api.delete(spec.plural, namespace, name) is None:
        forget_objects([(spec.kind, namespace, name)])
        return {**result, "removed": False}
    try:
        wait_for(api, spec.plural, namespace, name, lambda o: o is None, timeout)
        forget_objects([(spec.kind, namespace, name)])
        return {**result, "removed": True, "forced": False, "ended_at": utcnow_iso()}
    except WaitTimeout as stuck:
        finalizers = ((stuck.last or {}).get("metadata") or {}).get("finalizers") or []
        if not force:
            raise FaultFailed(
                f"could not remove {where}: still deleting after {format_duration(timeout)} "
                f"(finalizers {', '.join(finalizers) or 'none'}); its controller may be unable to "
                "recover its targets: retry with force=true to drop the finalizer"
            ) from None
    api.merge_patch(spec.plural, namespace, name, force_patch(spec))
    try:
        wait_for(api, spec.plural, namespace, name, lambda o: o is None, timeout)
    except WaitTimeout:
        raise FaultFailed(
            f"could not remove {where}: still present {format_duration(timeout)} after "
            f"{forced_how(spec)}; is its controller (Chaos Mesh, Litmus) running?"
        ) from None
    forget_objects([(spec.kind, namespace, name)])
    return {**result, "removed": True, "forced": True, "ended_at": utcnow_iso()}


def _is_ours(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY[0]) == MANAGED_BY[1]


def _create(api: ChaosMeshApi, manifest: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create; on a conflict replace an object chaosllm owns, refuse anyone else's."""
    plural = kind_of(manifest["kind"]).plural
    meta = manifest["metadata"]
    created = api.create(plural, meta["namespace"], manifest)
    if created is not None:
        return created, False
    existing = api.get(plural, meta["namespace"], meta["name"])
    if existing is not None and not _is_ours(existing):
        raise FaultFailed(
            f"could not create {ident(manifest)}: an object of that name exists and is not "
            f"managed by chaosllm (no label {MANAGED_BY[0]}={MANAGED_BY[1]}); "
            "remove it or choose another name"
        )
    # Chaos Mesh refuses spec updates of a running fault, so a replacement is
    # a removal (which recovers the old fault) followed by a fresh create.
    remove(api, manifest["kind"], meta["namespace"], meta["name"], False, REMOVE_TIMEOUT)
    created = api.create(plural, meta["namespace"], manifest)
    if created is None:
        raise FaultFailed(f"could not create {ident(manifest)}: it was re-created by someone else")
    return created, True


def _confirm(api: ChaosMeshApi, manifest: dict[str, Any], timeout: float) -> dict[str, Any]:
    meta, where = manifest["metadata"], ident(manifest)
    injected = injection_check(where, meta["namespace"])
    try:
        found = wait_for(api, kind_of(manifest["kind"]).plural, meta["namespace"], meta["name"],
                         injected, timeout, recheck=SELECTION_GRACE)
    except WaitTimeout as late:
        view = summarise(late.last or manifest)
        raise NotInjected(
            f"{where} was not confirmed injected within {format_duration(timeout)} "
            f"(state {view['state']}, {view['injected_count']} of {view['selected_count']} "
            "selected container(s) injected)"
        ) from None
    assert found is not None
    return found


def _preview(
    api: ChaosMeshApi, manifests: list[dict[str, Any]], policy: Policy
) -> list[dict[str, Any]]:
    """Each manifest with the pods it would select, checked against the policy's pod counts."""
    previews = []
    for manifest in manifests:
        matched: dict[str, int] = {}
        pods: list[dict[str, Any]] = []
        for where, spec in selections(manifest):
            found = matching_pods(api, spec.get("selector") or {}, manifest["metadata"]["namespace"])
            matched[where] = len(found)
            pods.extend(found)
        enforce(manifest, policy, matched)
        previews.append({"manifest": manifest, "pods": pods, "matched": matched})
    return previews


def _refuse_empty_selection(api: ChaosMeshApi, manifest: dict[str, Any],
                            matched: dict[str, int] | None) -> None:
    """Refuse a fault whose selector matches no pod now, before creating it.

    Only faults: a Schedule or a Workflow may select pods that appear later.
    Without permission to list pods the check is left to the status, which
    says the same within ``SELECTION_GRACE`` seconds of the create.
    """
    if not kind_of(manifest["kind"]).is_chaos and manifest["kind"] != "ChaosEngine":
        return
    namespace = manifest["metadata"]["namespace"]
    for where, spec in selections(manifest):
        selector = spec.get("selector") or {}
        if matched is not None and where in matched:
            count = matched[where]
        else:
            try:
                count = len(matching_pods(api, selector, namespace))
            except FaultFailed:  # e.g. HTTP 403: the status will tell
                return
        if count == 0:
            namespaces = ",".join(selector_namespaces(selector, namespace))
            raise NotInjected(
                f"{where} would select no pod: selector ({describe_selector(selector)}) matches "
                f"nothing in namespace(s) {namespaces}; {manifest['kind']} {namespace}/"
                f"{manifest['metadata']['name']} was not created"
            )


def deadline_of(manifest: dict[str, Any]) -> tuple[float | None, bool]:
    """When an object's chaos ends, in seconds from now, and whether chaosllm must end it.

    A fault ends at its ``duration``, a Workflow at its entry's
    ``deadline`` (Chaos Mesh stops both) and a Litmus ChaosEngine at its
    experiments' ``TOTAL_CHAOS_DURATION`` (Litmus stops it); a Schedule runs until removed,
    so its ``chaosllm.io/lifetime`` annotation is a deadline chaosllm enforces.
    """
    spec = manifest.get("spec") or {}
    kind = manifest["kind"]
    if kind == "Schedule":
        lifetime = ((manifest["metadata"].get("annotations") or {}).get(LIFETIME_ANNOTATION))
        return (parse_duration(lifetime, LIFETIME_ANNOTATION) if lifetime else None), True
    if kind == "ChaosEngine":  # Litmus stops each experiment at its TOTAL_CHAOS_DURATION (seconds)
        seconds = [engine_env(e).get("TOTAL_CHAOS_DURATION", "") for e in spec.get("experiments") or []]
        numbers = [float(s) for s in seconds if s.strip().isdigit()]
        return (max(numbers) if numbers else None), False
    if kind == "Workflow":
        entry: dict[str, Any] = next(
            (t for t in spec.get("templates") or [] if t.get("name") == spec.get("entry")), {})
        return (parse_duration(entry["deadline"]) if entry.get("deadline") else None), False
    return (parse_duration(spec["duration"]) if spec.get("duration") else None), False


def submit(
    manifests: list[dict[str, Any]],
    wait: bool,
    timeout: float,
    dry_run: bool,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
    action: str = "apply Chaos Mesh manifest",
) -> list[dict[str, Any]]:
    """Create every manifest (all or nothing) and confirm the chaos ones.

    Returns one entry per manifest: the created object, or in a dry run
    ``{"manifest", "pods", "server_validated"}``.
    """
    policy = policy_from(None, configuration, secrets)
    for manifest in manifests:
        enforce(manifest, policy)  # before even connecting
    with chaos_mesh_api(action, configuration, secrets) as api:
        previews = None
        if dry_run or policy.needs_pod_count:
            previews = _preview(api, manifests, policy)
        if dry_run:
            assert previews is not None
            for preview in previews:
                manifest = preview.pop("manifest")
                plural = kind_of(manifest["kind"]).plural
                answer = api.create(plural, manifest["metadata"]["namespace"], manifest, dry_run=True)
                preview.pop("matched")
                preview.update(manifest=manifest, server_validated=answer is not None,
                               exists=answer is None)
            return previews
        for index, manifest in enumerate(manifests):
            _refuse_empty_selection(api, manifest, previews[index]["matched"] if previews else None)
        refuse_if_halted(api, action, configuration, secrets)
        created: list[dict[str, Any]] = []
        try:
            for manifest in manifests:
                created.append(_create_recorded(api, manifest, secrets))
            if wait:
                for entry in created:
                    kind = entry["manifest"]["kind"]
                    if kind_of(kind).is_chaos or kind == "Workflow":
                        entry["object"] = _confirm(api, entry["manifest"], timeout)
        except BaseException as exc:  # also Ctrl-C and unexpected errors: nothing is left behind
            _undo(api, created, exc)
            raise
        return created


def _create_recorded(
    api: ChaosMeshApi, manifest: dict[str, Any], secrets: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Record the object in the fault ledger, then create it; a failed create leaves no entry."""
    deadline, healer = deadline_of(manifest)
    record_object(manifest, api.host, deadline, healer, secrets)
    meta = manifest["metadata"]
    try:
        obj, replaced = _create(api, manifest)
    except BaseException:
        forget_objects([(manifest["kind"], meta["namespace"], meta["name"])])
        raise
    return {"object": obj, "replaced": replaced, "manifest": manifest}


def _undo(api: ChaosMeshApi, created: list[dict[str, Any]], cause: BaseException) -> None:
    """Remove what this call created; a chaosllm error says so, or that removing failed too."""
    problems = []
    for entry in reversed(created):
        meta = entry["manifest"]["metadata"]
        try:
            remove(api, entry["manifest"]["kind"], meta["namespace"], meta["name"], True,
                   REMOVE_TIMEOUT)
        except Exception as exc:
            problems.append(str(exc))
    if created and isinstance(cause, ChaosLLMError):
        suffix = "; it was removed" if not problems else "; removing it failed too: " + "; ".join(problems)
        cause.args = (str(cause) + suffix, *cause.args[1:])


def submit_fault(manifest: dict[str, Any], common: Common) -> dict[str, Any]:
    """Submit one fault action's manifest and return its fault handle."""
    meta, spec = manifest["metadata"], manifest["spec"]
    target = f"{meta['namespace']}: {describe_selector(spec.get('selector') or {})}"
    results = submit([manifest], common.wait, common.timeout, common.dry_run,
                     common.configuration, common.secrets, f"inject {manifest['kind']}")
    result = results[0]
    if common.dry_run:
        return {"dry_run": True, "kind": manifest["kind"], "name": meta["name"],
                "namespace": meta["namespace"], "target": target, **result,
                "would_touch": {"matching_pods": len(result["pods"])},
                EFFECT_KEY: "none", EVIDENCE_KEY: {"reason": "dry run"}}
    handle = fault_handle(manifest["kind"], meta["name"], target, spec, common.duration)
    handle.update(namespace=meta["namespace"], replaced=result["replaced"],
                  status=summarise(result["object"]) if common.wait else None)
    handle.update(injection_effect(result["object"], "" if common.wait else
                                   "not waited for injection (wait is false)"))
    return handle
