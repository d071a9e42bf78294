"""Record Prometheus series over the experiment window into the journal.

Reports draw these later without Prometheus. Declare it in an experiment's
``controls`` block, or under ``controls`` in the Chaos Toolkit settings file::

    {"name": "chaosllm-metrics",
     "provider": {"type": "python", "module": "chaosllm.controls.metrics",
       "arguments": {
         "step": "1s", "slo_file": "slos.yaml",
         "series": [
           {"name": "error ratio", "unit": "ratio", "threshold": "5%",
            "error_ratio": {"metric": "http_requests_total", "window": "30s"}},
           {"name": "p95 latency", "unit": "s", "threshold": "2000ms",
            "latency_quantile": {"metric": "http_request_duration_seconds",
                                 "quantile": 0.95, "window": "30s"}},
           {"name": "requests/s", "query": "sum(rate(http_requests_total[30s]))"},
           {"slo": "api_availability", "window": "30s"}
         ]}}}

A series is one of ``query`` (PromQL), the SLO probe shapes ``error_ratio``,
``availability`` and ``latency_quantile`` (same arguments as the guard), or
``slo``: an SLO of the SLO file ``slo_file`` (argument, or the setting
``slo_file``, ``$CHAOSLLM_SLO_FILE``) over ``window``, whose objective is the
default ``threshold``. Without ``series``, the SLO file's ``metrics`` list is
recorded (:mod:`chaosllm.slo.refs`). ``unit`` and ``threshold``
(number, "5%" or "2000ms") are copied to the journal for the reports; a
threshold is a maximum unless the series says ``"bound": "lower"`` (a
minimum, such as a cache hit ratio; an SLO reference takes it from the
objective's comparison), and the reports judge recovery by it. The
window runs from the experiment's start to its end, sampled every ``step``, so
that a report never shows the samples of the run before it; ``before`` is
still accepted (and checked) for older experiments, but no longer widens the
window. ``after`` (a duration, at most 10 minutes; default none) keeps
recording that long after the rollbacks of a completed or failed run, so
that a fault its rollbacks removed still gets a time to recover; declare
this control before a control that stops the load (``sandbox-load``), whose
end runs after it. An interrupted or aborted run, or Ctrl-C during the wait,
ends it at once. The server is ``prometheus_base_url`` (argument or setting).
The journal gets, under ``extensions``::

    {"name": "chaosllm-metrics",
     "window": {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:02:00+00:00"},
     "series": [{"name": "error ratio", "query": "...", "unit": "ratio", "threshold": 0.05,
                 "points": [[1767225600.0, 0.001], [1767225601.0, 0.31]]}]}

A query that returns several series gives one entry each, named
``name{label="value"}``; a failed query gives ``points: []`` and ``error``.
Samples that are NaN (no data) are left out, never written as 0.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidActivity

from chaosllm.controls._experiment import flat_secrets
from chaosllm.controls._failclosed import protect
from chaosllm.errors import ChaosLLMError, InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.journal_keys import METRICS_EXTENSION
from chaosllm.slo.promql import PROMETHEUS_KINDS, build_query
from chaosllm.slo.refs import METRICS, needs_slo_file, resolve, slo_file_setting
from chaosllm.thresholds import parse_threshold

__all__ = [
    "parse_series",
    "collect",
    "validate_control",
    "configure_control",
    "before_experiment_control",
    "after_experiment_control",
]

logger = logging.getLogger("chaostoolkit")
EXTENSION_NAME = METRICS_EXTENSION
BOUNDS = ("upper", "lower")
MAX_TAIL = 600.0
_started: float | None = None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


def parse_series(raw_series: Any) -> list[dict[str, Any]]:
    """Check the ``series`` argument: ``[{name, query, unit, threshold}]`` with PromQL built."""
    if not isinstance(raw_series, list) or not raw_series:
        raise InvalidArgument("metrics: 'series' must be a non-empty list")
    out = []
    for index, raw in enumerate(raw_series):
        where = f"metrics series {index + 1}"
        if not isinstance(raw, Mapping):
            raise InvalidArgument(f"{where} must be an object")
        kinds = [k for k in PROMETHEUS_KINDS if k in raw]
        if len(kinds) != 1:
            raise InvalidArgument(f"{where}: give exactly one of {', '.join(PROMETHEUS_KINDS)}")
        query = build_query(kinds[0], raw[kinds[0]], where)
        threshold = raw.get("threshold")
        bound = raw.get("bound", "upper")
        if bound not in BOUNDS:
            raise InvalidArgument(f"{where}: 'bound' must be one of {', '.join(BOUNDS)}, got {bound!r}")
        entry = {
            "name": str(raw.get("name") or kinds[0]),
            "query": query,
            "unit": raw.get("unit"),
            "threshold": None if threshold is None else parse_threshold(threshold, where),
        }
        if threshold is not None and bound == "lower":
            entry["bound"] = bound
        out.append(entry)
    return out


def _label_text(metric: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return "{" + inner + "}" if inner else ""


def collect(
    series: list[dict[str, Any]],
    start: float,
    end: float,
    step: float,
    prometheus_base_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Query every series over ``[start, end]`` and build the journal entry."""
    from chaosllm._clients.prometheus import prometheus_api

    entries: list[dict[str, Any]] = []
    for item in series:
        try:
            with prometheus_api(
                f"record series {item['name']!r}", prometheus_base_url, configuration, secrets
            ) as api:
                result = api.query_range(item["query"], start, end, step)
        except ChaosLLMError as exc:
            logger.warning(f"chaosllm metrics: {exc}")
            entries.append({**item, "points": [], "error": str(exc)})
            continue
        if not result:
            entries.append({**item, "points": []})
        for one in result:
            points = [[float(t), float(v)] for t, v in one.get("values", []) if not math.isnan(float(v))]
            name = item["name"] + (_label_text(one.get("metric", {})) if len(result) > 1 else "")
            entries.append({**item, "name": name, "points": points})
    return {
        "name": EXTENSION_NAME,
        "window": {"start": _iso(start), "end": _iso(end)},
        "series": entries,
    }


def _series(arguments: Mapping[str, Any], configuration: Any, secrets: Any) -> list[dict[str, Any]]:
    """The series (``series``, else the SLO file's ``metrics``) checked, SLO names resolved."""
    return parse_series(resolve(arguments, METRICS, configuration, secrets)[1])


def validate_control(control: dict[str, Any]) -> None:
    """Refuse malformed series at ``chaos validate`` time."""
    arguments = control.get("provider", {}).get("arguments", {})
    if needs_slo_file(arguments, METRICS) and not slo_file_setting(arguments, None, None):
        return  # the SLO file comes from the run's configuration: checked at run time
    try:
        _series(arguments, None, None)
        parse_duration(arguments.get("step", "1s"), "metrics: 'step'")
        parse_duration(arguments.get("before", "0s"), "metrics: 'before'")
        _tail(arguments)
    except InvalidArgument as exc:
        raise InvalidActivity(str(exc)) from exc


def configure_control(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **arguments: Any,
) -> None:
    """Check the series with the run's configuration (which may name the SLO file):
    a control that could record nothing refuses the run at its start."""
    from chaoslib import substitute

    arguments = substitute(arguments, configuration or {}, secrets or {})
    try:
        _series(arguments, configuration, flat_secrets(secrets))
        parse_duration(arguments.get("step", "1s"), "metrics: 'step'")
        _tail(arguments)
    except InvalidArgument as exc:
        raise InterruptExecution(f"chaosllm metrics refused the experiment: {exc}") from exc


def _tail(arguments: Mapping[str, Any]) -> float:
    """The ``after`` argument in seconds: how long to keep recording after the rollbacks."""
    seconds = parse_duration(arguments.get("after", "0s"), "metrics: 'after'")
    if seconds > MAX_TAIL:
        raise InvalidArgument(f"metrics: 'after' {arguments['after']!r} is too long: at most 10m")
    return seconds


def _record_tail(seconds: float, state: Any) -> None:
    """Wait ``seconds`` after a completed or failed run; an interruption ends the wait."""
    status = state.get("status") if isinstance(state, dict) else None
    if not seconds or status in ("interrupted", "aborted"):
        return
    logger.info(f"chaosllm metrics: recording {seconds:g} s more, for the time to recover")
    try:
        time.sleep(seconds)  # a signal whose handler returns does not cut it short (PEP 475)
    except (KeyboardInterrupt, SystemExit, InterruptExecution):
        logger.warning("chaosllm metrics: recording after the run was cut short")


def before_experiment_control(context: Any, **arguments: Any) -> None:
    global _started
    _started = time.time()


def after_experiment_control(
    context: Any,
    state: Any = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **arguments: Any,
) -> None:
    """Append the recorded series to the journal's ``extensions``."""
    global _started
    started, _started = _started, None  # the next run in this process starts afresh
    try:
        series = _series(arguments, configuration, flat_secrets(secrets))
        step = max(parse_duration(arguments.get("step", "1s"), "metrics: 'step'"), 0.001)
        before = parse_duration(arguments.get("before", "0s"), "metrics: 'before'")
        tail = _tail(arguments)
    except InvalidArgument as exc:
        logger.error(f"chaosllm metrics: {exc}")
        return
    _record_tail(tail, state)
    end = time.time()
    if before:
        logger.debug("chaosllm metrics: 'before' is ignored; the window starts at the run's start")
    start = started if started is not None else end
    entry = collect(
        series, start, end, step, arguments.get("prometheus_base_url"), configuration,
        flat_secrets(secrets),
    )  # fmt: skip
    if isinstance(state, dict):
        state.setdefault("extensions", []).append(entry)


protect(globals(), "chaosllm-metrics", one_per_run=True,
        arguments=("series", "step", "before", "after", "prometheus_base_url", "slo_file"))
