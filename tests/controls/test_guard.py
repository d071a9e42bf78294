"""The abort guard under ``chaos run``: interrupts, records, always rolls back."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos_run import run_experiment
from tests.target import Target, Traffic

# These tests run `chaos run` against live /metrics targets.
pytestmark = pytest.mark.integration


def _guard(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "chaosllm-guard",
        "provider": {"type": "python", "module": "chaosllm.controls.guard", "arguments": arguments},
    }


def _experiment(workdir: Path, method: list[dict[str, Any]], guard: dict[str, Any]) -> dict[str, Any]:
    marker = workdir / "rolled-back"
    return {
        "title": "guarded", "description": "the guard stops a long method",
        "method": method,
        "rollbacks": [{
            "type": "action", "name": "undo",
            "provider": {"type": "process", "path": "sh",
                         "arguments": ["-c", f"echo done >> {marker}"]},
        }],
        "controls": [guard],
    }  # fmt: skip


def _later(seconds: float, action: Any) -> None:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


LONG_PAUSE = [{
    "type": "action", "name": "hold", "provider": {"type": "process", "path": "true"},
    "pauses": {"after": 60},
}]  # fmt: skip
LONG_PROBE = [{
    "type": "probe", "name": "slow-probe",
    "provider": {"type": "process", "path": "sleep", "arguments": "60", "timeout": 90},
}]  # fmt: skip


def _error_guard(target: Target, **extra: Any) -> dict[str, Any]:
    condition = {"scrape": target.url, "error_ratio": {"metric": "http_requests_total"},
                 "above": "5%", **extra}  # fmt: skip
    return _guard({"interval": "250ms", "conditions": [condition]})


def _guard_entry(journal: dict[str, Any]) -> dict[str, Any]:
    entries = [e for e in journal.get("extensions", []) if e.get("name") == "chaosllm-guard"]
    assert len(entries) == 1, journal.get("extensions")
    return entries[0]


def test_breach_interrupts_a_pause_and_the_guard_runs_the_skipped_rollbacks(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    _later(1.5, lambda: setattr(traffic, "error_share", 0.5))
    started = time.monotonic()
    proc, journal = run_experiment(_experiment(tmp_path, LONG_PAUSE, _error_guard(target)), tmp_path)
    assert time.monotonic() - started < 40, "the 60 s pause was not interrupted"
    assert journal["status"] == "interrupted", proc.stderr
    entry = _guard_entry(journal)
    assert entry["aborted"] is True
    assert entry["conditions"][0]["above"] == "5%"
    (breach,) = entry["breaches"]
    assert breach["condition"] == "error_ratio > 0.05"
    assert breach["threshold"] == 0.05 and breach["observed"] > 0.05
    assert breach["source"] == "metrics" and breach["at"].endswith("+00:00")
    # Chaos Toolkit's default strategy skips rollbacks after an interruption: the guard ran them.
    assert entry["rollbacks_run_by"] == "chaosllm-guard"
    assert (tmp_path / "rolled-back").read_text() == "done\n"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["undo"]


def test_breach_interrupts_a_running_process_probe(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    _later(1.5, lambda: setattr(traffic, "error_share", 0.5))
    started = time.monotonic()
    proc, journal = run_experiment(_experiment(tmp_path, LONG_PROBE, _error_guard(target)), tmp_path)
    assert time.monotonic() - started < 40, "the 60 s process probe was not interrupted"
    assert journal["status"] == "interrupted", proc.stderr
    assert _guard_entry(journal)["aborted"] is True
    assert (tmp_path / "rolled-back").read_text() == "done\n"


def test_rollbacks_run_once_when_the_strategy_already_plays_them(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    # breaching from the start: the signal lands during the action, before its pause
    traffic.error_share = 0.5
    started = time.monotonic()
    proc, journal = run_experiment(
        _experiment(tmp_path, LONG_PAUSE, _error_guard(target)), tmp_path,
        extra_args=("--rollback-strategy", "always"),
    )  # fmt: skip
    assert time.monotonic() - started < 40, "the pause after the action was not cut short"
    assert journal["status"] == "interrupted", proc.stderr
    assert _guard_entry(journal)["rollbacks_run_by"] == "chaoslib"
    assert (tmp_path / "rolled-back").read_text() == "done\n"


def test_min_samples_and_for_ignore_a_short_spike(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    def spike() -> None:
        traffic.error_share = 0.5
        time.sleep(0.3)
        traffic.error_share = 0.0

    _later(1.0, spike)
    method = [{"type": "action", "name": "hold", "provider": {"type": "process", "path": "true"},
               "pauses": {"after": 3}}]  # fmt: skip
    guard = _error_guard(target, min_samples=3, **{"for": "1s"})
    proc, journal = run_experiment(_experiment(tmp_path, method, guard), tmp_path)
    assert journal["status"] == "completed", proc.stderr
    entry = _guard_entry(journal)
    assert entry["aborted"] is False and entry["breaches"] == []
    assert entry["rollbacks_run_by"] == "chaoslib"


def test_a_malformed_guard_refuses_the_experiment_before_the_method(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    method = [{"type": "action", "name": "touch",
               "provider": {"type": "process", "path": "touch", "arguments": str(marker)}}]
    guard = _guard({"conditions": [{"query": "up", "above": 1, "below": 2}]})
    proc, journal = run_experiment(_experiment(tmp_path, method, guard), tmp_path)
    # chaos run validates controls first: the experiment never starts.
    assert proc.returncode != 0 and journal.get("status") != "completed"
    assert not marker.exists()
    log = proc.stderr + (tmp_path / "chaostoolkit.log").read_text()
    assert "guard condition 1: give exactly one of 'above' or 'below'" in log


def test_guard_and_audit_declared_in_the_settings_file(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    import yaml

    guard = _error_guard(target)
    settings = {"controls": {
        "chaosllm-guard": {"provider": guard["provider"]},
        "chaosllm-audit": {"provider": {"type": "python", "module": "chaosllm.controls.audit",
                                        "arguments": {"path": str(tmp_path / "audit.jsonl")}}},
    }}  # fmt: skip
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    experiment = _experiment(tmp_path, LONG_PAUSE, guard)
    del experiment["controls"]
    _later(1.0, lambda: setattr(traffic, "error_share", 0.5))
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal["status"] == "interrupted", proc.stderr
    assert _guard_entry(journal)["rollbacks_run_by"] == "chaosllm-guard"
    assert (tmp_path / "rolled-back").read_text() == "done\n"
    audit = (tmp_path / "audit.jsonl").read_text()
    assert '"phase":"rollback"' in audit and '"outcome":"interrupted"' in audit


def test_rollbacks_wait_for_a_background_activity_of_the_method(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    from datetime import datetime

    finished = tmp_path / "background-finished"
    method = [{"type": "action", "name": "bg", "background": True,
               "provider": {"type": "process", "path": "sh",
                            "arguments": ["-c", f"sleep 3; echo done > {finished}"]}},
              *LONG_PAUSE]  # fmt: skip
    _later(0.5, lambda: setattr(traffic, "error_share", 0.5))
    proc, journal = run_experiment(_experiment(tmp_path, method, _error_guard(target)), tmp_path)
    assert journal["status"] == "interrupted", proc.stderr
    assert finished.read_text() == "done\n"  # not left running past the run
    background = next(r for r in journal["run"] if r["activity"]["name"] == "bg")
    rollback = journal["rollbacks"][0]
    assert datetime.fromisoformat(rollback["start"]) >= datetime.fromisoformat(background["end"])


def test_a_settings_file_guard_runs_beside_the_experiments_own_controls(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    import yaml

    guard = _error_guard(target)
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(
        {"controls": {"chaosllm-guard": {"provider": guard["provider"]}}}))
    audit = {"name": "chaosllm-audit",
             "provider": {"type": "python", "module": "chaosllm.controls.audit",
                          "arguments": {"path": str(tmp_path / "audit.jsonl")}}}  # fmt: skip
    experiment = {**_experiment(tmp_path, LONG_PAUSE, guard), "controls": [audit]}
    _later(1.0, lambda: setattr(traffic, "error_share", 0.5))
    started = time.monotonic()
    proc, journal = run_experiment(experiment, tmp_path)
    assert time.monotonic() - started < 40, "the guard from the settings file never started"
    assert journal["status"] == "interrupted", proc.stderr
    assert _guard_entry(journal)["aborted"] is True
    assert (tmp_path / "rolled-back").read_text() == "done\n"


def test_guard_arguments_take_placeholders_from_the_configuration(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    guard = _guard({"interval": "250ms", "conditions": [
        {"scrape": "${metrics_url}", "error_ratio": {"metric": "http_requests_total"},
         "above": "${max_errors}"}]})  # fmt: skip
    experiment = {**_experiment(tmp_path, LONG_PAUSE, guard),
                  "configuration": {"metrics_url": target.url, "max_errors": "5%"}}
    _later(1.0, lambda: setattr(traffic, "error_share", 0.5))
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal["status"] == "interrupted", proc.stderr
    entry = _guard_entry(journal)
    assert entry["breaches"][0]["threshold"] == 0.05
    assert entry["conditions"][0]["above"] == "${max_errors}"  # the journal keeps what was written
