"""Time to recover: from a fault's end to the first metric sample at which every
SLO series the run recorded (a series with a threshold) is back within it.

A series' value at a moment is its last sample at or before that moment; a
threshold is an upper bound, as the charts draw it. A fault after which no
such moment comes "did not recover within the run".
"""

from __future__ import annotations

from bisect import bisect_right

from chaosllm.report.journal import FaultWindow, MetricSeries

__all__ = ["recovery_seconds", "measure_recovery"]


def recovery_seconds(series: list[MetricSeries], since: float) -> tuple[bool, float | None]:
    """(measurable, seconds): measurable when the run recorded an SLO series with
    samples; seconds is None when no sample from ``since`` on has every series within
    its threshold."""
    slo = [s for s in series if s.threshold is not None and s.points]
    if not slo:
        return False, None
    moments = sorted({x for s in slo for x, _ in s.points if x >= since})
    ordered = [sorted(s.points) for s in slo]
    times = [[x for x, _ in points] for points in ordered]
    for moment in moments:
        within = True
        for s, points, xs in zip(slo, ordered, times, strict=True):
            at = bisect_right(xs, moment) - 1
            if at < 0 or s.threshold is None or points[at][1] > s.threshold:
                within = False
                break
        if within:
            return True, moment - since
    return True, None


def measure_recovery(faults: list[FaultWindow], series: list[MetricSeries]) -> None:
    """Fill in each chaosllm fault's time to recover."""
    for fault in faults:
        if fault.chaosllm:
            fault.recovery_measured, fault.recovery = recovery_seconds(series, fault.end)
