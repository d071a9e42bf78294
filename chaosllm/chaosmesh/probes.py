"""Chaos Mesh probes: a normalised status, waits for injection and recovery, and a listing."""

from __future__ import annotations

from typing import Any

from chaosllm._clients.k8s import chaos_mesh_api
from chaosllm.chaosmesh._kinds import CHAOS_KINDS, KINDS, kind_of
from chaosllm.chaosmesh._spec import MANAGED_BY
from chaosllm.chaosmesh._status import injection_state, is_recovered, summarise
from chaosllm.chaosmesh._submit import SELECTION_GRACE, WaitTimeout, injection_check, wait_for
from chaosllm.errors import NotInjected
from chaosllm.faults import format_duration, parse_duration

__all__ = ["chaos_status", "wait_for_injection", "wait_for_recovery", "list_chaos"]


def chaos_status(
    kind: str,
    name: str,
    namespace: str = "default",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A normalised view of one object: state, selected/injected/recovered counts, conditions, last events.

    `state` is "injected", "pending", "not-selected", "paused", "deleting"
    or "absent" (no such object); for a Workflow "pending", "running",
    "accomplished" or "aborted".

    ```json
    {"type": "probe", "name": "delay-status",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "chaos_status",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    spec = kind_of(kind)
    with chaos_mesh_api(f"read {spec.kind} {namespace}/{name}", configuration, secrets) as api:
        obj = api.get(spec.plural, namespace, name)
    if obj is None:
        return {"kind": spec.kind, "name": name, "namespace": namespace, "state": "absent"}
    return summarise(obj)


def _wait(
    kind: str, name: str, namespace: str, timeout: str, want: str,
    configuration: dict[str, Any] | None, secrets: dict[str, Any] | None,
) -> dict[str, Any]:
    spec = kind_of(kind)
    seconds = parse_duration(timeout, "timeout")
    where = f"{spec.kind} {namespace}/{name}"
    done = is_recovered if want == "recovery" else injection_check(where, namespace)

    with chaos_mesh_api(f"wait for {want} of {where}", configuration, secrets) as api:
        try:
            obj = wait_for(api, spec.plural, namespace, name, done, seconds, SELECTION_GRACE)
        except WaitTimeout as late:
            state = injection_state(late.last) if late.last else "absent"
            raise NotInjected(
                f"{where}: no {want} within {format_duration(seconds)} (state {state})"
            ) from None
    if obj is None:
        return {"kind": spec.kind, "name": name, "namespace": namespace, "state": "absent",
                "recovered": True}
    return summarise(obj)


def wait_for_injection(
    kind: str,
    name: str,
    namespace: str = "default",
    timeout: str = "60s",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait until every selected container is injected; fails if nothing was selected.

    ```json
    {"type": "probe", "name": "delay-injected",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "wait_for_injection",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop", "timeout": "30s"}}}
    ```
    """
    return _wait(kind, name, namespace, timeout, "injection", configuration, secrets)


def wait_for_recovery(
    kind: str,
    name: str,
    namespace: str = "default",
    timeout: str = "60s",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait until the fault is over: every record recovered, or the object gone.

    ```json
    {"type": "probe", "name": "delay-recovered",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "wait_for_recovery",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop", "timeout": "2m"}}}
    ```
    """
    return _wait(kind, name, namespace, timeout, "recovery", configuration, secrets)


def list_chaos(
    namespace: str | None = None,
    kinds: list[str] | None = None,
    managed_only: bool = True,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """List Chaos Mesh objects (by default only chaosllm's) with their normalised status.

    ```json
    {"type": "probe", "name": "active-chaos",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "list_chaos", "arguments": {"namespace": "shop"}}}
    ```
    """
    wanted = [kind_of(k) for k in kinds] if kinds else [*CHAOS_KINDS, KINDS["Schedule"],
                                                        KINDS["Workflow"]]
    label = f"{MANAGED_BY[0]}={MANAGED_BY[1]}" if managed_only else None
    found = []
    with chaos_mesh_api(f"list chaos in {namespace or 'all namespaces'}", configuration,
                        secrets) as api:
        for kind in wanted:
            for obj in api.list(kind.plural, namespace, label):
                obj.setdefault("kind", kind.kind)
                found.append(summarise(obj))
    return found
