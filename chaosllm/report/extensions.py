"""What chaosllm's controls add to a journal: the abort guard's verdict and the
metric series recorded around the run (the ``chaosllm-guard`` and
``chaosllm-metrics`` extensions, on the journal or its experiment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaosllm.journal_keys import GUARD_EXTENSION, METRICS_EXTENSION
from chaosllm.redaction import redact_value
from chaosllm.report._values import as_dict, as_list, number, number_text, timestamp
from chaosllm.report.journal import Breach, MetricSeries, short

__all__ = ["GuardVerdict", "Metrics", "guard_verdict", "metrics", "named_extensions"]


@dataclass(slots=True)
class GuardVerdict:
    aborted: bool = False
    conditions: list[str] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)


@dataclass(slots=True)
class Metrics:
    series: list[MetricSeries] = field(default_factory=list)
    window: tuple[float, float] | None = None


def named_extensions(journal: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The extensions called ``name``, on the journal or on its experiment."""
    found = []
    for source in (journal, as_dict(journal.get("experiment"))):
        for ext in as_list(source.get("extensions")):
            if isinstance(ext, dict) and ext.get("name") == name:
                found.append(ext)
    return found


def guard_verdict(journal: dict[str, Any], secrets: frozenset[str]) -> GuardVerdict:
    """Whether the guard aborted the run, its conditions and the breaches it saw."""
    guard = named_extensions(journal, GUARD_EXTENSION)
    breaches = [
        Breach(
            condition=short(b.get("condition", ""), 200),
            observed=number(b.get("observed")),
            threshold=number(b.get("threshold")),
            at=timestamp(b.get("at")),
            source=short(redact_value(b.get("source", ""), secrets), 200),
        )
        for ext in guard
        for b in as_list(ext.get("breaches"))
        if isinstance(b, dict)
    ]
    conditions = [
        short(redact_value(c, secrets), 200) for ext in guard for c in as_list(ext.get("conditions"))
    ]
    aborted = any(bool(ext.get("aborted")) for ext in guard)
    return GuardVerdict(aborted, conditions, breaches)


def metrics(journal: dict[str, Any], secrets: frozenset[str]) -> Metrics:
    """The metric series the metrics control recorded, and the window it covered."""
    found = Metrics()
    for ext in named_extensions(journal, METRICS_EXTENSION):
        span = as_dict(ext.get("window"))
        start, end = timestamp(span.get("start")), timestamp(span.get("end"))
        if start is not None and end is not None:
            found.window = (start, end)
        for series in as_list(ext.get("series")):
            if not isinstance(series, dict):
                continue
            points = []
            for point in as_list(series.get("points")):
                if isinstance(point, list | tuple) and len(point) == 2:
                    x, y = timestamp(point[0]), number_text(str(point[1]))
                    if x is not None and y is not None:
                        points.append((x, y))
            found.series.append(MetricSeries(
                name=str(series.get("name", "")), query=str(series.get("query", "")),
                unit=series.get("unit") if isinstance(series.get("unit"), str) else None,
                threshold=number(series.get("threshold")), points=points,
                error=short(redact_value(series["error"], secrets), 300) if series.get("error") else None,
                bound="lower" if series.get("bound") == "lower" else "upper",
            ))  # fmt: skip
    return found
