"""The sandbox's load probes: what the load generator saw during a load run.

They read the results file of a load run (see ``start_load``). ``window``
keeps only the requests due in the last part of the run ("30s"); ``ops``
keeps only the operations named (a list, or names separated by commas).
Experiments name them through :mod:`chaosllm.sandbox.probes`, which
re-exports them.
"""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.faults import parse_duration
from chaosllm.sandbox.app import loadrun
from chaosllm.sandbox.app.loadrun import read_results, summarise
from chaosllm.sandbox.app.state import run_dir
from chaosllm.slo._criterion import criterion

__all__ = ["load_stats", "failed_requests", "load_error_ratio", "load_latency", "load_throughput",
           "latency_degradation", "requests_flow", "latency_degrades_less_than"]


def _ops(ops: str | list[str] | None) -> list[str] | None:
    return ops.split(",") if isinstance(ops, str) else ops


@strict
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


@strict
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


@strict
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


@strict
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
    return loadrun.quantile([float(r["lat"]) for r in rows], quantile)


@strict
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
    return loadrun.throughput(read_results(run_dir(configuration, secrets), name, window), seconds)


@strict
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
    return loadrun.degradation(rows, quantile, baseline, window, floor)


@strict
def requests_flow(
    above: float = 0.0,
    name: str = "load",
    window: str = "10s",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """"Requests keep flowing": `met` when more than `above` requests a second
    succeeded over the last `window` (what `load_throughput` returns, given as
    `per_second`).

    ```json
    {"type": "probe", "name": "requests-keep-flowing", "tolerance": ["met"],
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "requests_flow", "arguments": {"above": 14, "window": "10s"}}}
    ```
    """
    rate = load_throughput(name, window, configuration, secrets)
    return criterion(rate > above, per_second=rate, above=above)


@strict
def latency_degrades_less_than(
    factor: float = 2.0,
    name: str = "load",
    quantile: float = 0.95,
    baseline: str = "10s",
    window: str = "20s",
    floor: str = "50ms",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """"Latency degrades by less than `factor`": `met` when
    `latency_degradation` (the same arguments; given as `degradation`) is
    under `factor`, and not when it has no data on either side.

    ```json
    {"type": "probe", "name": "latency-degrades-less-than-2x", "tolerance": ["met"],
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "latency_degrades_less_than",
                  "arguments": {"factor": 2.0, "baseline": "10s", "window": "20s"}}}
    ```
    """
    ratio = latency_degradation(name, quantile, baseline, window, floor, configuration, secrets)
    return criterion(ratio is not None and ratio < factor, degradation=ratio, factor=factor)
