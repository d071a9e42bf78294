"""Inline SVG charts: the activity timeline, and the pieces the metric charts
(:mod:`chaosllm.report.metric_chart`) share with it: scales, the time axis and
the shaded fault windows.

The charts are plain SVG strings, styled by the classes the HTML report
defines, so a report needs no script, no font and no network to show them.
Every text from a journal passes through :func:`esc`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from chaosllm.report.journal import ActivityRun, FaultWindow, Journal, short
from chaosllm.report.ticks import clock, time_ticks

__all__ = ["WIDTH", "esc", "fault_rects", "scale", "sparkline", "time_axis", "timeline"]

WIDTH = 900
LABEL = 190  # left margin for row labels
ROW = 16


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def scale(lo: float, hi: float, left: float, right: float) -> tuple[float, float]:
    span = hi - lo or 1.0
    factor = (right - left) / span
    return factor, left - lo * factor


def fault_rects(
    faults: Iterable[FaultWindow], fx: float, cx: float, lo: float, hi: float, top: float,
    height: float,
) -> list[str]:  # fmt: skip
    """The real windows of the faults, shaded, each titled with what it was and how it ended."""
    rects = []
    for fault in faults:
        start, end = max(fault.start, lo), min(max(fault.end, fault.start), hi)
        if end < start:
            continue
        x, w = start * fx + cx, max(2.0, (end - start) * fx)
        rects.append(
            f'<rect class="fault" x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{height:.1f}" '
            f'data-start="{fault.start:.3f}" data-end="{fault.end:.3f}">'
            f"<title>{esc(fault.kind)} {esc(fault.name)} {esc(fault.target)}: {clock(fault.start)} "
            f"to {clock(fault.end)}{', ' + esc(fault.ended_by) if fault.ended_by else ''}"
            "</title></rect>"
        )
    return rects


def time_axis(lo: float, hi: float, fx: float, cx: float, top: float, bottom: float) -> list[str]:
    """A vertical gridline and a clock label every few seconds, and the axis line."""
    parts = []
    for moment in time_ticks(lo, hi):
        x = moment * fx + cx
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>'
            f'<text class="tick x" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{clock(moment)}</text>"
        )
    parts.append(f'<line class="axis" x1="{fx * lo + cx:.1f}" y1="{bottom}" x2="{fx * hi + cx:.1f}" '
                 f'y2="{bottom}"/>')  # fmt: skip
    return parts


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
    top, height = 8, ROW * len(runs)
    fx, cx = scale(lo, hi, LABEL, WIDTH - 10)
    faults = journal.chaosllm_faults or journal.faults
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{top + height + 24}" viewBox="0 0 {WIDTH} {top + height + 24}" role="img" '
        f'aria-label="activity timeline">',
        *fault_rects(faults, fx, cx, lo, hi, top, height),
        *time_axis(lo, hi, fx, cx, top, top + height),
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
