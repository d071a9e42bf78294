"""SLO probes over Prometheus: one number, a ratio, a quantile, an SLO's status, alerts,
and the LLM serving SLOs of ``_llm.py``.

Each returns a plain number or a flat dict that a tolerance tests without
JSONPath. "No data" (an empty answer, or NaN such as 0/0) is ``null``, never 0.
"""

from __future__ import annotations

import logging
from typing import Any

from chaosllm._clients.prometheus import prometheus_api
from chaosllm.arguments import strict
from chaosllm.errors import InvalidArgument
from chaosllm.slo._criterion import status
from chaosllm.slo._llm import (
    failover_share,
    goodput,
    inter_token_latency,
    time_to_first_token,
    tokens_per_second,
)
from chaosllm.slo.promql import (
    availability_query,
    error_ratio_query,
    latency_quantile_query,
    query_number,
)
from chaosllm.slo.spec import SLO

logger = logging.getLogger("chaostoolkit")

__all__ = [
    "query_value",
    "latency_quantile",
    "error_ratio",
    "availability",
    "slo_status",
    "alerts_firing",
    "time_to_first_token",
    "inter_token_latency",
    "tokens_per_second",
    "failover_share",
    "goodput",
]


@strict
def query_value(
    query: str,
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """The one number an instant PromQL query returns; null when there is no data.

    A query that returns several series is refused: aggregate it.

    ```json
    {"type": "probe", "name": "requests-per-second",
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "query_value",
                  "arguments": {"query": "sum(rate(http_requests_total[1m]))"}}}
    ```
    """
    return query_number("run query", query, prometheus_base_url, configuration, secrets)


@strict
def latency_quantile(
    metric: str,
    quantile: float = 0.95,
    selector: str = "",
    window: str = "1m",
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """A latency quantile, in the histogram's unit (seconds), over ``window``.

    ``metric`` is the histogram's name (with or without ``_bucket``);
    ``selector`` holds label matchers such as ``job="api"``. Null when there
    was no request in the window.

    ```json
    {"type": "probe", "name": "p95-latency",
     "tolerance": {"type": "probe", "name": "under-500ms",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "below", "arguments": {"threshold": "500ms"}}},
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "latency_quantile",
                  "arguments": {"metric": "http_request_duration_seconds", "quantile": 0.95,
                                "selector": "job=\\"api\\"", "window": "1m"}}}
    ```
    """
    query = latency_quantile_query(metric, quantile, selector, window)
    return query_number(f"read p{quantile * 100:g} latency", query, prometheus_base_url, configuration,
                  secrets)  # fmt: skip


@strict
def error_ratio(
    metric: str = "http_requests_total",
    selector: str = "",
    error_selector: str = 'status=~"5.."',
    window: str = "1m",
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Share of requests that failed over ``window`` (0.0 to 1.0); null with no request.

    ```json
    {"type": "probe", "name": "error-ratio",
     "tolerance": {"type": "probe", "name": "under-1-percent",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "below", "arguments": {"threshold": "1%"}}},
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "error_ratio",
                  "arguments": {"selector": "job=\\"api\\"", "window": "1m"}}}
    ```
    """
    query = error_ratio_query(metric, selector, error_selector, window)
    return query_number("read error ratio", query, prometheus_base_url, configuration, secrets)


@strict
def availability(
    metric: str = "http_requests_total",
    selector: str = "",
    error_selector: str = 'status=~"5.."',
    window: str = "1m",
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Share of requests that succeeded over ``window`` (1 - error ratio); null with no request.

    ```json
    {"type": "probe", "name": "availability",
     "tolerance": {"type": "probe", "name": "at-least-95-percent",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "above", "arguments": {"threshold": 0.95,
                                                               "inclusive": true}}},
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "availability",
                  "arguments": {"selector": "job=\\"api\\""}}}
    ```
    """
    query = availability_query(metric, selector, error_selector, window)
    return query_number("read availability", query, prometheus_base_url, configuration, secrets)


@strict
def slo_status(
    slo_file: str | None = None,
    name: str | None = None,
    window: str | None = None,
    names: list[str] | None = None,
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The status of one SLO of an SLO file (``name``), or of several (``names``).

    ``slo_file`` is the argument, else the setting ``slo_file``
    (``$CHAOSLLM_SLO_FILE``). ``window`` overrides each SLO's own window (an
    experiment rarely waits 30 days). One SLO returns ``{"name", "value",
    "objective", "comparison", "met", "status", "burn_rate", "window",
    "no_data", "query"}``; ``status`` is "met", "missed" or "no data" (then
    ``value``, ``met`` and ``burn_rate`` are null and ``no_data`` is true).
    The tolerance ``["met"]`` (Chaos Toolkit compares a result's ``status``
    with a list tolerance) passes only a met SLO;
    ``chaosllm.slo.tolerances.slo_met`` also checks the burn rate.

    ``names`` returns ``{"status", "met", "slos": [one result per SLO]}``:
    "met" when every SLO is met, "missed" when one is missed, else "no data".
    Reports show each SLO as a criterion of its own. Every name is looked up
    before Prometheus is asked anything.

    ```json
    {"type": "probe", "name": "availability-slo", "tolerance": ["met"],
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "slo_status",
                  "arguments": {"slo_file": "slos.yaml", "name": "api_availability",
                                "window": "5m"}}}
    ```

    ```json
    {"type": "probe", "name": "slos-met", "tolerance": ["met"],
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "slo_status",
                  "arguments": {"names": ["api_availability", "api_latency_p95"]}}}
    ```
    """
    from chaosllm.settings import require_setting
    from chaosllm.slo.refs import SETTING
    from chaosllm.slo.spec import load_slo_file

    if (name is None) == (names is None):
        raise InvalidArgument("give exactly one of 'name' (one SLO) and 'names' (a list of SLOs)")
    wanted = [name] if name is not None else list(names or [])
    if not wanted or len(set(wanted)) != len(wanted):
        raise InvalidArgument(f"names must list each SLO once, and at least one, got {names!r}")
    loaded = load_slo_file(str(require_setting(SETTING, slo_file, configuration, secrets)))
    slos = [loaded.slo(each) for each in wanted]  # an unknown name fails before any query
    results = [_slo_result(slo, window, prometheus_base_url, configuration, secrets) for slo in slos]
    if name is not None:
        return results[0]
    statuses = {r["status"] for r in results}
    overall = "missed" if "missed" in statuses else "no data" if "no data" in statuses else "met"
    for result in results:  # the console names the SLO at fault, not only the probe
        if result["status"] != "met":
            logger.warning(f"SLO {result['name']}: {result['status']} (value {result['value']}, "
                           f"objective {result['comparison']} {result['objective']:g})")
    return {"status": overall, "met": {"met": True, "missed": False}.get(overall), "slos": results}


def _slo_result(
    slo: SLO, window: str | None, prometheus_base_url: str | None, configuration: Any, secrets: Any
) -> dict[str, Any]:
    query = slo.query(window)
    value = query_number(f"evaluate SLO {slo.name!r}", query, prometheus_base_url, configuration,
                         secrets)  # fmt: skip
    met = None if value is None else slo.met(value)
    return {
        "name": slo.name,
        "value": value,
        "objective": slo.objective,
        "comparison": slo.comparison,
        "met": met,
        "status": status(met),
        "burn_rate": None if value is None else slo.burn_rate(value),
        "window": window or slo.window,
        "no_data": value is None,
        "query": query,
    }


@strict
def alerts_firing(
    name: str | None = None,
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many alerts named ``name`` (every alert when omitted) are firing now.

    ```json
    {"type": "probe", "name": "no-outage-alert", "tolerance": 0,
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "alerts_firing",
                  "arguments": {"name": "ChaosCausedOutage"}}}
    ```
    """
    with prometheus_api("list alerts", prometheus_base_url, configuration, secrets) as api:
        alerts = api.alerts()
    return sum(
        1
        for alert in alerts
        if alert.get("state") == "firing"
        and (name is None or alert.get("labels", {}).get("alertname") == name)
    )
