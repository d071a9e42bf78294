"""Inline SVG charts of the metric series the metrics control recorded.

All series of one query share a chart, with a legend. The y axis has ticks in
1-2-5 steps, gridlines and the series' unit; the x axis a clock tick every few
seconds. The scale fits the data: a threshold far above it is marked at the
top edge with its value rather than flattening the lines. The real fault
windows are shaded. Series with no sample get no chart, only one line.
"""

from __future__ import annotations

from chaosllm.report.charts import WIDTH, esc, fault_rects, scale, time_axis
from chaosllm.report.journal import FaultWindow, Journal, MetricSeries, short
from chaosllm.report.ticks import display_unit, nice_ticks, tick_label

__all__ = ["PALETTE", "group_series", "metric_chart", "metric_charts"]

PALETTE = ("#2a62b8", "#d9730d", "#2d7a41", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b")
# A threshold more than this many times the data's peak is marked at the edge.
OFF_SCALE = 4.0
LEFT, TOP, BOTTOM = 70, 30, 210


def group_series(series: list[MetricSeries]) -> list[list[MetricSeries]]:
    """Series of one query (the control names them ``name{labels}``), in order."""
    groups: dict[tuple[str, str], list[MetricSeries]] = {}
    for one in series:
        groups.setdefault((one.query, one.name.split("{", 1)[0]), []).append(one)
    return list(groups.values())


def _legend_label(one: MetricSeries, members: list[MetricSeries]) -> str:
    if len(members) > 1 and "{" in one.name:
        return one.name[one.name.index("{") :]
    return one.name


def metric_chart(members: list[MetricSeries], window: tuple[float, float] | None,
                 faults: list[FaultWindow]) -> str:  # fmt: skip
    """One chart of the series of one query that have samples."""
    drawn = [one for one in members if one.points]
    title = drawn[0].name.split("{", 1)[0]
    xs = [x for one in drawn for x, _ in one.points]
    lo, hi = (min(xs), max(xs)) if window is None else (min(min(xs), window[0]), max(max(xs), window[1]))
    hi = max(hi, lo + 1.0)
    raw_ys = [y for one in drawn for _, y in one.points]
    threshold = next((one.threshold for one in drawn if one.threshold is not None), None)
    minimum = any(one.bound == "lower" for one in drawn if one.threshold is not None)
    factor, unit = display_unit(drawn[0].unit, max(abs(y) for y in raw_ys))  # the data's unit
    ys = [y * factor for y in raw_ys]
    peak, floor = max(ys), min(0.0, min(ys))
    limit = threshold * factor if threshold is not None else None
    on_scale = limit is not None and limit >= floor and (peak <= 0 or limit <= OFF_SCALE * peak)
    ticks = nice_ticks(floor, max(peak, limit) if on_scale and limit is not None else peak, 5)
    y_lo, y_hi = ticks[0], ticks[-1]
    rows = (len(drawn) + 3) // 4
    height = BOTTOM + 44 + 16 * rows
    fx, cx = scale(lo, hi, LEFT, WIDTH - 10)
    fy, cy = scale(y_lo, y_hi, BOTTOM, TOP)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}: {esc(drawn[0].query)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="16">{esc(short(title, 80))}</text>',
        f'<text class="unit" x="{LEFT - 6}" y="{TOP - 8}" text-anchor="end">{esc(unit)}</text>',
        *fault_rects(faults, fx, cx, lo, hi, TOP, BOTTOM - TOP),
    ]
    for tick in ticks:
        y = tick * fy + cy
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}"/>'
            f'<text class="tick y" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(tick_label(tick, ticks))}</text>"
        )
    parts += time_axis(lo, hi, fx, cx, TOP, BOTTOM)
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}"/>')
    for i, one in enumerate(drawn):
        color = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{x * fx + cx:.1f},{y * factor * fy + cy:.1f}" for x, y in sorted(one.points))
        parts.append(f'<polyline class="series" stroke="{color}" points="{points}"/>')
        lx, ly = LEFT + (i % 4) * 205, BOTTOM + 40 + 16 * (i // 4)
        parts.append(
            f'<g class="legend-item"><line x1="{lx}" y1="{ly - 4}" x2="{lx + 16}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="3"/><text class="legend-label" x="{lx + 20}" y="{ly}">'
            f"{esc(short(_legend_label(one, drawn), 30))}</text></g>"
        )
    if limit is not None:
        text = f"threshold {limit:.4g} {unit}" + (" (minimum)" if minimum else "")
        if on_scale:
            y = limit * fy + cy
            parts.append(
                f'<line class="threshold" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}"/>'
                f'<text class="threshold-label" x="{WIDTH - 12}" y="{y - 4:.1f}" text-anchor="end">'
                f"{esc(text)}</text>"
            )
        else:
            parts.append(
                f'<text class="threshold-label off-scale" x="{WIDTH - 12}" y="{TOP - 8}" '
                f'text-anchor="end">▲ {esc(text)} (above the scale)</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def metric_charts(journal: Journal) -> str:
    """Every chart of the journal's metric series, then one line naming those with no samples."""
    faults = journal.chaosllm_faults or journal.faults
    groups = group_series(journal.metrics)
    charts = [metric_chart(g, journal.metrics_window, faults) for g in groups if any(s.points for s in g)]
    empty = [one for one in journal.metrics if not one.points]
    if empty:
        names = ", ".join(
            esc(one.name) + (f" ({esc(short(one.error, 120))})" if one.error else "") for one in empty
        )
        charts.append(f'<p class="empty">No samples: {names}.</p>')
    return "".join(charts)
