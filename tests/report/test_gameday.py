"""The GameDay summary: verdicts, SLO compliance, trends and the weighted resilience score."""

from __future__ import annotations

import pytest

from chaosllm.report.gameday import build_gameday, render_gameday_html, render_gameday_markdown
from chaosllm.report.model import load_journal, parse_journal
from chaosllm.report.verdict import run_score
from tests.report.conftest import SAMPLES, sample, slo_journal


def journals() -> list:  # type: ignore[type-arg]
    return [load_journal(path) for path in sorted(SAMPLES.glob("*.json"))]


def test_score_is_weighted_run_score() -> None:
    runs = journals()
    day = build_gameday(runs)
    expected = sum(j.weight * run_score(j) for j in runs) / sum(j.weight for j in runs)
    assert day.score == pytest.approx(expected, abs=0.01)
    # By hand: a passed run (weight 2) counts 100 %; an interrupted one (weight 1) the
    # expected checks that passed (1 of 2); an inconclusive one (weight 2) half its 100 %.
    passed = load_journal(SAMPLES / "effect-observed.json")
    interrupted = load_journal(SAMPLES / "plain-interrupted.json")
    unsure = load_journal(SAMPLES / "effect-none.json")
    assert build_gameday([passed, interrupted, unsure]).score == pytest.approx((2 * 100 + 50 + 2 * 50) / 5)


def test_only_passed_runs_count_as_full_success() -> None:
    failed = load_journal(SAMPLES / "k8s-recovery-failed.json")
    assert failed.probe_success == 100.0 and failed.verdict == "failed"
    # Two probe checks passed, the recovery criterion failed: 2 of 3.
    day = build_gameday([failed])
    assert day.score == pytest.approx(66.67) and day.counts["failed"] == 1
    assert "❌ failed" in render_gameday_markdown(day)
    assert "no recovery within 30s" in render_gameday_markdown(day)
    aborted = load_journal(SAMPLES / "guard-aborted.json")
    assert aborted.probe_success == 100.0 and build_gameday([aborted]).score == 50.0


def test_results_and_grouping() -> None:
    day = build_gameday(journals())
    assert day.counts == {"passed": 5, "failed": 4, "inconclusive": 5, "aborted": 1, "interrupted": 1}
    pause = next(e for e in day.experiments if e.title.startswith("Catalog cache"))
    assert len(pause.runs) == 2 and pause.trend == "50% → 50%"


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
    assert [r.verdict for r in exp.runs] == ["failed", "inconclusive"]
    # 4 of 5 checks that ran passed; then all 5 passed, but the fault's effect is unknown.
    assert exp.trend == "80% ↓ 50%"
    assert exp.slo == (9, 10) and day.slo_compliance == 90.0
    text = render_gameday_markdown(day)
    assert "| 9/10 (90%) | ❌❔ 80% ↓ 50% |" in text
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
    assert day.counts == {"passed": 0, "failed": 1, "inconclusive": 0, "aborted": 0, "interrupted": 0}
    assert day.score == 0.0
    assert "unexpected journal status" in render_gameday_markdown(day)
