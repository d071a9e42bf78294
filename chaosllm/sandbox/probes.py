"""Sandbox probes: what the load saw, order consistency, replicas and recovery.

Load probes read the results of a load run (see ``start_load``); ``window``
keeps only the requests due in the last part of the run ("30s"). Other
probes read the sandbox state file, the supervisor's event log and
Prometheus; their ``window`` defaults to "since the current load run
started", which is the start of the experiment when the load control runs
it, so that one scenario never judges the faults of the previous one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chaosllm.errors import TargetUnreachable
from chaosllm.faults import parse_duration
from chaosllm.sandbox import _load
from chaosllm.sandbox._load import accepted_orders, read_results, summarise
from chaosllm.sandbox.stack import read_state, run_dir, status

__all__ = [
    "load_stats",
    "failed_requests",
    "load_error_ratio",
    "load_latency",
    "load_throughput",
    "latency_degradation",
    "order_consistency",
    "orders_consistent",
    "services_running",
    "gateway_healthy",
    "ready_replicas",
    "recovery_seconds",
    "replica_exits",
    "scale_events",
    "scale_out_seconds",
    "breaker_trips",
    "fallback_serves",
    "catalog_fresh",
    "recommendations_source",
]


def _ops(ops: str | list[str] | None) -> list[str] | None:
    return ops.split(",") if isinstance(ops, str) else ops


def load_stats(
    name: str = "load",
    window: str | None = None,
    ops: str | list[str] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Requests, failures, error ratio, throughput and latency quantiles of a load run.

    ```json
    {"type": "probe", "name": "load-so-far",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "load_stats", "arguments": {"window": "30s"}}}
    ```
    """
    return summarise(read_results(run_dir(configuration, secrets), name, window, _ops(ops)))


def failed_requests(
    name: str = "load",
    window: str | None = None,
    ops: str | list[str] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many requests of the run failed (error answer, refused, timed out).

    ```json
    {"type": "probe", "name": "no-failed-requests", "tolerance": 0,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "failed_requests"}}
    ```
    """
    rows = read_results(run_dir(configuration, secrets), name, window, _ops(ops))
    return sum(1 for r in rows if not r.get("ok"))


def load_error_ratio(
    name: str = "load",
    window: str | None = None,
    ops: str | list[str] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Failed / all requests seen by the load generator; null with no requests.

    ```json
    {"type": "probe", "name": "client-error-ratio",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "load_error_ratio", "arguments": {"window": "30s"}}}
    ```
    """
    return load_stats(name, window, ops, configuration, secrets)["error_ratio"]  # type: ignore[no-any-return]


def load_latency(
    name: str = "load",
    quantile: float = 0.95,
    window: str | None = None,
    ops: str | list[str] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Client-side latency quantile in seconds, measured from each request's due time.

    ```json
    {"type": "probe", "name": "client-p95",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "load_latency", "arguments": {"quantile": 0.95, "window": "30s"}}}
    ```
    """
    rows = read_results(run_dir(configuration, secrets), name, window, _ops(ops))
    return _load.quantile([float(r["lat"]) for r in rows], quantile)


def load_throughput(
    name: str = "load",
    window: str = "10s",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Successful requests per second over the last `window` (requests keep flowing).

    ```json
    {"type": "probe", "name": "requests-flow",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "load_throughput", "arguments": {"window": "10s"}}}
    ```
    """
    seconds = parse_duration(window, "window")
    rows = read_results(run_dir(configuration, secrets), name, window)
    # The last second's requests may still be in flight; leave it out.
    recent = [r for r in rows if r["t"] < time.time() - 1.0]
    return round(sum(1 for r in recent if r.get("ok")) / max(seconds - 1.0, 1.0), 2)


def latency_degradation(
    name: str = "load",
    quantile: float = 0.95,
    baseline: str = "10s",
    window: str = "20s",
    floor: str = "50ms",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Latency quantile of the last `window` divided by that of the run's first
    `baseline` seconds (before any fault). Baselines below `floor` count as
    `floor`: doubling a few milliseconds is scheduling noise, not degradation.

    ```json
    {"type": "probe", "name": "latency-degradation",
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "latency_degradation",
                  "arguments": {"baseline": "10s", "window": "20s"}}}
    ```
    """
    rows = read_results(run_dir(configuration, secrets), name)
    if not rows:
        return None
    start = min(r["t"] for r in rows)
    first = [float(r["lat"]) for r in rows if r["t"] < start + parse_duration(baseline)]
    since = time.time() - parse_duration(window, "window")
    last = [float(r["lat"]) for r in rows if r["t"] >= since]
    before, now = _load.quantile(first, quantile), _load.quantile(last, quantile)
    if before is None or now is None:
        return None
    return round(now / max(before, parse_duration(floor, "floor")), 3)


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
    from chaosllm._clients.postgres import postgres_connection

    directory = run_dir(configuration, secrets)
    accepted = accepted_orders(read_results(directory, name))
    dsn = postgres_dsn or read_state(directory)["settings"]["postgres_dsn"]
    deadline = time.monotonic() + parse_duration(timeout, "timeout")
    while True:
        with postgres_connection("check orders", dsn, configuration, secrets) as conn:
            rows = conn.execute(
                "SELECT order_id, count(*) FROM orders WHERE order_id = ANY(%s) GROUP BY order_id",
                (accepted,),
            ).fetchall()
        persisted = {r[0]: r[1] for r in rows}
        missing = [o for o in accepted if o not in persisted]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    duplicates = sum(1 for c in persisted.values() if c > 1)
    return {"accepted": len(accepted), "persisted": len(persisted), "missing": len(missing),
            "duplicates": duplicates, "missing_sample": missing[:5],
            "consistent": not missing and not duplicates}  # fmt: skip


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
    result = order_consistency(name, timeout, postgres_dsn, configuration, secrets)
    return bool(result["consistent"])


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


def _front(configuration: Any, secrets: Any) -> str:
    return str(read_state(run_dir(configuration, secrets))["settings"]["gateway_url"])


def _get_json(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError as exc:
        raise TargetUnreachable(f"could not reach the sandbox gateway at {url}: {exc}") from exc


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
    url = _front(configuration, secrets)
    try:
        code, health = _get_json(url + "/healthz")
        if code != 200 or not health.get("ready_replicas"):
            return False
        code, answer = _get_json(url + "/graphql", {"query": "{ catalog { models { id } } }"})
    except TargetUnreachable:
        return False
    return code == 200 and bool(answer.get("data", {}).get("catalog", {}).get("models"))


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
    code, health = _get_json(_front(configuration, secrets) + "/healthz")
    return int(health["ready_replicas"]) if health else 0


def _events(directory: Path, window: str | None) -> list[dict[str, Any]]:
    path = directory / "events.jsonl"
    if not path.exists():
        return []
    start = _load.since(directory, window)
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in events if e["t"] >= start]


def _promql_window(configuration: Any, secrets: Any, window: str | None) -> str:
    start = _load.since(run_dir(configuration, secrets), window)
    return f"{max(1, int(time.time() - start) + 1)}s" if start else "5m"


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
    events = _events(run_dir(configuration, secrets), window)
    pending: dict[int, float] = {}
    worst = 0.0
    for event in events:
        if event["event"] == "replica_exited":
            pending.setdefault(event["replica"], event["t"])
        elif event["event"] == "replica_ready" and event["replica"] in pending:
            worst = max(worst, event["t"] - pending.pop(event["replica"]))
    for exited_at in pending.values():
        worst = max(worst, time.time() - exited_at)
    return round(worst, 3)


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
    events = _events(run_dir(configuration, secrets), window)
    return sum(1 for e in events if e["event"] == "replica_exited")


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
    events = _events(run_dir(configuration, secrets), window)
    return sum(1 for e in events if e["event"] == f"scale_{direction}")


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
    events = _events(run_dir(configuration, secrets), window)
    pressure = next((e for e in events if e["event"] == "cpu_pressure"), None)
    if pressure is None:
        return 0.0
    since = float(pressure["since"])
    answer = next((e for e in events if e["event"] in ("scale_up", "scale_up_blocked")
                   and e["t"] >= since), None)  # fmt: skip
    if answer is None:
        return None
    # Already at the maximum: the autoscaler had scaled out before this pressure.
    return 0.0 if answer["event"] == "scale_up_blocked" else round(answer["t"] - since, 3)


def _increase(query: str, configuration: Any, secrets: Any) -> float:
    from chaosllm.slo.promql import query_number

    return float(query_number("read a counter", query, None, configuration, secrets) or 0.0)


def breaker_trips(
    dependency: str,
    window: str | None = None,
    min_failures: int = 5,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when calls to `dependency` did not fail in `window` (fewer
    than `min_failures`), or when they did and its circuit breaker opened:
    "breakers open when the dependency fails", read from Prometheus.

    ```json
    {"type": "probe", "name": "database-breaker-opens", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "breaker_trips", "arguments": {"dependency": "postgres"}}}
    ```
    """
    selector = f'dependency="{_label(dependency)}"'
    window = _promql_window(configuration, secrets, window)
    failures = _increase(f'sum(increase(sandbox_dependency_failures_total{{{selector},'
                         f'reason="error"}}[{window}]))', configuration, secrets)  # fmt: skip
    if failures < min_failures:
        return True
    return _increase(f"sum(increase(sandbox_circuit_breaker_opens_total{{{selector}}}[{window}]))",
                     configuration, secrets) > 0  # fmt: skip


def fallback_serves(
    dependency: str,
    window: str | None = None,
    min_failures: int = 5,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when `dependency` was not failing in `window`, or when it
    was and the gateway answered from a fallback (stale cache, popular models).

    ```json
    {"type": "probe", "name": "fallbacks-serve", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "fallback_serves", "arguments": {"dependency": "postgres"}}}
    ```
    """
    selector = f'dependency="{_label(dependency)}"'
    window = _promql_window(configuration, secrets, window)
    failures = _increase(f"sum(increase(sandbox_dependency_failures_total{{{selector}}}[{window}]))",
                         configuration, secrets)  # fmt: skip
    if failures < min_failures:
        return True
    return _increase(f"sum(increase(sandbox_fallbacks_total{{{selector}}}[{window}]))",
                     configuration, secrets) > 0  # fmt: skip


def _label(value: str) -> str:
    from chaosllm.errors import InvalidArgument

    if not isinstance(value, str) or not value.replace("-", "").isalnum():
        raise InvalidArgument(f"dependency {value!r} must be a name such as 'postgres' or 'ml-recs'")
    return value


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
    code, answer = _get_json(_front(configuration, secrets) + "/graphql",
                             {"query": "{ catalog { source } }"})  # fmt: skip
    return code == 200 and answer["data"]["catalog"]["source"] in ("cache", "database")


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
    code, answer = _get_json(_front(configuration, secrets) + "/graphql",
                             {"query": query, "variables": {"t": tenant}})  # fmt: skip
    if code != 200 or not answer:
        return f"error {code}"
    return str(answer["data"]["recommendations"]["source"])
