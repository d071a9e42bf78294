"""The verdict of a run in every output, fault effects, real windows, time to recover, loads."""

from __future__ import annotations

import copy
import importlib
import json
import re
from typing import Any

import pytest

from chaosllm import ACTIVITY_PACKAGES, _existing
from chaosllm.journal_keys import LOAD_EXTENSION
from chaosllm.report.faults import FAULT_MODULES, NOT_FAULTS, REMOVES, removes
from chaosllm.report.gameday import build_gameday, render_gameday_html, render_gameday_json
from chaosllm.report.html import render_html
from chaosllm.report.junit import render_junit
from chaosllm.report.markdown import render_markdown
from chaosllm.report.model import load_journal, parse_journal
from chaosllm.report.summary import journal_summary
from tests.report.conftest import SAMPLES, sample


def test_a_failed_recovery_criterion_is_failed_in_every_format() -> None:
    journal = load_journal(SAMPLES / "k8s-recovery-failed.json")
    assert journal.state == "completed" and journal.probe_success == 100.0
    assert journal.verdict_reasons == ["method probe 'gateway-recovers' failed: no recovery within 30s"]
    assert render_markdown(journal).splitlines()[2] == "**Verdict**: ❌ failed  "
    html = render_html(journal)
    assert html.index('class="verdict failed"') < html.index("<dl>")
    assert journal_summary(journal)["verdict"] == "failed"
    assert next(iter(journal_summary(journal))) == "verdict"
    junit = render_junit([journal])
    assert '<property name="verdict" value="failed" />' in junit and 'errors="1"' in junit
    day = build_gameday([journal])
    assert day.counts["failed"] == 1 and day.score < 100
    assert json.loads(render_gameday_json(day))["experiments"][0]["runs"][0]["verdict"] == "failed"
    assert 'class="verdict failed"' in render_gameday_html(day)


def test_no_effect_and_unknown_effect_name_the_fault_and_why() -> None:
    none = load_journal(SAMPLES / "effect-none.json")
    [reason] = none.verdict_reasons
    assert "flush-cold-keys" in reason and "no key matched cold:*" in reason and "deleted=0" in reason
    assert "effect none: no key matched cold:\\*" in render_markdown(none)
    unknown = load_journal(SAMPLES / "effect-unknown.json")
    [fault] = unknown.chaosllm_faults
    # The rollback's report wins over the action's "measured when removed".
    assert fault.effect == "unknown" and fault.reason == "the proxy went away before its counters were read"
    assert "the proxy went away" in render_html(unknown)


def test_rollback_effect_replaces_the_action_effect_and_ends_the_window() -> None:
    journal = load_journal(SAMPLES / "partition-healed.json")
    [fault] = journal.chaosllm_faults
    assert fault.effect == "observed" and fault.evidence == {"connections_refused": 57, "connections_cut": 4}
    # Planned for 40 s, healed by the method after 20 s; the later rollback found it gone.
    assert fault.end - fault.start == pytest.approx(20.0)
    assert fault.ended_by == "removed by method 'heal-partition'"
    assert fault.recovery == pytest.approx(4.0)
    text = render_markdown(journal)
    assert "window 10:00:02 to 10:00:22 (20.0 s), removed by method 'heal-partition' (planned 40.0 s)" in text
    assert "time to recover: 4 s" in text
    assert journal_summary(journal)["faults"][0]["recovery_seconds"] == 4.0


def test_a_fault_that_never_recovers_says_so() -> None:
    raw = sample("partition-healed")
    for series in raw["extensions"][0]["series"]:
        series["points"] = [[x, "0.9"] for x, _ in series["points"]]  # above 0.05 throughout
    [fault] = parse_journal(raw).chaosllm_faults
    assert fault.recovery_measured and fault.recovery is None
    assert "time to recover: did not recover within the run" in render_markdown(parse_journal(raw))


def test_a_minimum_threshold_is_met_above_it() -> None:
    # A cache hit ratio of 1.0 against its 80 % objective is within it, not 20 points over.
    raw = sample("partition-healed")
    times = [x for x, _ in raw["extensions"][0]["series"][0]["points"]]
    hits = {"name": "cache hit ratio", "query": "hits / all", "unit": "ratio", "threshold": 0.8,
            "bound": "lower", "points": [[x, "1.0"] for x in times]}
    raw["extensions"][0]["series"].append(hits)
    journal = parse_journal(raw)
    assert journal.chaosllm_faults[0].recovery == pytest.approx(4.0)
    assert "threshold 0.8 ratio, 0 of" in render_markdown(journal) and "below it" in render_markdown(journal)
    assert journal_summary(journal)["metrics"][-1]["bound"] == "lower"
    assert ">threshold 80 % (minimum)</text>" in render_html(journal)
    del hits["bound"]  # read as a maximum, the same samples never recover
    assert parse_journal(raw).chaosllm_faults[0].recovery is None


def test_a_fault_with_no_sample_after_its_end_is_not_measured_rather_than_unrecovered() -> None:
    # A fault that the last rollback removed as the run ended: nothing was sampled after it.
    raw = sample("partition-healed")
    [fault] = parse_journal(raw).chaosllm_faults
    for series in raw["extensions"][0]["series"]:
        series["points"] = [[x, v] for x, v in series["points"] if float(x) < fault.end]
    [cut] = parse_journal(raw).chaosllm_faults
    assert not cut.recovery_measured and cut.recovery is None
    text = render_markdown(parse_journal(raw))
    assert "time to recover: not measured (no metric sample after the fault ended)" in text
    assert journal_summary(parse_journal(raw))["faults"][0]["recovered"] is None
    raw["extensions"] = []
    assert "time to recover: not measured (no SLO series recorded)" in render_markdown(parse_journal(raw))


def test_older_journals_are_unknown_only_where_they_lack_evidence() -> None:
    pause = load_journal(SAMPLES / "redis-pause.json")
    [fault] = pause.chaosllm_faults
    assert fault.effect == "unknown" and "no effect" in fault.reason
    # flush_keys counted what it deleted before effects were reported: that is evidence.
    flush = load_journal(SAMPLES / "redis-flush-deviated.json")
    [fault] = flush.chaosllm_faults
    assert fault.effect == "observed" and fault.evidence["deleted"] > 0
    raw = sample("redis-flush-deviated")
    raw["run"][0]["output"]["deleted"] = 0
    assert parse_journal(raw).chaosllm_faults[0].effect == "none"


def test_not_applicable_before_probe_counts_neither_way() -> None:
    journal = load_journal(SAMPLES / "not-applicable-before.json")
    [before] = journal.before
    assert not before.applicable and not before.counted
    assert journal.probe_success == 100.0 and journal.verdict == "passed"
    text = render_markdown(journal)
    assert (
        "➖ probe **database-breaker-opens-when-unreachable** (before): observed not applicable "
        "(no fault has run yet)" in text
    )
    assert journal_summary(journal)["probes"][0]["passed"] is None
    # Not applicable, and the tolerance not met either: still not counted as a failure.
    raw = sample("not-applicable-before")
    raw["steady_states"]["before"]["probes"][0]["tolerance_met"] = False
    assert parse_journal(raw).verdict == "passed"


def load_journal_with(summary: dict[str, Any] | None, stop_output: dict[str, Any] | None) -> Any:
    raw = copy.deepcopy(sample("effect-observed"))
    if summary is not None:
        raw["extensions"] = [{"name": LOAD_EXTENSION, "summary": summary}]
    if stop_output is not None:
        raw["rollbacks"].append({
            "activity": {"type": "action", "name": "stop-load", "provider": {
                "type": "python", "module": "chaosllm.sandbox.actions", "func": "stop_load"}},
            "output": stop_output, "status": "succeeded",
            "start": "2026-11-27T10:00:04+00:00", "end": "2026-11-27T10:00:04.1+00:00"})  # fmt: skip
    return parse_journal(raw)


def test_a_flood_the_experiment_starts_is_a_fault_with_its_real_window() -> None:
    # Scenario 5: start_load floods ml-recs for up to 25 s; the method stops it after 8 s.
    raw = copy.deepcopy(sample("effect-observed"))
    flood = {"kind": "sandbox-load", "name": "flood", "target": "recs",
             "spec": {"rate": 150, "duration": "25s", "mix": None},
             "started_at": "2026-11-27T10:00:00.500+00:00", "expires_at": "2026-11-27T10:00:25.500+00:00",
             "pid": 4242, "rate": 150, "duration": "25s", "results": "/tmp/flood.jsonl",
             "effect": "unknown", "evidence": {"reason": "requests are counted when the load stops"}}
    stopped = {"name": "flood", "stopped": True, "requests": 1200, "failed": 0, "effect": "observed",
               "evidence": {"requests_sent": 1200, "requests_failed": 0}, "kind": "sandbox-load",
               "removed": True, "ended_at": "2026-11-27T10:00:08.500+00:00"}
    for name, func, output, at in (("flood-ml-recs", "start_load", flood, "00.5"),
                                   ("stop-the-flood", "stop_load", stopped, "08.5")):
        raw["run"].append({
            "activity": {"type": "action", "name": name, "provider": {
                "type": "python", "module": "chaosllm.sandbox.actions", "func": func,
                "arguments": {"name": "flood"}}},
            "output": output, "status": "succeeded",
            "start": f"2026-11-27T10:00:{at}+00:00", "end": f"2026-11-27T10:00:{at}+00:00"})  # fmt: skip
    journal = parse_journal(raw)
    [fault] = [f for f in journal.chaosllm_faults if f.kind == "sandbox-load"]
    assert fault.effect == "observed" and fault.evidence["requests_sent"] == 1200
    assert fault.end - fault.start == pytest.approx(8.0)
    assert fault.ended_by == "removed by method 'stop-the-flood'"
    assert "window 10:00:00 to 10:00:08 (8 s), removed by method 'stop-the-flood' (planned 25.0 s)" in (
        render_markdown(journal))
    assert journal.verdict == "passed"


def test_a_load_that_sent_no_request_makes_the_run_inconclusive() -> None:
    assert load_journal_with({"name": "load", "requests": 240, "failed": 0}, None).verdict == "passed"
    idle = load_journal_with({"name": "load", "stopped": False}, None)
    assert idle.verdict == "inconclusive"
    assert idle.verdict_reasons == ["load 'load' sent no request (load control)"]
    flood = load_journal_with(None, {"name": "flood", "stopped": True, "requests": 0})
    assert flood.verdict_reasons == ["load 'flood' sent no request (rollback 'stop-load')"]
    assert 'name="load: flood"' in render_junit([flood])


@pytest.mark.parametrize("package", [p for p in ACTIVITY_PACKAGES if _existing(f"chaosllm.{p}.actions")])
def test_pairing_table_covers_every_declared_rollback(package: str) -> None:
    module = importlib.import_module(f"chaosllm.{package}.actions")
    name = module.__name__
    assert name in FAULT_MODULES
    for fault, rollback in module.ROLLBACKS.items():
        assert removes(name, rollback, fault) or (name, fault) in NOT_FAULTS, (fault, rollback)
    for (table_module, rollback), _ in REMOVES.items():
        if table_module == name:
            assert rollback in module.__all__, rollback


def test_junit_has_a_case_per_fault_effect() -> None:
    xml = render_junit([load_journal(SAMPLES / "effect-none.json")])
    case = re.search(r'<testcase [^>]*name="fault effect: flush-cold-keys".*?</testcase>', xml, re.S)
    assert case and "<failure" in case.group(0) and "NoEffect" in case.group(0)
