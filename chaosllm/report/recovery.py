"""Time to recover: from a fault's end to the first metric sample at which every
SLO series the run recorded (a series with a threshold) is back within it.

A series' value at a moment is its last sample at or before that moment; a
threshold is an upper bound, or a lower one for a series recorded with
``bound: lower`` (a minimum such as a cache hit ratio of 80 %). A fault after which no
such moment comes "did not recover within the run"; one after which no sample
was taken at all (its rollback ended it as the run ended) is not measured.
"""

from __future__ import annotations

from bisect import bisect_right

from chaosllm.report.journal import FaultWindow, MetricSeries

__all__ = ["recovery_seconds", "measure_recovery", "NO_SLO_SERIES", "NO_SAMPLE_AFTER"]

NO_SLO_SERIES = "no SLO series recorded"
NO_SAMPLE_AFTER = "no metric sample after the fault ended"


def recovery_seconds(series: list[MetricSeries], since: float) -> tuple[bool, float | None]:
    """(measurable, seconds): measurable when the run recorded an SLO series with
    samples from ``since`` on; seconds is None when no such sample has every series
    within its threshold."""
    slo = [s for s in series if s.threshold is not None and s.points]
    moments = sorted({x for s in slo for x, _ in s.points if x >= since})
    if not moments:
        return False, None
    ordered = [sorted(s.points) for s in slo]
    times = [[x for x, _ in points] for points in ordered]
    for moment in moments:
        within = True
        for s, points, xs in zip(slo, ordered, times, strict=True):
            at = bisect_right(xs, moment) - 1
            if at < 0 or not s.within(points[at][1]):
                within = False
                break
        if within:
            return True, moment - since
    return True, None


def measure_recovery(faults: list[FaultWindow], series: list[MetricSeries]) -> None:
    """Fill in each chaosllm fault's time to recover."""
    recorded = any(s.threshold is not None and s.points for s in series)
    for fault in faults:
        if fault.chaosllm:
            fault.recovery_measured, fault.recovery = recovery_seconds(series, fault.end)
            if not fault.recovery_measured:
                fault.recovery_note = NO_SAMPLE_AFTER if recorded else NO_SLO_SERIES
