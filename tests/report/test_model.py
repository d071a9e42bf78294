"""The journal model: every state, weights, thresholds, faults and the guard, from real journals."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaosllm.report.model import JournalError, load_journal, parse_journal, redact
from tests.report.conftest import SAMPLES, sample, slo_journal

# Each sample's state (how Chaos Toolkit's run ended) and verdict.
EXPECTED = {
    "redis-pause": ("completed", "inconclusive"),  # an older journal: no effect for its pause
    "redis-pause-2": ("completed", "inconclusive"),
    "redis-pause-metrics": ("completed", "inconclusive"),
    "plain-process-completed": ("completed", "passed"),  # plain Chaos Toolkit: completed passes
    "plain-500-activities": ("completed", "passed"),
    "redis-flush-deviated": ("deviated", "failed"),
    "plain-deviated": ("deviated", "failed"),
    "plain-steady-state-failed": ("failed", "failed"),
    "plain-interrupted": ("interrupted", "interrupted"),
    "guard-aborted": ("aborted", "aborted"),
    "effect-observed": ("completed", "passed"),
    "effect-none": ("completed", "inconclusive"),
    "effect-unknown": ("completed", "inconclusive"),
    "partition-healed": ("completed", "passed"),
    "k8s-recovery-failed": ("completed", "failed"),
    "not-applicable-before": ("completed", "passed"),
}


@pytest.mark.parametrize("name,expected", sorted(EXPECTED.items()))
def test_each_sample_has_its_state_and_verdict(name: str, expected: tuple[str, str]) -> None:
    journal = load_journal(SAMPLES / f"{name}.json")
    assert (journal.state, journal.verdict) == expected
    assert (journal.reason == "") == (expected[0] == "completed")
    assert bool(journal.verdict_reasons) == (expected[1] != "passed")


def test_steady_state_not_met_before_is_failed_although_chaoslib_says_completed() -> None:
    raw = sample("plain-steady-state-failed")
    assert raw["status"] == "completed" and raw["deviated"] is False
    journal = parse_journal(raw)
    assert journal.state == "failed"
    assert journal.method == [] and journal.probe_success == 0.0
    assert "health-check" in journal.reason


def test_interrupted_run_has_cut_off_activity_and_no_status_means_interrupted() -> None:
    raw = sample("plain-interrupted")
    journal = parse_journal(raw)
    cut = [run for run in journal.method if run.status == "interrupted"]
    assert [run.name for run in cut] == ["long-maintenance"]
    assert "long-maintenance" in journal.reason
    del raw["status"]
    journal = parse_journal(raw)
    assert journal.state == "interrupted" and journal.status is None
    assert "no status" in journal.reason


def test_guard_abort_wins_over_status_and_keeps_the_breach() -> None:
    raw = sample("guard-aborted")
    assert raw["status"] == "interrupted"
    journal = parse_journal(raw)
    assert journal.state == "aborted" and journal.aborted_by_guard
    [breach] = journal.breaches
    assert breach.condition == "queue backlog > 10000"
    assert breach.observed == 25000.0 and breach.threshold == 10000.0 and breach.at
    assert "queue backlog" in journal.reason
    raw["extensions"][0]["aborted"] = False
    raw["status"] = "completed"
    assert parse_journal(raw).state == "completed"


def test_chaoslib_aborted_status_is_aborted() -> None:
    raw = sample("plain-deviated")
    raw["status"] = "aborted"
    journal = parse_journal(raw)
    assert journal.state == "aborted" and "Chaos Toolkit" in journal.reason


def test_fault_window_from_a_chaosllm_handle_and_from_plain_actions() -> None:
    journal = load_journal(SAMPLES / "redis-pause.json")
    [fault] = journal.faults
    assert fault.kind == "redis-pause" and fault.target.startswith("redis 127.0.0.1:")
    assert fault.end - fault.start == pytest.approx(2.0, abs=0.01)
    # The rollback found the pause already gone: it ended by its own expiry.
    assert fault.ended_by == "expired"
    plain = load_journal(SAMPLES / "plain-deviated.json")
    [window] = plain.faults
    assert window.kind == "action" and window.name == "cleanup-job"
    assert window.start == plain.method[0].start and window.end == plain.method[0].end


def test_weight_from_tag_configuration_or_default() -> None:
    assert load_journal(SAMPLES / "redis-pause.json").weight == 3
    assert load_journal(SAMPLES / "plain-process-completed.json").weight == 2
    assert load_journal(SAMPLES / "plain-interrupted.json").weight == 1
    raw = sample("plain-interrupted")
    raw["experiment"]["configuration"] = {"chaosllm_weight": "4.5"}
    assert parse_journal(raw).weight == 4.5


def test_plain_tolerances_read_as_thresholds() -> None:
    journal = load_journal(SAMPLES / "plain-process-completed.json")
    exits, banner = journal.before
    assert exits.threshold and exits.threshold.text == "= 0" and exits.observed == 0
    assert banner.threshold and banner.threshold.kind == "regex" and "prêt" in banner.threshold.text
    redis = load_journal(SAMPLES / "redis-pause.json")
    available, keys = redis.before
    assert available.threshold and available.threshold.text == "= true"
    assert keys.threshold and keys.threshold.text == "in [50, 1000]" and keys.observed == 100
    raw = sample("plain-deviated")
    probe = raw["steady_states"]["before"]["probes"][0]
    probe["activity"]["tolerance"] = {"type": "jsonpath", "path": "$.status", "expect": "ok"}
    assert parse_journal(raw).before[0].threshold.text == "$.status = ok"  # type: ignore[union-attr]


def test_slo_tolerances_show_bounds_and_count_as_slo_checks() -> None:
    journal = parse_journal(slo_journal())
    texts = {run.name: run.threshold.text for run in journal.after if run.threshold}
    assert texts == {
        "slo-below": "<= 500ms", "slo-above": "> 99%", "slo-between": "in [10, 20]",
        "slo-slo_met": "SLO met, burn rate <= 10",
    }  # fmt: skip
    assert len(journal.slo_checks) == 5
    assert [run.passed for run in journal.after] == [True, False, True, True]
    assert journal.after[3].observed == 0.999
    below, above = journal.after[0].threshold, journal.after[1].threshold
    assert below and below.upper == 0.5 and above and above.lower == 0.99
    assert journal.state == "deviated"


def test_slo_tolerances_from_a_real_run() -> None:
    journal = load_journal(SAMPLES / "redis-flush-deviated.json")
    checks = {(run.phase, run.name): run for run in journal.slo_checks}
    assert set(checks) == {("before", "catalog-keys"), ("before", "few-clients"),
                           ("after", "catalog-keys")}  # fmt: skip
    after = checks[("after", "catalog-keys")]
    assert after.observed == 0 and not after.passed
    assert after.threshold and after.threshold.text == "in [50, 1000]"
    assert checks[("before", "few-clients")].threshold.text == "< 100"  # type: ignore[union-attr]
    # Two probes ran before and passed; of the one that ran after, none passed: 2 of 3.
    assert journal.probe_success == 66.67


def test_probe_success_counts_only_checks_that_ran() -> None:
    assert load_journal(SAMPLES / "redis-pause.json").probe_success == 100.0
    # One probe declared, run before (passed) and never after: 1 of 1 that ran...
    interrupted = load_journal(SAMPLES / "plain-interrupted.json")
    assert interrupted.probe_success == 100.0
    # ... while Litmus's expected checks count the one that never ran as failed.
    assert interrupted.expected_success == 50.0
    assert load_journal(SAMPLES / "plain-deviated.json").probe_success == 50.0
    aborted = load_journal(SAMPLES / "guard-aborted.json")
    assert [run.passed for run in aborted.before + aborted.after] == [True]
    assert aborted.probe_success == 100.0


def test_metrics_extension_is_read() -> None:
    journal = load_journal(SAMPLES / "redis-pause-metrics.json")
    latency = journal.metrics[0]
    assert latency.name == "cache write latency" and latency.threshold == 0.5
    assert len(latency.points) >= 5 and journal.metrics_window
    assert max(y for _, y in latency.points) > 0.5  # the pause shows in the series


def test_500_activities() -> None:
    journal = load_journal(SAMPLES / "plain-500-activities.json")
    assert len(journal.method) == 498 and journal.state == "completed"


def test_secrets_are_hidden_and_never_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAMPLE_REDIS_PASSWORD", raising=False)
    raw = sample("redis-pause")
    raw["experiment"]["secrets"]["inline"] = {"token": "tok-1234-secret"}
    raw["run"][1]["output"] = {"url": "redis://user:hunter2@db:6379/0", "echo": "tok-1234-secret",
                               "password": "plain"}  # fmt: skip
    journal = parse_journal(raw)
    text = journal.method[1].output
    assert "hunter2" not in text and "tok-1234-secret" not in text and "plain" not in text
    assert "redis://user:***@db:6379/0" in text


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ('{"title": "an experiment, not a journal"}', "is not a Chaos Toolkit journal"),
    ("[]", "is not a Chaos Toolkit journal"),
])  # fmt: skip
def test_bad_files_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(JournalError, match=message) as info:
        load_journal(path)
    assert str(path) in str(info.value)


def test_nested_secrets_are_hidden_under_secret_keys_and_by_value() -> None:
    value = {"auth": {"user": "u"}, "api-key": 1, "items": ["Bearer b-1", {"dsn": "x://u:pw@h"}],
             "note": "known s3cret-value here"}  # fmt: skip
    assert redact(value, frozenset({"s3cret-value"})) == {
        "auth": "***", "api-key": "***", "items": ["Bearer ***", {"dsn": "x://u:***@h"}],
        "note": "known *** here",
    }  # fmt: skip


@pytest.mark.parametrize("limit,text,number", [
    ("1m", "< 1m", 60.0), ("250ms", "< 250ms", 0.25), (" 5% ", "< 5%", 0.05), ("2", "< 2", 2.0),
    ("1 s", "< 1 s", None), ("abc", "< abc", None), ("inf", "< inf", None), (True, "< true", None),
    ({"x": 1}, '< {"x": 1}', None), (None, "< null", None),
])  # fmt: skip
def test_slo_thresholds_are_read_as_the_tolerance_reads_them(
    limit: object, text: str, number: float | None
) -> None:
    raw = slo_journal()
    raw["steady_states"]["after"]["probes"][0]["activity"]["tolerance"]["provider"]["arguments"] = {
        "threshold": limit}  # fmt: skip
    threshold = parse_journal(raw).after[0].threshold
    assert threshold and threshold.slo and threshold.text == text and threshold.upper == number


def test_reports_load_only_the_shared_contracts_of_chaosllm() -> None:
    # Nor chaoslib: the SLO threshold parser (and chaoslib with it) loads only when a journal has one.
    modules = ["model", "command", "html", "junit", "markdown", "gameday", "summary"]
    code = (
        f"import sys, {', '.join('chaosllm.report.' + m for m in modules)}; "
        "print(*sorted(m for m in sys.modules if m.startswith(('chaosllm', 'chaoslib'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    outside = [m for m in loaded.stdout.split() if not m.startswith("chaosllm.report")]
    assert outside == ["chaosllm", "chaosllm.journal_keys", "chaosllm.redaction"]


def test_malformed_parts_do_not_crash() -> None:
    raw = sample("redis-pause")
    variants = []
    for key in ("run", "rollbacks", "steady_states", "start", "end", "extensions"):
        for junk in (None, 3, "x", [1, "y", None], {"a": 1}):
            variant = copy.deepcopy(raw)
            variant[key] = junk
            variants.append(variant)
    tolerance_junk = [{"type": "range", "range": {"a": 1}}, {"type": "probe"}, [1, "x", 2], {}]
    for junk in tolerance_junk:
        variant = copy.deepcopy(raw)
        variant["steady_states"]["before"]["probes"][0]["activity"]["tolerance"] = junk
        variants.append(variant)
    for variant in variants:
        journal = parse_journal(json.loads(json.dumps(variant)))
        assert journal.state in ("completed", "failed", "interrupted", "deviated", "aborted")


def test_summary_loading_gives_the_same_verdicts() -> None:
    for path in sorted(SAMPLES.glob("*.json")):
        full, light = load_journal(path), load_journal(path, detail=False)
        assert (light.state, light.probe_success, light.reason, light.weight) == (
            full.state, full.probe_success, full.reason, full.weight)  # fmt: skip
        assert (light.verdict, light.verdict_reasons, light.faults) == (
            full.verdict, full.verdict_reasons, full.faults)  # fmt: skip
        assert all(run.output == "" for run in light.method)


@pytest.mark.parametrize("status,shown", [
    ("bogus", "'bogus'"), (["x"], """'["x"]'"""), ("", "''"), (0, "'0'"),
])  # fmt: skip
def test_unknown_status_is_failed_and_named(status: object, shown: str) -> None:
    raw = sample("redis-pause")
    raw["status"] = status
    journal = parse_journal(raw)
    assert journal.state == "failed" and journal.unknown_status
    assert journal.probe_success == 0.0
    assert journal.reason.startswith(f"unexpected journal status {shown}: Chaos Toolkit writes")


def test_null_status_is_still_interrupted() -> None:
    raw = sample("redis-pause")
    raw["status"] = None
    journal = parse_journal(raw)
    assert journal.state == "interrupted" and not journal.unknown_status
    assert "no status" in journal.reason


def test_secret_pairs_and_bearer_tokens_are_hidden() -> None:
    raw = sample("redis-pause")
    raw["run"][1]["output"] = {
        "dsn": "host=db user=app password=hunter2 sslpassword='s3 cr3t' dbname=shop",
        "log": "GET /v1?api_key=k-123&x=1 Authorization: Bearer eyJhbGci.x-y_z sent",
        "more": "secret=sh-99 access_token = tk-777, Bearer bare-555",
    }  # fmt: skip
    raw["run"][1]["status"] = "failed"
    raw["run"][1]["exception"] = ["Traceback\n", "ActivityFailed: 'Authorization: Basic dXNlcjpw'"
                                  " rejected for PASSWORD=pw-987\n"]  # fmt: skip
    journal = parse_journal(raw)
    run = journal.method[1]
    for secret in ("hunter2", "s3 cr3t", "k-123", "eyJhbGci", "sh-99", "tk-777", "bare-555",
                   "dXNlcjpw", "pw-987"):  # fmt: skip
        assert secret not in run.output + str(run.error), secret
    assert "user=app password=*** sslpassword=*** dbname=shop" in run.output
    assert "Authorization: Bearer *** sent" in run.output
    assert "'Authorization: Basic ***' rejected for PASSWORD=***" in str(run.error)
    assert redact("max_tokens=100 passwordless=true") == "max_tokens=100 passwordless=true"


def test_a_status_tolerance_on_a_criterion_reads_as_an_slo_check() -> None:
    raw = sample("plain-deviated")
    probe = raw["steady_states"]["before"]["probes"][0]
    probe["activity"]["tolerance"] = ["met"]
    probe["activity"]["provider"] = {"type": "python", "module": "chaosllm.slo.probes",
                                     "func": "slo_status"}  # fmt: skip
    probe["output"] = {"name": "gateway_latency_p95", "value": 0.31, "met": True, "status": "met"}
    probe["tolerance_met"] = True
    run = parse_journal(raw).before[0]
    assert run.threshold and run.threshold.text == "status met" and run.threshold.slo
    assert run.observed == 0.31
    # A list tolerance on a plain value is still "one of".
    probe["output"] = "ok"
    run = parse_journal(raw).before[0]
    assert run.threshold and run.threshold.text.startswith("one of") and not run.threshold.slo


def test_a_probe_of_several_slos_is_one_criterion_per_slo_in_every_format(tmp_path: Path) -> None:
    from chaosllm.report.junit import render_junit
    from chaosllm.report.markdown import md, render_markdown

    raw = sample("plain-deviated")
    state = raw["steady_states"]["after"] or raw["steady_states"]["before"]
    probe = state["probes"][0]
    probe["activity"]["tolerance"] = ["met"]
    probe["activity"]["name"] = "slos-met"
    probe["activity"]["provider"] = {"type": "python", "module": "chaosllm.slo.probes", "func": "slo_status",
                                     "arguments": {"names": ["traffic", "gateway_error_ratio"]}}  # fmt: skip
    raw["experiment"]["steady-state-hypothesis"]["probes"][0] = probe["activity"]
    probe["output"] = {"status": "missed", "met": False, "slos": [
        {"name": "traffic", "value": 4.5, "met": True, "status": "met"},
        {"name": "gateway_error_ratio", "value": 0.08, "met": False, "status": "missed"}]}
    probe["tolerance_met"] = False
    journal = parse_journal(raw)
    runs = [r for r in (journal.after or journal.before) if r.name.startswith("slos-met")]
    assert [(r.name, r.passed, r.observed) for r in runs] == [
        ("slos-met: traffic", True, 4.5), ("slos-met: gateway_error_ratio", False, 0.08)]
    assert all(r.threshold and r.threshold.slo and r.threshold.text == "status met" for r in runs)
    declared = len(raw["experiment"]["steady-state-hypothesis"]["probes"])
    assert journal.declared_probes == declared + 1
    markdown = render_markdown(journal)
    assert md("slos-met: gateway_error_ratio") in markdown and "slos-met: traffic" in markdown
    junit = render_junit([journal])
    assert junit.count("slos-met: ") >= 2
    # A probe that failed outright (no result) stays one criterion.
    probe["output"] = None
    probe["status"] = "failed"
    again = parse_journal(raw)
    assert {r.name for r in again.before + again.after if r.name.startswith("slos-met")} == {"slos-met"}
