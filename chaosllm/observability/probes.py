"""Probes of logs (Loki) and traces (Jaeger) over a recent window."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from chaosllm._clients.observability import jaeger_api, loki_api
from chaosllm.arguments import strict
from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration

__all__ = ["loki_count", "trace_error_ratio"]


def _window(window: str) -> tuple[float, float]:
    seconds = parse_duration(window, "window")
    if seconds <= 0:
        raise InvalidArgument(f"window must be positive, got {window!r}")
    end = time.time()
    return end - seconds, end


@strict
def loki_count(
    query: str,
    window: str = "5m",
    loki_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """How many log lines LogQL `query` (a stream selector and filters, e.g.
    `{app="gateway"} |= "error"`) matched over the last `window`, through
    `count_over_time` on Loki's `/loki/api/v1/query_range`. Set `window` to
    the run's or the fault's length to judge that period.

    ```json
    {"type": "probe", "name": "few-gateway-errors",
     "tolerance": {"type": "probe", "name": "at-most-10",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "below", "arguments": {"threshold": 10, "inclusive": true}}},
     "provider": {"type": "python", "module": "chaosllm.observability.probes", "func": "loki_count",
                  "arguments": {"query": "{app=\\"gateway\\"} |= \\"error\\"", "window": "2m"}}}
    ```
    """
    if not isinstance(query, str) or not query.strip().startswith("{"):
        raise InvalidArgument(f"query must be a LogQL stream selector such as "
                              f"'{{app=\"gateway\"}} |= \"error\"', got {query!r}")
    start, end = _window(window)
    span = f"{max(1, round(end - start))}s"
    params = {"query": f"sum(count_over_time({query}[{span}]))", "start": f"{start:.3f}",
              "end": f"{end:.3f}", "step": span}  # fmt: skip
    with loki_api("count log lines", loki_url, configuration, secrets) as api:
        _, payload = api.request("GET", "/loki/api/v1/query_range?" + urlencode(params))
    result = ((payload or {}).get("data") or {}).get("result") or []
    values = [float(v[1]) for series in result for v in series.get("values", [])[-1:]]
    return sum(values)


@strict
def trace_error_ratio(
    service: str,
    window: str = "5m",
    operation: str | None = None,
    limit: int = 1000,
    jaeger_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Share of `service`'s traces (of `operation`, if given) over the last
    `window` with at least one span tagged `error=true`, from Jaeger's query
    API (`/api/traces`, at most `limit` traces); null when there is none.

    ```json
    {"type": "probe", "name": "gateway-trace-errors",
     "tolerance": {"type": "probe", "name": "below-1%",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "below", "arguments": {"threshold": "1%"}}},
     "provider": {"type": "python", "module": "chaosllm.observability.probes",
                  "func": "trace_error_ratio", "arguments": {"service": "gateway", "window": "2m"}}}
    ```
    """
    if not isinstance(service, str) or not service:
        raise InvalidArgument(f"service must be a service name, got {service!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise InvalidArgument(f"limit must be an integer from 1 to 100000, got {limit!r}")
    start, end = _window(window)
    params: dict[str, Any] = {"service": service, "start": int(start * 1e6), "end": int(end * 1e6),
                              "limit": limit}
    if operation:
        params["operation"] = operation
    with jaeger_api("read traces", jaeger_url, configuration, secrets) as api:
        _, payload = api.request("GET", "/api/traces?" + urlencode(params))
    traces = (payload or {}).get("data") or []
    if not traces:
        return None
    failed = sum(1 for trace in traces if any(
        tag.get("key") == "error" and tag.get("value") in (True, "true")
        for span in trace.get("spans", []) for tag in span.get("tags", [])))
    return failed / len(traces)
