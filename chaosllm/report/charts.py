"""Inline SVG charts: the activity timeline and the metric series.

The charts are plain SVG strings, styled by the classes the HTML report
defines, so a report needs no script, no font and no network to show them.
Every text from a journal passes through :func:`esc`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from html import escape

from chaosllm.report.journal import ActivityRun, FaultWindow, Journal, MetricSeries, short

__all__ = ["esc", "timeline", "line_chart", "sparkline"]

WIDTH = 900
LABEL = 190  # left margin for row labels
ROW = 16


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%H:%M:%S")


def _scale(lo: float, hi: float, left: float, right: float) -> tuple[float, float]:
    span = hi - lo or 1.0
    factor = (right - left) / span
    return factor, left - lo * factor


def _fault_rects(
    faults: Iterable[FaultWindow], fx: float, cx: float, lo: float, hi: float, top: float,
    height: float,
) -> list[str]:  # fmt: skip
    rects = []
    for fault in faults:
        start, end = max(fault.start, lo), min(max(fault.end, fault.start), hi)
        if end < start:
            continue
        x, w = start * fx + cx, max(2.0, (end - start) * fx)
        rects.append(
            f'<rect class="fault" x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{height:.1f}">'
            f"<title>{esc(fault.kind)} {esc(fault.name)} {esc(fault.target)}</title></rect>"
        )
    return rects


def timeline(journal: Journal) -> str:
    """One bar per activity run over the experiment's time, fault windows shaded."""
    runs: list[ActivityRun] = [
        r for r in journal.before + journal.method + journal.during + journal.after
        + journal.rollbacks if r.start is not None
    ]  # fmt: skip
    if not runs:
        return '<p class="empty">No activity ran.</p>'
    lo = min([r.start or 0.0 for r in runs] + ([journal.start] if journal.start else []))
    hi = max([r.end or r.start or lo for r in runs] + ([journal.end] if journal.end else []))
    hi = max(hi, lo + 0.001)
    top, height = 22, ROW * len(runs)
    fx, cx = _scale(lo, hi, LABEL, WIDTH - 10)
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{top + height + 6}" viewBox="0 0 {WIDTH} {top + height + 6}" role="img" '
        f'aria-label="activity timeline">',
        *_fault_rects(journal.faults, fx, cx, lo, hi, top, height),
        f'<text class="axis" x="{LABEL}" y="14">{_clock(lo)}</text>',
        f'<text class="axis" x="{WIDTH - 10}" y="14" text-anchor="end">{_clock(hi)}</text>',
    ]
    for i, run in enumerate(runs):
        y = top + i * ROW
        start = run.start or lo
        end = run.end if run.end is not None else hi
        x, w = start * fx + cx, max(2.0, (end - start) * fx)
        css = "ok" if run.passed else ("cut" if run.status == "interrupted" else "bad")
        parts.append(
            f'<text class="label" x="{LABEL - 6}" y="{y + 12}" text-anchor="end">'
            f"{esc(short(run.name, 28))}</text>"
            f'<rect class="bar {run.phase} {css}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" '
            f'height="{ROW - 5}"><title>{esc(run.phase)} {esc(run.type)} {esc(run.name)}: '
            f"{esc(run.status)}, {run.duration:.3f} s</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: MetricSeries, window: tuple[float, float] | None,
               faults: list[FaultWindow]) -> str:  # fmt: skip
    """A line of one metric series, with the fault windows and the threshold marked."""
    if not series.points:
        why = f" ({esc(series.error)})" if series.error else ""
        return f'<p class="empty">{esc(series.name)}: no samples{why}.</p>'
    height, left, bottom, top = 220, 70, 190, 12
    xs = [x for x, _ in series.points]
    ys = [y for _, y in series.points]
    lo, hi = min(xs), max(xs)
    if window:
        lo, hi = min(lo, window[0]), max(hi, window[1])
    hi = max(hi, lo + 0.001)
    y_values = ys + ([series.threshold] if series.threshold is not None else [])
    y_lo, y_hi = min(0.0, *y_values), max(y_values)
    if y_hi <= y_lo:
        y_hi = y_lo + 1.0
    y_hi += (y_hi - y_lo) * 0.08
    fx, cx = _scale(lo, hi, left, WIDTH - 10)
    fy, cy = _scale(y_lo, y_hi, bottom, top)
    unit = f" ({series.unit})" if series.unit else ""
    points = " ".join(f"{x * fx + cx:.1f},{y * fy + cy:.1f}" for x, y in series.points)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{esc(series.name)}">',
        f"<title>{esc(series.name)}: {esc(series.query)}</title>",
        *_fault_rects(faults, fx, cx, lo, hi, top, bottom - top),
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>',
        f'<text class="axis" x="{left - 4}" y="{top + 8}" text-anchor="end">{y_hi:.3g}</text>',
        f'<text class="axis" x="{left - 4}" y="{bottom}" text-anchor="end">{y_lo:.3g}</text>',
        f'<text class="axis" x="{left}" y="{bottom + 16}">{_clock(lo)}</text>',
        f'<text class="axis" x="{WIDTH - 10}" y="{bottom + 16}" text-anchor="end">{_clock(hi)}</text>',
        f'<text class="axis" x="{(left + WIDTH) / 2:.0f}" y="{bottom + 16}" text-anchor="middle">'
        f"{esc(short(series.name, 60))}{esc(unit)}</text>",
        f'<polyline class="series" points="{points}"/>',
    ]
    if series.threshold is not None:
        y = series.threshold * fy + cy
        parts.append(
            f'<line class="threshold" x1="{left}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}"/>'
            f'<text class="threshold-label" x="{WIDTH - 12}" y="{y - 4:.1f}" text-anchor="end">'
            f"threshold {series.threshold:.4g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: list[float], width: int = 120, height: int = 24) -> str:
    """A small line of percentages (0 to 100), for trends in the GameDay table."""
    if not values:
        return ""
    step = (width - 4) / max(1, len(values) - 1)
    points = " ".join(
        f"{2 + i * step:.1f},{height - 2 - (height - 4) * min(max(v, 0.0), 100.0) / 100:.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="probe success trend">'
        f'<polyline class="series" points="{points}"/></svg>'
    )
