"""Chart axes a reviewer can read: 1-2-5 ticks, clock ticks, units, one chart per query."""

from __future__ import annotations

import re

import pytest

from chaosllm.report.journal import MetricSeries
from chaosllm.report.metric_chart import metric_chart, metric_charts
from chaosllm.report.model import load_journal
from chaosllm.report.ticks import display_unit, nice_ticks, tick_label, time_ticks
from tests.report.conftest import SAMPLES


@pytest.mark.parametrize("lo,hi,ticks", [
    (0, 20, [0, 5, 10, 15, 20]),
    (0, 0.023, [0, 0.005, 0.01, 0.015, 0.02, 0.025]),
    (0, 1000, [0, 200, 400, 600, 800, 1000]),
    (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (2, 4, [2, 2.5, 3, 3.5, 4]),
])  # fmt: skip
def test_nice_ticks_step_by_1_2_5(lo: float, hi: float, ticks: list[float]) -> None:
    assert nice_ticks(lo, hi) == pytest.approx(ticks)


def test_tick_labels_have_the_decimals_the_step_needs() -> None:
    assert [tick_label(t, [0, 0.005]) for t in (0, 0.005, 0.01)] == ["0.000", "0.005", "0.010"]
    assert [tick_label(t, [0, 200]) for t in (0, 200)] == ["0", "200"]


def test_time_ticks_every_few_seconds_on_whole_multiples() -> None:
    assert time_ticks(100.3, 130.0) == [105, 110, 115, 120, 125, 130]
    assert time_ticks(0, 6) == [0, 1, 2, 3, 4, 5, 6]
    ticks = time_ticks(0, 600)
    assert ticks[1] - ticks[0] == 120 and len(ticks) <= 8


def test_units() -> None:
    assert display_unit("s", 0.02) == (1000.0, "ms")
    assert display_unit("s", 3.0) == (1.0, "s")
    assert display_unit("ratio", 0.3) == (100.0, "%")
    assert display_unit(None, 4) == (1.0, "count")
    assert display_unit("rps", 4) == (1.0, "req/s")


def series(name: str, values: list[float], threshold: float | None = None, unit: str = "s",
           query: str = "q") -> MetricSeries:  # fmt: skip
    return MetricSeries(name, query, unit, threshold, [(1000.0 + i, v) for i, v in enumerate(values)])


def test_a_threshold_far_above_the_data_is_marked_at_the_edge() -> None:
    svg = metric_chart([series("p95", [0.018, 0.02, 0.022], threshold=1.0)], None, [])
    labels = re.findall(r'<text class="tick y"[^>]*>([^<]+)</text>', svg)
    assert labels == ["0", "5", "10", "15", "20", "25"]  # in ms, scaled to the data
    assert "▲ threshold 1000 ms (above the scale)" in svg and 'class="threshold"' not in svg
    near = metric_chart([series("p95", [0.4, 0.6], threshold=1.0)], None, [])
    assert 'class="threshold"' in near and "threshold 1000 ms" in near


def test_series_of_one_query_share_a_chart_and_empty_ones_get_one_line() -> None:
    journal = load_journal(SAMPLES / "partition-healed.json")
    html = metric_charts(journal)
    assert html.count('<svg class="chart"') == 2  # p95, and both error-ratio series together
    assert re.findall(r'class="legend-label"[^>]*>([^<]+)<', html) == [
        "p95 latency",
        "{service=&quot;gateway&quot;}",
        "{service=&quot;catalog&quot;}",
    ]
    assert html.endswith('<p class="empty">No samples: queue depth.</p>')
