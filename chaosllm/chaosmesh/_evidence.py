"""Evidence criteria about a Chaos Mesh fault: pods injected, and a metric in its window.

The fault's real window comes from the object's own records: it starts at the
first ``Apply`` that succeeded on a selected container and ends at the last
``Recover`` once every record is recovered, or now while the fault holds. A
metric is then judged over exactly that window with one range query, and a
rise against the same stretch of time before it, so that a criterion about the
fault period is never judged on a cluster where the fault did not bite, nor on
a window with no samples (no traffic). Several checks (:class:`Check`) are
judged over one reading of the window, and a miss names every check that
missed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chaosllm.chaosmesh._status import INJECTED, injection_effect, injection_state, is_recovered, records
from chaosllm.errors import CriterionNotMet, InvalidArgument, NotInjected
from chaosllm.faults.effects import iso_at
from chaosllm.journal_keys import EVIDENCE_KEY

__all__ = ["AGGREGATES", "BOUNDS", "CHECK_KEYS", "Check", "Criteria", "fault_window", "injected_pods",
           "judge_checks", "judge_metric", "parse_checks", "window_fields", "window_reader"]

AGGREGATES = ("max", "min", "mean")
BOUNDS = ("at_least", "at_most", "rise_at_least", "ratio_at_most")
# The keys of one of metric_during_fault's checks.
CHECK_KEYS = ("name", "series", "query", "aggregate", *BOUNDS)
# (query, with the baseline before the window) -> (samples in the window, samples before or None)
Reader = Callable[[str, bool], tuple[list[Any], list[Any] | None]]


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _event_times(obj: Mapping[str, Any], operation: str) -> list[float]:
    found = []
    for record in records(obj):
        for event in record.get("events") or []:
            if event.get("operation") == operation and event.get("type", "Succeeded") == "Succeeded":
                stamp = _epoch(event.get("timestamp"))
                if stamp is not None:
                    found.append(stamp)
    return found


def injected_pods(obj: Mapping[str, Any] | None, where: str, at_least: int) -> dict[str, Any]:
    """The pods the records say were injected; NotInjected when fewer than ``at_least``."""
    if obj is None:
        raise NotInjected(f"{where} is absent: no pod was injected")
    evidence = dict(injection_effect(obj)[EVIDENCE_KEY])
    count = int(evidence.get("injected_pods", 0))
    if count < at_least:
        raise NotInjected(
            f"{where}: {count} pod(s) injected, at least {at_least} expected "
            f"({evidence.get('selected_pods', 0)} selected, state {injection_state(obj)})"
        )
    return {"pods_injected": count, "pods_selected": evidence.get("selected_pods", 0),
            "pods": evidence.get("pods", ""), "state": injection_state(obj)}  # fmt: skip


def fault_window(
    obj: Mapping[str, Any] | None, where: str, now: float | None = None
) -> tuple[float, float, str]:
    """(start, end, how it ended) of the fault's real window, from its records.

    NotInjected when no container was ever injected: a window of a fault that
    did not bite says nothing about the fault.
    """
    if obj is None:
        raise NotInjected(f"{where} is absent: it has no fault window")
    applied = _event_times(obj, "Apply")
    recs = records(obj)
    ever = [r for r in recs if r.get("phase") == INJECTED or int(r.get("injectedCount") or 0) > 0]
    if not ever:
        raise NotInjected(f"{where} injected no container (state {injection_state(obj)}): "
                          "it has no fault window")  # fmt: skip
    meta = obj.get("metadata") or {}
    start = min(applied) if applied else _epoch(meta.get("creationTimestamp"))
    if start is None:
        raise NotInjected(f"{where}: its records and metadata carry no time of injection")
    now = time.time() if now is None else now
    recovered = _event_times(obj, "Recover")
    if is_recovered(obj) and recovered:
        return start, max(max(recovered), start), "recovered"
    return start, max(now, start), "still injected"


class Criteria:
    """The bounds a metric must keep in the fault window (parsed, checked up front)."""

    def __init__(self, aggregate: str, at_least: Any, at_most: Any, rise_at_least: Any,
                 ratio_at_most: Any) -> None:  # fmt: skip
        from chaosllm.thresholds import parse_threshold

        if aggregate not in AGGREGATES:
            raise InvalidArgument(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
        self.aggregate = aggregate
        bounds = {"at_least": at_least, "at_most": at_most, "rise_at_least": rise_at_least,
                  "ratio_at_most": ratio_at_most}  # fmt: skip
        self.bounds = {key: parse_threshold(value, key) for key, value in bounds.items() if value is not None}
        if not self.bounds:
            raise InvalidArgument(f"give at least one of {', '.join(BOUNDS)}")

    @property
    def needs_baseline(self) -> bool:
        return "rise_at_least" in self.bounds or "ratio_at_most" in self.bounds


def _values(series: list[Any], what: str) -> list[float]:
    if len(series) > 1:
        labels = [s.get("metric", {}) for s in series[:3]]
        raise InvalidArgument(f"{what}: the query returned {len(series)} series ({labels}...); "
                              "aggregate it to one, e.g. with sum() or max()")  # fmt: skip
    values = [float(v[1]) for s in series for v in s.get("values") or []]
    return [v for v in values if not math.isnan(v)]


def _aggregate(values: list[float], how: str) -> float:
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return sum(values) / len(values)


def judge_metric(
    criteria: Criteria, during: list[Any], before: list[Any] | None, what: str
) -> dict[str, Any]:
    """The value in the window against every bound; CriterionNotMet names each miss."""
    values = _values(during, what)
    if not values:
        raise CriterionNotMet(f"{what}: no sample in the fault window (no data, or no traffic)")
    value = _aggregate(values, criteria.aggregate)
    out: dict[str, Any] = {"value": value, "aggregate": criteria.aggregate, "samples": len(values)}
    misses = []
    bounds = criteria.bounds
    if "at_least" in bounds and value < bounds["at_least"]:
        misses.append(f"{criteria.aggregate} {value:g} is below at_least {bounds['at_least']:g}")
    if "at_most" in bounds and value > bounds["at_most"]:
        misses.append(f"{criteria.aggregate} {value:g} is above at_most {bounds['at_most']:g}")
    if criteria.needs_baseline:
        base = _values(before or [], what)
        if not base:
            raise CriterionNotMet(f"{what}: no sample before the fault to compare with")
        baseline = sum(base) / len(base)
        out.update(baseline=baseline, rise=value - baseline)
        if "rise_at_least" in bounds and value - baseline < bounds["rise_at_least"]:
            misses.append(f"rise {value - baseline:g} (from {baseline:g}) is below rise_at_least "
                          f"{bounds['rise_at_least']:g}")  # fmt: skip
        if "ratio_at_most" in bounds:
            ratio = value / baseline if baseline else math.inf
            out["ratio"] = ratio
            if ratio > bounds["ratio_at_most"]:
                misses.append(f"ratio {ratio:g} to the baseline {baseline:g} is above ratio_at_most "
                              f"{bounds['ratio_at_most']:g}")  # fmt: skip
    if misses:
        raise CriterionNotMet(f"{what}: " + "; ".join(misses))
    out["met"] = True
    return out


def window_reader(prom: Any, start: float, end: float, every: float) -> Reader:
    """Reads a query over the window and, when asked, over as long just before it; each once."""
    length = end - start
    read: dict[tuple[str, bool], list[Any]] = {}

    def samples(promql: str, before: bool) -> list[Any]:
        if (promql, before) not in read:
            span = (start - length, start) if before else (start, end)
            read[(promql, before)] = prom.query_range(promql, *span, every)
        return read[(promql, before)]

    return lambda promql, baseline: (samples(promql, False), samples(promql, True) if baseline else None)


def window_fields(start: float, end: float, ended: str) -> dict[str, Any]:
    return {"window_start": iso_at(start), "window_end": iso_at(end),
            "window_seconds": round(end - start, 3), "window": ended}  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One of ``metric_during_fault``'s ``checks``: a query (or a series to resolve) and its bounds."""

    path: str  # "checks[2]", for errors
    name: str
    criteria: Criteria
    query: str | None
    series: str | None

    def resolved(self, series_query: Callable[[str], str]) -> Check:
        """The check with its series' query; errors name the check."""
        if self.query is not None or self.series is None:
            return self
        try:
            return replace(self, query=series_query(self.series))
        except InvalidArgument as exc:
            raise InvalidArgument(f"{self.path}: {exc}") from None


def parse_checks(checks: Any) -> list[Check]:
    """Every check validated (keys, one query or series, bounds) before anything is read."""
    if not isinstance(checks, list | tuple) or not checks:
        raise InvalidArgument(f"checks must be a list of one check or more, got {checks!r}")
    return [_parse_check(raw, f"checks[{index}]", index) for index, raw in enumerate(checks)]


def _parse_check(raw: Any, path: str, index: int) -> Check:
    if not isinstance(raw, Mapping):
        raise InvalidArgument(f"{path}: a check must be a mapping, got {raw!r}")
    unknown = [key for key in raw if key not in CHECK_KEYS]
    if unknown:
        raise InvalidArgument(f"{path}: unknown key{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(repr(k) for k in unknown)} (a check takes "
                              f"{', '.join(CHECK_KEYS)})")  # fmt: skip
    for key in ("name", "series", "query"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidArgument(f"{path}: {key} must be a non-empty string, got {value!r}")
    if (raw.get("query") is None) == (raw.get("series") is None):
        raise InvalidArgument(f"{path}: give exactly one of 'query' (PromQL) and 'series' (a series of "
                              "the SLO file's 'metrics' list)")  # fmt: skip
    aggregate = "max" if raw.get("aggregate") is None else raw["aggregate"]
    try:
        criteria = Criteria(aggregate, *(raw.get(key) for key in BOUNDS))
    except InvalidArgument as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    name = raw.get("name") or raw.get("series") or f"check {index + 1}"
    return Check(path, name, criteria, raw.get("query"), raw.get("series"))


def judge_checks(checks: Sequence[Check], read: Reader, where: str) -> list[dict[str, Any]]:
    """Each check's result over the window; CriterionNotMet naming every check that missed."""
    results: list[dict[str, Any]] = []
    misses: list[str] = []
    for check in checks:
        if check.query is None:
            raise ValueError(f"{check.path}: series {check.series!r} not resolved")
        during, before = read(check.query, check.criteria.needs_baseline)
        entry: dict[str, Any] = {"name": check.name, "query": check.query,
                                 **({"series": check.series} if check.series is not None else {})}
        try:
            entry.update(judge_metric(check.criteria, during, before, repr(check.name)))
        except CriterionNotMet as miss:
            misses.append(str(miss))
            entry.update(met=False, miss=str(miss))
        except InvalidArgument as exc:  # several series: the check must be fixed
            raise InvalidArgument(f"{where}, {check.path}: {exc}") from None
        results.append(entry)
    if misses:
        raise CriterionNotMet(f"{where}: {len(misses)} of {len(checks)} checks missed: "
                              + " | ".join(misses))  # fmt: skip
    return results
