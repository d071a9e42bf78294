"""Sandbox probes: what the load saw, order consistency, replicas and recovery.

The load probes read the results of a load run (see ``start_load``); they
live in :mod:`chaosllm.sandbox._load` and are re-exported here, where
experiments name them. Their ``window`` keeps only the requests due in the
last part of the run ("30s"). The other probes read the sandbox state file,
the supervisor's event log and Prometheus; their ``window`` defaults to
"since the current load run started", which is the start of the experiment
when the load control runs it, so that one scenario never judges the faults
of the previous one.
"""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.faults import parse_duration
from chaosllm.sandbox._llm import llm_failover, primary_answering
from chaosllm.sandbox._load import (
    failed_requests,
    latency_degradation,
    latency_degrades_less_than,
    load_error_ratio,
    load_latency,
    load_stats,
    load_throughput,
    requests_flow,
)
from chaosllm.sandbox.app import counters, events, front, loadrun
from chaosllm.sandbox.app.loadrun import read_results
from chaosllm.sandbox.app.orders import compare_billing, compare_orders
from chaosllm.sandbox.app.state import read_state, run_dir, status
from chaosllm.slo._criterion import criterion

__all__ = [
    # What the load generator saw.
    "load_stats", "failed_requests", "load_error_ratio", "load_latency", "load_throughput",
    "latency_degradation", "requests_flow", "latency_degrades_less_than",
    # Data consistency.
    "order_consistency", "orders_consistent", "completions_billed",
    # The route to the model providers.
    "llm_failover", "primary_answering",
    # Processes, replicas and the supervisor's recovery and scaling.
    "services_running", "gateway_healthy", "ready_replicas", "recovery_seconds", "replica_exits",
    "scale_events", "scale_out_seconds", "scale_out_within",
    # Resilience patterns at work, and the data path healed.
    "breaker_trips", "fallback_serves", "catalog_fresh", "recommendations_source",
    "dependency_slowdown",
]


@strict
def order_consistency(
    name: str = "load",
    timeout: str = "30s",
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compare the orders the gateway accepted during load run `name` with the
    rows in PostgreSQL, waiting up to `timeout` for the queue to drain.

    ```json
    {"type": "probe", "name": "orders-persisted",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "order_consistency", "arguments": {"timeout": "30s"}}}
    ```
    """
    directory = run_dir(configuration, secrets)
    accepted = loadrun.accepted_orders(read_results(directory, name))
    dsn = postgres_dsn or read_state(directory)["settings"]["postgres_dsn"]
    return compare_orders(accepted, dsn, parse_duration(timeout, "timeout"), configuration, secrets)


@strict
def orders_consistent(
    name: str = "load",
    timeout: str = "30s",
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when every order accepted during the run is in PostgreSQL exactly once.

    ```json
    {"type": "probe", "name": "every-order-persisted-once", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "orders_consistent", "arguments": {"timeout": "30s"}}}
    ```
    """
    return bool(order_consistency(name, timeout, postgres_dsn, configuration, secrets)["consistent"])


@strict
def completions_billed(
    name: str = "load",
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compare the completions answered during load run `name` with their
    billing rows: `met` is true when every answered completion was billed
    exactly once, to the provider that answered it (false when no completion
    was answered).

    ```json
    {"type": "probe", "name": "billed-once",
     "tolerance": {"type": "probe", "name": "met",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "slo_met", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "completions_billed"}}
    ```
    """
    directory = run_dir(configuration, secrets)
    answered = loadrun.answered_completions(read_results(directory, name))
    dsn = postgres_dsn or read_state(directory)["settings"]["postgres_dsn"]
    return compare_billing(answered, dsn, configuration, secrets)


@strict
def services_running(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when every process the sandbox started is alive (no crash).

    ```json
    {"type": "probe", "name": "no-crash", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "services_running"}}
    ```
    """
    rows = status(run_dir(configuration, secrets))["services"]
    return bool(rows) and all(r["running"] for r in rows)


@strict
def gateway_healthy(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """Health check: the front is up, a replica is ready and a catalog query answers.

    ```json
    {"type": "probe", "name": "health-checks-pass", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "gateway_healthy"}}
    ```
    """
    return front.healthy(run_dir(configuration, secrets))


@strict
def ready_replicas(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many gateway replicas answer their health check now.

    ```json
    {"type": "probe", "name": "replicas",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "ready_replicas"}}
    ```
    """
    code, health = front.ask(run_dir(configuration, secrets), "/healthz")
    return int(health["ready_replicas"]) if health else 0


def _events(configuration: Any, secrets: Any, window: str | None) -> list[dict[str, Any]]:
    directory = run_dir(configuration, secrets)
    return events.read_events(directory, loadrun.since(directory, window))


@strict
def recovery_seconds(
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Longest time from a replica's exit to its replacement being ready, over
    the exits in `window`; a replica not ready yet counts the time
    since its exit. 0 when no replica exited.

    ```json
    {"type": "probe", "name": "recovery-under-30s",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "recovery_seconds", "arguments": {"window": "2m"}}}
    ```
    """
    return events.longest_recovery(_events(configuration, secrets, window))


@strict
def replica_exits(
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Gateway replicas that exited in `window` (killed, crashed, OOM-killed).

    ```json
    {"type": "probe", "name": "no-oom-kill", "tolerance": 0,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "replica_exits", "arguments": {"window": "1m"}}}
    ```
    """
    return events.count(_events(configuration, secrets, window), "replica_exited")


@strict
def scale_events(
    direction: str = "up",
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Autoscaler decisions ("up" or "down") in `window`.

    ```json
    {"type": "probe", "name": "scaled-out",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "scale_events", "arguments": {"direction": "up", "window": "60s"}}}
    ```
    """
    return events.count(_events(configuration, secrets, window), f"scale_{direction}")


@strict
def scale_out_seconds(
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Seconds from the start of the first sustained CPU pressure in
    `window` to the autoscaler's next scale-up; 0 when there was no sustained
    pressure or the gateway already ran its maximum of replicas, null when
    there was pressure but no scale-up.

    ```json
    {"type": "probe", "name": "scale-out-within-60s",
     "tolerance": {"type": "probe", "name": "under-60s",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "below", "arguments": {"threshold": "60s"}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "scale_out_seconds", "arguments": {"window": "2m"}}}
    ```
    """
    return events.scale_out_delay(_events(configuration, secrets, window))


@strict
def scale_out_within(
    within: str = "60s",
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """"The autoscaler adds a replica within `within` of sustained CPU
    pressure": `met` when `scale_out_seconds` (given as `seconds`) is under
    `within`; not when there was pressure and no scale-up (`seconds` null).

    ```json
    {"type": "probe", "name": "scale-out-within-60s", "tolerance": ["met"],
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "scale_out_within", "arguments": {"within": "60s"}}}
    ```
    """
    limit = parse_duration(within, "within")
    seconds = events.scale_out_delay(_events(configuration, secrets, window))
    return criterion(seconds is not None and seconds < limit, seconds=seconds, within_seconds=limit)


@strict
def breaker_trips(
    dependency: str,
    window: str | None = None,
    min_failures: int = 5,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """"Breakers open when the dependency fails", read from Prometheus:
    `met` is true when calls to `dependency` failed at least `min_failures`
    times in `window` and its circuit breaker opened. While they did not
    fail (before any fault), `applicable` is false and `met` true.

    ```json
    {"type": "probe", "name": "database-breaker-opens",
     "tolerance": {"type": "probe", "name": "met",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "slo_met", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "breaker_trips", "arguments": {"dependency": "postgres"}}}
    ```
    """
    return counters.failures_imply(counters.BREAKER_OPENS, dependency, run_dir(configuration, secrets),
                                   window, min_failures, configuration, secrets, "error")  # fmt: skip


@strict
def fallback_serves(
    dependency: str,
    window: str | None = None,
    min_failures: int = 5,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`met` is true when `dependency` failed in `window` and the gateway
    answered from a fallback (stale cache, popular models); `applicable` is
    false (and `met` true) while it did not fail.

    ```json
    {"type": "probe", "name": "fallbacks-serve",
     "tolerance": {"type": "probe", "name": "met",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "slo_met", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "fallback_serves", "arguments": {"dependency": "postgres"}}}
    ```
    """
    return counters.failures_imply(counters.FALLBACKS, dependency, run_dir(configuration, secrets),
                                   window, min_failures, configuration, secrets)  # fmt: skip


@strict
def catalog_fresh(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when the catalog is served from the cache or PostgreSQL again, not
    from a stale copy or the built-in list (the data path has healed).

    ```json
    {"type": "probe", "name": "catalog-fresh-again", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "catalog_fresh"}}
    ```
    """
    code, answer = front.graphql(run_dir(configuration, secrets), "{ catalog { source } }")
    return code == 200 and answer["data"]["catalog"]["source"] in ("cache", "database")


@strict
def recommendations_source(
    tenant: str = "acme",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> str:
    """Who answered a recommendations query now: "ml-recs", or "fallback".

    ```json
    {"type": "probe", "name": "recs-recovered", "tolerance": "ml-recs",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "recommendations_source"}}
    ```
    """
    query = 'query($t: ID!) { recommendations(tenantId: $t) { source } }'
    code, answer = front.graphql(run_dir(configuration, secrets), query, {"t": tenant})
    if code != 200 or not answer:
        return f"error {code}"
    return str(answer["data"]["recommendations"]["source"])


@strict
def dependency_slowdown(
    dependency: str = "postgres",
    at_least: str = "400ms",
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Whether the mean round trip to `dependency` rose by `at_least` in
    `window` (from its lowest to its highest 10 s mean). `applicable` is
    false (and `met` true) until the fault proxy of the same name has had a
    fault in this run, so that it is never a pass before the fault.

    ```json
    {"type": "probe", "name": "database-round-trip-rose",
     "tolerance": {"type": "probe", "name": "met",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "slo_met", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "dependency_slowdown",
                  "arguments": {"dependency": "postgres", "at_least": "400ms"}}}
    ```
    """
    wanted = parse_duration(at_least, "at_least")
    directory = run_dir(configuration, secrets)
    if not counters.proxy_fault_since(dependency, directory, configuration, secrets):
        return criterion(True, applicable=False, reason=f"no fault on proxy {dependency} in this run yet")
    low, high = counters.round_trip_rise(dependency, directory, window, configuration, secrets)
    rise = high - low
    return criterion(rise >= wanted, rise_ms=round(rise * 1000, 1), lowest_ms=round(low * 1000, 1),
                     highest_ms=round(high * 1000, 1))
