"""The GameDay summary: results, SLO compliance, trends and the Litmus resilience score."""

from __future__ import annotations

import pytest

from chaosllm.report.gameday import build_gameday, render_gameday_html, render_gameday_markdown
from chaosllm.report.model import load_journal, parse_journal
from tests.report.conftest import SAMPLES, sample, slo_journal


def journals() -> list:  # type: ignore[type-arg]
    return [load_journal(path) for path in sorted(SAMPLES.glob("*.json"))]


def test_score_is_weighted_probe_success() -> None:
    runs = journals()
    day = build_gameday(runs)
    expected = sum(j.weight * j.probe_success for j in runs) / sum(j.weight for j in runs)
    assert day.score == pytest.approx(expected, abs=0.01)
    # By hand for two runs: weight 3 at 100% and weight 1 at 50%.
    pause = load_journal(SAMPLES / "redis-pause.json")
    interrupted = load_journal(SAMPLES / "plain-interrupted.json")
    assert build_gameday([pause, interrupted]).score == pytest.approx((3 * 100 + 1 * 50) / 4)


def test_results_and_grouping() -> None:
    day = build_gameday(journals())
    assert day.counts == {"pass": 5, "fail": 3, "aborted": 2}
    pause = next(e for e in day.experiments if e.title.startswith("Catalog cache"))
    assert len(pause.runs) == 2 and pause.trend == "100% → 100%"


def test_trend_and_slo_compliance() -> None:
    deviated = parse_journal(slo_journal())  # 4 of 8 checks passed
    later = slo_journal()  # every check that ran passed: 5 of 8
    for probe in later["steady_states"]["after"]["probes"]:
        probe["tolerance_met"] = True
    later["deviated"] = False
    later["start"] = "2099-01-01T00:00:00+00:00"
    day = build_gameday([parse_journal(later), deviated])
    [exp] = day.experiments
    assert [r.state for r in exp.runs] == ["deviated", "completed"]  # sorted by start
    assert exp.trend == "50% ↑ 62.5%"
    assert exp.slo == (9, 10) and day.slo_compliance == 90.0
    text = render_gameday_markdown(day)
    assert "| 9/10 (90%) | ❌✅ 50% ↑ 62.5% |" in text
    html = render_gameday_html(day)
    assert 'class="spark"' in html


def test_summary_escapes_titles() -> None:
    raw = sample("plain-deviated")
    raw["experiment"]["title"] = "<script>alert(1)</script>"
    day = build_gameday([parse_journal(raw)])
    assert "<script>" not in render_gameday_html(day)
    assert "\\<script\\>" in render_gameday_markdown(day)


@pytest.mark.parametrize("status", ["bogus", ["x"]])
def test_unknown_status_is_not_a_pass(status: object) -> None:
    raw = sample("redis-pause")
    raw["status"] = status
    day = build_gameday([parse_journal(raw)])
    assert day.counts == {"pass": 0, "fail": 1, "aborted": 0}
    assert day.score == 0.0
    assert "unexpected journal status" in render_gameday_markdown(day)
