"""The application's Prometheus counters, read back: how much one rose over a window.

Probes judge "breakers open when a dependency fails" from the counters the
services export (``sandbox_dependency_failures_total``,
``sandbox_circuit_breaker_opens_total``, ``sandbox_fallbacks_total``, all
labelled by ``dependency``), over the current load run unless a window is
given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.sandbox.app.loadrun import since
from chaosllm.slo._criterion import criterion

__all__ = ["DEPENDENCY_FAILURES", "BREAKER_OPENS", "FALLBACKS", "ROUND_TRIP", "promql_range",
           "increase", "failures_imply", "round_trip_rise", "proxy_fault_since"]

DEPENDENCY_FAILURES = "sandbox_dependency_failures_total"
BREAKER_OPENS = "sandbox_circuit_breaker_opens_total"
FALLBACKS = "sandbox_fallbacks_total"
ROUND_TRIP = "sandbox_dependency_duration_seconds"


def promql_range(directory: Path, window: str | None) -> str:
    """``window``, or the time since the current load run started ("5m" when unknown)."""
    start = since(directory, window)
    return f"{max(1, int(time.time() - start) + 1)}s" if start else "5m"


def _label(value: str) -> str:
    if not isinstance(value, str) or not value.replace("-", "").isalnum():
        raise InvalidArgument(f"dependency {value!r} must be a name such as 'postgres' or 'ml-recs'")
    return value


def increase(counter: str, selector: str, window: str, configuration: Any, secrets: Any) -> float:
    """How much ``counter`` (summed over the series ``selector`` picks) rose in ``window``."""
    from chaosllm.slo.promql import query_number

    query = f"sum(increase({counter}{{{selector}}}[{window}]))"
    return float(query_number("read a counter", query, None, configuration, secrets) or 0.0)


def failures_imply(outcome: str, dependency: str, directory: Path, window: str | None,
                   min_failures: int, configuration: Any, secrets: Any,
                   failure_reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Whether the ``outcome`` counter rose when calls to ``dependency`` failed.

    ``applicable`` is False while they failed fewer than ``min_failures``
    times in ``window`` (with ``failure_reason`` only, if given): before any
    fault there is nothing to judge, and ``met`` is then True only so that
    a tolerance on it does not fail; a report shows it as not applicable.
    """
    selector = f'dependency="{_label(dependency)}"'
    window = promql_range(directory, window)
    failed = selector + (f',reason="{failure_reason}"' if failure_reason else "")
    failures = increase(DEPENDENCY_FAILURES, failed, window, configuration, secrets)
    if failures < min_failures:
        return criterion(True, applicable=False, failures=round(failures),
                         reason=f"calls to {dependency} failed fewer than {min_failures} times in the window")
    rose = increase(outcome, selector, window, configuration, secrets)
    return {**criterion(rose > 0, failures=round(failures)),
            outcome.removeprefix("sandbox_").removesuffix("_total"): round(rose)}


def round_trip_rise(dependency: str, directory: Path, window: str | None, configuration: Any,
                    secrets: Any) -> tuple[float, float]:
    """The lowest and highest mean round trip to ``dependency`` (seconds, over 10 s
    steps) in ``window``: how much a fault slowed it down."""
    from chaosllm.slo.promql import query_number

    selector = f'dependency="{_label(dependency)}"'
    mean = (f"(sum(rate({ROUND_TRIP}_sum{{{selector}}}[10s])) / "
            f"sum(rate({ROUND_TRIP}_count{{{selector}}}[10s])))")
    span = promql_range(directory, window)
    low, high = (query_number("read the round trip of " + dependency,
                              f"{agg}_over_time({mean}[{span}:1s])", None, configuration, secrets)
                 for agg in ("min", "max"))
    return float(low or 0.0), float(high or 0.0)


def proxy_fault_since(proxy: str, directory: Path, configuration: Any, secrets: Any) -> bool:
    """Whether the fault proxy had a toxic or a partition on ``proxy`` since the load run started."""
    from chaosllm._clients.proxy import path, proxy_api

    start = since(directory, None) or 0.0
    with proxy_api(f"read the faults of proxy {proxy}", None, configuration, secrets) as api:
        status, stats = api.request("GET", path("proxies", proxy, "stats"), expect=(404,))
    if status == 404 or not isinstance(stats, dict):
        return False
    removed = [t for t in (stats.get("removed_toxics") or {}).values() if t["removed_at"] >= start]
    partition = stats.get("partition") or {}
    return bool(stats.get("toxics") or removed or (partition.get("disabled_at") or 0) >= start)
