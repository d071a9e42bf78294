"""Chaos Mesh probes: a normalised status, waits for injection and recovery, a listing,
and evidence criteria (pods injected, a Prometheus metric within the fault's window)."""

from __future__ import annotations

from typing import Any

from chaosllm._clients.k8s import ChaosMeshApi, chaos_mesh_api
from chaosllm.arguments import strict
from chaosllm.chaosmesh._evidence import (
    BOUNDS,
    Criteria,
    fault_window,
    injected_pods,
    judge_checks,
    judge_metric,
    parse_checks,
    window_fields,
    window_reader,
)
from chaosllm.chaosmesh._kinds import CHAOS_KINDS, KINDS, Kind, kind_of
from chaosllm.chaosmesh._spec import MANAGED_BY
from chaosllm.chaosmesh._status import injection_state, is_recovered, summarise
from chaosllm.chaosmesh._submit import SELECTION_GRACE, WaitTimeout, injection_check, wait_for
from chaosllm.errors import InvalidArgument, NotInjected
from chaosllm.faults import format_duration, parse_duration

__all__ = ["chaos_status", "wait_for_injection", "wait_for_recovery", "list_chaos", "pods_injected",
           "metric_during_fault"]


@strict
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


def _await(
    api: ChaosMeshApi, spec: Kind, namespace: str, name: str, seconds: float, want: str
) -> dict[str, Any] | None:
    """The object once its injection (or recovery) is confirmed; NotInjected after ``seconds``."""
    where = f"{spec.kind} {namespace}/{name}"
    done = is_recovered if want == "recovery" else injection_check(where, namespace)
    try:
        return wait_for(api, spec.plural, namespace, name, done, seconds, SELECTION_GRACE)
    except WaitTimeout as late:
        state = injection_state(late.last) if late.last else "absent"
        raise NotInjected(
            f"{where}: no {want} within {format_duration(seconds)} (state {state})"
        ) from None


def _wait(
    kind: str, name: str, namespace: str, timeout: str, want: str,
    configuration: dict[str, Any] | None, secrets: dict[str, Any] | None,
) -> dict[str, Any]:
    spec = kind_of(kind)
    seconds = parse_duration(timeout, "timeout")
    where = f"{spec.kind} {namespace}/{name}"
    with chaos_mesh_api(f"wait for {want} of {where}", configuration, secrets) as api:
        obj = _await(api, spec, namespace, name, seconds, want)
    if obj is None:
        return {"kind": spec.kind, "name": name, "namespace": namespace, "state": "absent",
                "recovered": True}
    return summarise(obj)


@strict
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


@strict
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


@strict
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


@strict
def pods_injected(
    kind: str,
    name: str,
    namespace: str = "default",
    at_least: int = 1,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """How many pods the fault's records say were injected; fails below `at_least`.

    Counted from Chaos Mesh's own container records (a record whose phase is
    Injected, or that was injected once), so a fault whose selector matched
    nothing, or that never bit, fails the run instead of passing it. Returns
    `{"pods_injected": 2, "pods_selected": 2, "pods": "ns/a,ns/b", "state": ...}`.

    ```json
    {"type": "probe", "name": "two-gateway-pods-killed",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "pods_injected",
                  "arguments": {"kind": "PodChaos", "name": "gateway-pod-kill",
                                "namespace": "shop", "at_least": 2}}}
    ```
    """
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
        raise InvalidArgument(f"at_least must be a whole number of pods, 1 or more, got {at_least!r}")
    spec = kind_of(kind)
    where = f"{spec.kind} {namespace}/{name}"
    with chaos_mesh_api(f"read {where}", configuration, secrets) as api:
        obj = api.get(spec.plural, namespace, name)
    return {"kind": spec.kind, "name": name, "namespace": namespace,
            **injected_pods(obj, where, at_least)}  # fmt: skip


@strict
def metric_during_fault(
    kind: str,
    name: str,
    query: str | None = None,
    namespace: str = "default",
    aggregate: str = "max",
    at_least: float | str | None = None,
    at_most: float | str | None = None,
    rise_at_least: float | str | None = None,
    ratio_at_most: float | str | None = None,
    step: str = "5s",
    series: str | None = None,
    slo_file: str | None = None,
    prometheus_base_url: str | None = None,
    checks: list[dict[str, Any]] | None = None,
    pods_at_least: int | None = None,
    recovered_within: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check Prometheus metrics within the fault's real window; fails when one does not hold.

    The window is read from the Chaos Mesh object's records: from the first
    injection to the recovery of every record, or to now while the fault
    holds. `query` (one series) is read over that window every `step`, and
    its `aggregate` ("max", "min" or "mean") must be at least `at_least` and
    at most `at_most`; `rise_at_least` and `ratio_at_most` compare it with
    the mean over the same length of time just before the fault. Bounds are
    numbers, percentages ("1%") or durations ("400ms", in seconds). A fault
    that injected nothing, or a window with no sample (no traffic), fails:
    such a run must not pass.

    Instead of `query`, `series` may name a series of the SLO file's
    `metrics` list (the SLO file is `slo_file`, or the setting `slo_file`,
    `$CHAOSLLM_SLO_FILE`): its query, as the metrics control records it
    (an `slo` entry over its `window`), so that experiments on one target
    share their queries and what is judged is what the report charts.

    `checks` judges several series over one window instead: a list of
    `{"series" or "query", "aggregate", bounds, "name"}` (the top-level
    query, series, aggregate and bounds are then not given). The result has
    each check's value under `checks`; a miss names every check that missed.
    `pods_at_least` also requires that many pods injected (as
    `pods_injected`), and `recovered_within` first waits up to that long for
    every record to recover (else fails), so that the whole window is judged.

    ```json
    {"type": "probe", "name": "database-round-trip-rose-by-400ms",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "metric_during_fault",
                  "arguments": {"kind": "NetworkChaos", "name": "db-latency-500ms",
                                "namespace": "shop", "aggregate": "mean",
                                "query": "avg(rate(db_seconds_sum[30s]) / rate(db_seconds_count[30s]))",
                                "rise_at_least": "400ms"}}}
    ```

    ```json
    {"type": "probe", "name": "traffic-during-the-fault",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "metric_during_fault",
                  "arguments": {"kind": "NetworkChaos", "name": "db-latency-500ms",
                                "namespace": "shop", "series": "requests/s",
                                "aggregate": "min", "at_least": 0.1}}}
    ```

    ```json
    {"type": "probe", "name": "during-the-pod-kills",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes",
                  "func": "metric_during_fault",
                  "arguments": {"kind": "PodChaos", "name": "gateway-pod-kill",
                                "namespace": "shop", "pods_at_least": 2,
                                "recovered_within": "30s",
                                "checks": [
                                  {"series": "error ratio", "at_most": "1%"},
                                  {"series": "requests/s", "aggregate": "min", "at_least": 0.1}]}}}
    ```
    """
    from chaosllm._clients.prometheus import prometheus_api, resolve_base_url
    from chaosllm.slo.refs import series_query

    def resolve(named: str) -> str:
        return series_query(named, slo_file, configuration, secrets)

    if pods_at_least is not None and pods_at_least < 1:
        raise InvalidArgument(f"pods_at_least must be a whole number of pods, 1 or more, "
                              f"got {pods_at_least!r}")
    wait = None if recovered_within is None else parse_duration(recovered_within, "recovered_within")
    single = {"query": query, "series": series,
              **dict(zip(BOUNDS, (at_least, at_most, rise_at_least, ratio_at_most), strict=True))}
    if checks is not None:
        both = [key for key, value in single.items() if value is not None]
        both += ["aggregate"] if aggregate != "max" else []
        if both:
            raise InvalidArgument(f"give either 'checks' or the top-level "
                                  f"{', '.join(repr(key) for key in both)}, not both: each check states "
                                  "its own series or query, aggregate and bounds")  # fmt: skip
        judged = [check.resolved(resolve) for check in parse_checks(checks)]
    else:
        criteria = Criteria(aggregate, at_least, at_most, rise_at_least, ratio_at_most)
        if (query is None) == (series is None):
            raise InvalidArgument("give exactly one of 'query' (PromQL) and 'series' (a series of the "
                                  "SLO file's 'metrics' list)")
        query = resolve(series) if query is None and series is not None else query
    resolve_base_url(prometheus_base_url, configuration, secrets)  # no Prometheus set: refused first
    every = parse_duration(step, "step")
    if every <= 0:
        raise InvalidArgument(f"step must be above 0, got {step!r}")
    spec = kind_of(kind)
    where = f"{spec.kind} {namespace}/{name}"
    out: dict[str, Any] = {"kind": spec.kind, "name": name, "namespace": namespace}
    doing = f"read {where}" if wait is None else f"wait for recovery of {where}"
    with chaos_mesh_api(doing, configuration, secrets) as api:
        if wait is None:
            obj = api.get(spec.plural, namespace, name)
        else:
            obj = _await(api, spec, namespace, name, wait, "recovery")
            out["recovered"] = True
    if pods_at_least is not None:
        pods = injected_pods(obj, where, pods_at_least)
        out.update({key: pods[key] for key in ("pods_injected", "pods_selected", "pods")})
    start, end, ended = fault_window(obj, where)
    length = max(end - start, 1.0)
    end = start + length
    every = min(every, max(length / 2, 0.5))
    window = window_fields(start, end, ended)
    reading = f"read {query!r}" if checks is None else f"read {len(judged)} checks"
    with prometheus_api(f"{reading} during {where}", prometheus_base_url, configuration, secrets) as prom:
        over = window_reader(prom, start, end, every)
        if checks is not None:
            return {**out, **window, "checks": judge_checks(judged, over, where), "met": True}
        assert query is not None
        what = f"{series!r} during {where}" if series is not None else f"metric during {where}"
        result = judge_metric(criteria, *over(query, criteria.needs_baseline), what)
    return {**out, "query": query, **({"series": series} if series is not None else {}), **window,
            **result}  # fmt: skip
