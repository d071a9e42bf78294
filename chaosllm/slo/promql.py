"""PromQL built from SLO arguments, one-number results and threshold parsing.

Shared by the SLO probes, the SLO file and the guard so that a condition in
a guard means exactly what the probe of the same name returns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from chaosllm._clients.prometheus import PrometheusAPI, prometheus_api
from chaosllm.errors import InvalidArgument

__all__ = [
    "check_window",
    "join_selector",
    "error_ratio_query",
    "availability_query",
    "latency_quantile_query",
    "single_value",
    "query_number",
    "PROMETHEUS_KINDS",
    "build_query",
]

# The ways a guard condition or a metrics series states its PromQL (build_query).
PROMETHEUS_KINDS = ("query", "error_ratio", "availability", "latency_quantile")

_WINDOW = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def check_window(window: str, what: str = "window") -> str:
    """A PromQL range such as ``5m`` or ``30d``; anything else is refused."""
    if not isinstance(window, str) or not _WINDOW.fullmatch(window.strip()):
        raise InvalidArgument(f"{what} {window!r} is not a PromQL range such as '1m', '5m' or '30d'")
    return window.strip()


def join_selector(*parts: str | None) -> str:
    """Join label matchers (``job="api"``, ``status=~"5.."``) into one selector body."""
    items = [p.strip().strip("{}").strip().strip(",") for p in parts if p and p.strip().strip("{}")]
    for item in items:
        if item.count('"') % 2 or "}" in _QUOTED.sub("", item):
            raise InvalidArgument(f"selector {item!r} is not a list of label matchers")
    return ",".join(items)


def _metric(metric: str, what: str) -> str:
    if not isinstance(metric, str) or not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", metric):
        raise InvalidArgument(f"{what} {metric!r} is not a metric name")
    return metric


def error_ratio_query(
    metric: str, selector: str, error_selector: str, window: str
) -> str:
    """Errors over all requests, as a rate over ``window``; no errors at all is 0, not "no data"."""
    _metric(metric, "metric")
    window = check_window(window)
    if not error_selector.strip():
        raise InvalidArgument("error_selector is empty: say which requests are errors")
    every = join_selector(selector)
    errors = join_selector(selector, error_selector)
    return (
        f"(sum(rate({metric}{{{errors}}}[{window}])) or vector(0))"
        f" / sum(rate({metric}{{{every}}}[{window}]))"
    )


def availability_query(metric: str, selector: str, error_selector: str, window: str) -> str:
    return f"1 - ({error_ratio_query(metric, selector, error_selector, window)})"


def latency_quantile_query(metric: str, quantile: float, selector: str, window: str) -> str:
    """``histogram_quantile`` over the ``_bucket`` series of ``metric``."""
    if isinstance(quantile, bool) or not isinstance(quantile, int | float) or not 0 < quantile < 1:
        raise InvalidArgument(f"quantile must be a number between 0 and 1, got {quantile!r}")
    base = metric[: -len("_bucket")] if metric.endswith("_bucket") else metric
    _metric(base, "metric")
    window = check_window(window)
    body = join_selector(selector)
    return (
        f"histogram_quantile({float(quantile)}, "
        f"sum by (le) (rate({base}_bucket{{{body}}}[{window}])))"
    )


def single_value(api: PrometheusAPI, query: str) -> float | None:
    """The one number a query returns; None for no data (empty result or NaN)."""
    data = api.query(query)
    kind, result = data.get("resultType"), data.get("result") or []
    if kind == "scalar":
        value = float(result[1])
    elif kind == "vector":
        if not result:
            return None
        if len(result) > 1:
            labels = [r.get("metric", {}) for r in result[:3]]
            raise InvalidArgument(
                f"could not {api.action} on {api.target}: the query returned {len(result)} "
                f"series ({labels}...); aggregate it to one, e.g. with sum() or max()"
            )
        value = float(result[0]["value"][1])
    else:
        raise InvalidArgument(
            f"could not {api.action} on {api.target}: expected one number, got a {kind} result"
        )
    return None if math.isnan(value) else value


def query_number(action: str, query: str, prometheus_base_url: str | None = None,
                 configuration: Any = None, secrets: Any = None) -> float | None:  # fmt: skip
    """The one number ``query`` returns from the configured Prometheus; None for no data.

    ``action`` names what the caller was doing, for the error message.
    """
    with prometheus_api(action, prometheus_base_url, configuration, secrets) as api:
        return single_value(api, query)


def build_query(kind: str, spec: Any, where: str) -> str:
    """PromQL for a ``query``, ``error_ratio``, ``availability`` or ``latency_quantile`` spec."""
    if kind == "query":
        if not isinstance(spec, str) or not spec.strip():
            raise InvalidArgument(f"{where}: 'query' must be a PromQL string")
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"{where}: '{kind}' must be an object of arguments")
    args = dict(spec)
    try:
        if kind == "latency_quantile":
            return latency_quantile_query(
                args["metric"], args.get("quantile", 0.95), args.get("selector", ""),
                args.get("window", "1m"),
            )  # fmt: skip
        build = error_ratio_query if kind == "error_ratio" else availability_query
        return build(
            args.get("metric", "http_requests_total"), args.get("selector", ""),
            args.get("error_selector", 'status=~"5.."'), args.get("window", "1m"),
        )  # fmt: skip
    except KeyError as exc:
        raise InvalidArgument(f"{where}: '{kind}' needs '{exc.args[0]}'") from exc
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: {exc}") from exc
