"""LLM serving SLO probes: time to first token, inter-token latency, tokens per second,
failover share and goodput, over Prometheus.

Each metric name defaults to what the sandbox exports and can name your own
serving stack's histograms and counters instead (for vLLM, for example,
``vllm:time_to_first_token_seconds``). "No data" is ``null``, never 0.
"""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.slo.promql import (
    availability_query,
    check_window,
    join_selector,
    latency_quantile_query,
    query_number,
)

__all__ = ["time_to_first_token", "inter_token_latency", "tokens_per_second", "failover_share", "goodput"]


def _quantile(what: str, metric: str, quantile: float, selector: str, window: str,
              prometheus_base_url: str | None, configuration: dict[str, Any] | None,
              secrets: dict[str, Any] | None) -> float | None:  # fmt: skip
    query = latency_quantile_query(metric, quantile, selector, window)
    return query_number(f"read p{quantile * 100:g} {what}", query, prometheus_base_url, configuration,
                        secrets)  # fmt: skip


@strict
def time_to_first_token(
    quantile: float = 0.95,
    selector: str = "",
    window: str = "1m",
    metric: str = "sandbox_llm_time_to_first_token_seconds",
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Time to first token at ``quantile`` over ``window``, in seconds.

    ```json
    {"type": "probe", "name": "ttft-p95",
     "tolerance": {"type": "probe", "name": "under-2s",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "below", "arguments": {"threshold": "2s"}}},
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "time_to_first_token",
                  "arguments": {"quantile": 0.95, "window": "1m"}}}
    ```
    """
    return _quantile("time to first token", metric, quantile, selector, window, prometheus_base_url,
                     configuration, secrets)  # fmt: skip


@strict
def inter_token_latency(
    quantile: float = 0.95,
    selector: str = "",
    window: str = "1m",
    metric: str = "sandbox_llm_inter_token_latency_seconds",
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Time between two tokens of one answer at ``quantile`` over ``window``, in seconds.

    ```json
    {"type": "probe", "name": "itl-p95",
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "inter_token_latency",
                  "arguments": {"quantile": 0.95, "window": "1m"}}}
    ```
    """
    return _quantile("inter-token latency", metric, quantile, selector, window, prometheus_base_url,
                     configuration, secrets)  # fmt: skip


@strict
def tokens_per_second(
    quantile: float = 0.5,
    selector: str = "",
    window: str = "1m",
    metric: str = "sandbox_llm_tokens_per_second",
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Generation speed of one answer (tokens per second) at ``quantile`` over ``window``.

    A low quantile (0.05) tells how slow the slowest answers were.

    ```json
    {"type": "probe", "name": "tokens-per-second-p50",
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "tokens_per_second",
                  "arguments": {"quantile": 0.5}}}
    ```
    """
    return _quantile("tokens per second", metric, quantile, selector, window, prometheus_base_url,
                     configuration, secrets)  # fmt: skip


@strict
def failover_share(
    window: str = "1m",
    selector: str = "",
    failovers_metric: str = "sandbox_llm_failovers_total",
    answers_metric: str = "sandbox_llm_gateway_attempts_total",
    answers_selector: str = 'outcome="ok"',
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Share of answered requests that the fallback provider served over ``window`` (0 to 1).

    ```json
    {"type": "probe", "name": "failover-share",
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "failover_share",
                  "arguments": {"window": "1m"}}}
    ```
    """
    window = check_window(window)
    failovers, answers = join_selector(selector), join_selector(selector, answers_selector)
    query = (f"(sum(rate({failovers_metric}{{{failovers}}}[{window}])) or vector(0))"
             f" / sum(rate({answers_metric}{{{answers}}}[{window}]))")  # fmt: skip
    return query_number("read failover share", query, prometheus_base_url, configuration, secrets)


@strict
def goodput(
    window: str = "1m",
    selector: str = "",
    metric: str = "sandbox_llm_goodput_total",
    bad_selector: str = 'result="bad"',
    prometheus_base_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """Share of requests that met every SLO at once (answered, first token and inter-token
    latency within their objectives) over ``window`` (0 to 1); null with no request.

    The sandbox's gateway counts each request as good or bad in ``metric``.

    ```json
    {"type": "probe", "name": "goodput",
     "tolerance": {"type": "probe", "name": "at-least-95-percent",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "above", "arguments": {"threshold": "95%", "inclusive": true}}},
     "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "goodput",
                  "arguments": {"window": "1m"}}}
    ```
    """
    query = availability_query(metric, selector, bad_selector, window)
    return query_number("read goodput", query, prometheus_base_url, configuration, secrets)
