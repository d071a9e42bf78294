"""The rollbacks control under ``chaos run``: every interruption rolls back, once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chaosllm.faults.ledger import Ledger, record_fault
from tests.controls.interrupting import (
    ROLLBACKS_CONTROL,
    Run,
    extension,
    freeze_experiment,
    ledger_entries,
    runs_left,
    sleeper,
    state_of,
)
from tests.target import Target, Traffic

# These tests run `chaos run` and signal it.
pytestmark = pytest.mark.integration
PAUSING = "Pausing after activity"


def _state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _marker_rollback(marker: Path) -> dict[str, Any]:
    return {"type": "action", "name": "mark",
            "provider": {"type": "process", "path": "sh",
                         "arguments": ["-c", f"echo once >> {marker}"]}}  # fmt: skip


@pytest.mark.parametrize("strategy", ["default", "never", "always", "deviated"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_method_plays_the_rollbacks_once(
    tmp_path: Path, signum: int, strategy: str
) -> None:
    marker = tmp_path / "rolled-back"
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile)
        experiment["rollbacks"].append(_marker_rollback(marker))
        run = Run(experiment, tmp_path / "run", "--rollback-strategy", strategy)
        run.wait_for(PAUSING)
        assert state_of(frozen.pid) == "T", run.output
        assert len(runs_left(_state(tmp_path))) == 1  # registered for `chaosllm halt`
        run.signal(signum)
        code, journal = run.finish(60)
        assert state_of(frozen.pid) != "T", run.output
    assert code == 1 and journal["status"] == "interrupted", run.output
    assert marker.read_text() == "once\n"  # every rollback ran, exactly once
    entry = extension(journal)
    name = signal.Signals(signum).name
    assert entry["interrupted_by"] == name
    assert entry["rollbacks_run_by"] == ("chaoslib" if strategy == "always" else "chaosllm-rollbacks")
    assert entry["left"] == [] and entry["message"] == "nothing left in force"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["thaw", "mark"]
    assert f"interrupted ({name}); rolled back by " in run.output
    assert "thaw (succeeded), mark (succeeded)" in run.output
    assert "nothing left in force" in run.last_line
    assert ledger_entries(_state(tmp_path)) == {} and runs_left(_state(tmp_path)) == []


def test_the_guard_and_the_control_together_roll_back_once(
    tmp_path: Path, target: Target, traffic: Traffic
) -> None:
    marker = tmp_path / "rolled-back"
    guard = {"name": "chaosllm-guard", "provider": {
        "type": "python", "module": "chaosllm.controls.guard",
        "arguments": {"interval": "250ms", "conditions": [
            {"scrape": target.url, "error_ratio": {"metric": "http_requests_total"},
             "above": "5%"}]}}}  # fmt: skip
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile)
        experiment["rollbacks"].append(_marker_rollback(marker))
        experiment["controls"] = [guard, ROLLBACKS_CONTROL]
        run = Run(experiment, tmp_path / "run")
        run.wait_for(PAUSING)
        traffic.error_share = 0.5  # the guard aborts
        run.wait_for("Experiment ended")
        run.signal(signal.SIGINT)  # and Ctrl-C while it rolls back changes nothing
        code, journal = run.finish(60)
        assert state_of(frozen.pid) != "T"
    assert journal["status"] == "interrupted", run.output
    assert marker.read_text() == "once\n"
    guard_entry = next(e for e in journal["extensions"] if e["name"] == "chaosllm-guard")
    assert guard_entry["aborted"] is True
    assert extension(journal)["rollbacks_run_by"] == guard_entry["rollbacks_run_by"] == "chaosllm-guard"
    assert ledger_entries(_state(tmp_path)) == {}


def test_an_exception_in_the_method_plays_the_rollbacks_once(tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile, pause=0)
        # a reference to an activity that does not exist raises out of chaoslib's method
        experiment["method"].append({"ref": "no-such-activity"})
        experiment["rollbacks"].append(_marker_rollback(marker))
        run = Run(experiment, tmp_path / "run", "--no-validation", "--rollback-strategy", "never")
        code, journal = run.finish(60)
        assert state_of(frozen.pid) != "T", run.output
    assert journal["status"] == "aborted", run.output
    assert marker.read_text() == "once\n"
    entry = extension(journal)
    assert entry["interrupted_by"].startswith("exception")
    assert entry["rollbacks_run_by"] == "chaosllm-rollbacks"
    assert ledger_entries(_state(tmp_path)) == {}


def test_a_crash_that_escapes_chaoslib_still_rolls_back(tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    # A BaseException that is neither Ctrl-C nor an exit escapes chaoslib's run altogether.
    (workdir / "crashing.py").write_text(
        "class Crash(BaseException):\n    pass\n\n\ndef crash() -> None:\n    raise Crash('boom')\n")
    marker = tmp_path / "rolled-back"
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile, pause=0)
        experiment["method"].append({"type": "action", "name": "crash", "provider": {
            "type": "python", "module": "crashing", "func": "crash"}})  # fmt: skip
        experiment["rollbacks"].append(_marker_rollback(marker))
        run = Run(experiment, workdir, env={"PYTHONPATH": str(workdir)})
        code, _ = run.finish(60)
        assert state_of(frozen.pid) != "T", run.output
    assert code != 0
    assert marker.read_text() == "once\n"
    assert "rolled back by chaosllm-rollbacks: thaw (succeeded), mark (succeeded)" in run.output
    assert ledger_entries(_state(tmp_path)) == {} and runs_left(_state(tmp_path)) == []


def test_faults_the_rollbacks_missed_are_restored_from_the_ledger_and_only_this_runs(
    tmp_path: Path,
) -> None:
    state = _state(tmp_path)
    # A fault of another run, still in force: not this run's to restore.
    record_fault("other-run", "module:nothing", {}, None, "another run's fault",
                 Ledger(state / "ledger.json"))  # fmt: skip
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile)
        experiment["rollbacks"] = []  # the experiment forgot its rollback
        run = Run(experiment, tmp_path / "run")
        run.wait_for(PAUSING)
        run.signal(signal.SIGTERM)
        _, journal = run.finish(60)
        assert state_of(frozen.pid) != "T", run.output
    entry = extension(journal)
    assert entry["restored_from_ledger"] == [f"SIGSTOP {frozen.pid} (pidfile {pidfile})"]
    assert "restored from the ledger: SIGSTOP" in run.output
    assert list(ledger_entries(state)) == ["other-run"]


def test_a_third_signal_leaves_at_once_and_names_chaosllm_cleanup(tmp_path: Path) -> None:
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile)
        slow = {"type": "action", "name": "slow-first",
                "provider": {"type": "process", "path": "sleep", "arguments": "5"}}  # fmt: skip
        experiment["rollbacks"].insert(0, slow)
        run = Run(experiment, tmp_path / "run")
        run.wait_for(PAUSING)
        run.signal(signal.SIGINT)
        run.wait_for("Rollback: slow-first")
        run.signal(signal.SIGINT)
        run.wait_for("the rollbacks finish first")
        run.signal(signal.SIGINT)
        _, journal = run.finish(60)
        assert state_of(frozen.pid) == "T"  # left frozen: the user asked to leave now
    assert "chaosllm cleanup" in run.last_line, run.output
    assert "may still be in force" in run.last_line
    entry = extension(journal)
    assert entry["left"] and "chaosllm cleanup" in entry["message"]
    assert journal["extensions"][-1]["name"] == "chaosllm-rollbacks"  # its message ends the journal
    assert list(ledger_entries(_state(tmp_path)))  # for `chaosllm cleanup`


def test_the_settings_file_enables_it_for_every_run(tmp_path: Path) -> None:
    import yaml

    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "settings.yaml").write_text(yaml.safe_dump(
        {"controls": {"chaosllm-rollbacks": {"provider": ROLLBACKS_CONTROL["provider"]}}}))
    with sleeper(tmp_path) as (frozen, pidfile):
        experiment = freeze_experiment(pidfile)
        audit = {"type": "python", "module": "chaosllm.controls.audit"}
        experiment["controls"] = [{"name": "other", "provider": audit}]
        run = Run(experiment, workdir)
        run.wait_for(PAUSING)
        run.signal(signal.SIGINT)
        _, journal = run.finish(60)
        assert state_of(frozen.pid) != "T", run.output
    assert extension(journal)["rollbacks_run_by"] == "chaosllm-rollbacks"


def test_a_control_that_cannot_set_up_refuses_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with sleeper(tmp_path) as (frozen, pidfile):
        run = Run(freeze_experiment(pidfile), tmp_path / "run",
                  env={"CHAOSLLM_STATE_DIR": str(blocker)})  # fmt: skip
        _, journal = run.finish(60)
        assert state_of(frozen.pid) != "T"
    assert journal["status"] == "interrupted"
    assert "chaosllm rollbacks: could not set up" in run.output
    assert "the experiment is refused" in run.output
    assert not journal.get("run")  # the method never ran


def test_a_halt_refuses_the_run_and_a_fault_without_the_control(tmp_path: Path) -> None:
    from chaosllm.faults.halt import set_halt

    set_halt("incident 42", "alice@laptop", "laptop")
    with sleeper(tmp_path) as (frozen, pidfile):
        run = Run(freeze_experiment(pidfile), tmp_path / "with")
        _, journal = run.finish(60)
        assert journal["status"] == "interrupted" and not journal.get("run")
        assert "this experiment refused: chaos is halted on this machine since" in run.output
        assert "by alice@laptop (reason: incident 42)" in run.output
        bare = freeze_experiment(pidfile, pause=0)
        del bare["controls"]
        run = Run(bare, tmp_path / "without")
        _, journal = run.finish(60)
        assert state_of(frozen.pid) != "T"
    (action,) = journal["run"]
    assert action["status"] == "failed"
    assert "chaos is halted on this machine" in "".join(action["exception"])
    assert "chaosllm halt --lift" in "".join(action["exception"])
    assert ledger_entries(_state(tmp_path)) == {}


def test_halt_aborts_concurrent_runs_refuses_a_third_and_lift_allows_it(tmp_path: Path) -> None:
    import subprocess

    from tests.chaos_run import CHAOSLLM, chaos_env

    runs, frozen = [], []
    with sleeper(tmp_path, "a") as (a, pid_a), sleeper(tmp_path, "b") as (b, pid_b):
        for name, pidfile in (("a", pid_a), ("b", pid_b)):
            runs.append(Run(freeze_experiment(pidfile), tmp_path / name))
        for run in runs:
            run.wait_for(PAUSING)
        frozen = [state_of(a.pid), state_of(b.pid)]
        halted_at = time.monotonic()
        halt = subprocess.run([*CHAOSLLM, "halt", "--reason", "stop the drill", "--json"],
                              capture_output=True, text=True, env=chaos_env(), timeout=60)  # fmt: skip
        results = [run.finish(30) for run in runs]
        latencies = [run.ended_at - halted_at for run in runs if run.ended_at]
        thawed = [state_of(a.pid), state_of(b.pid)]
        third = Run(freeze_experiment(pid_a, pause=0), tmp_path / "c")
        _, refused = third.finish(60)
        lifted = subprocess.run([*CHAOSLLM, "halt", "--lift"], capture_output=True, text=True,
                                env=chaos_env(), timeout=60)  # fmt: skip
        fourth = Run(freeze_experiment(pid_a, pause=0), tmp_path / "d")
        _, allowed = fourth.finish(60)
    assert frozen == ["T", "T"] and "T" not in thawed
    assert halt.returncode == 0, halt.stderr
    summary = json.loads(halt.stdout)
    assert summary["reason"] == "stop the drill" and len(summary["runs"]) == 2
    for (_code, journal), run in zip(results, runs, strict=True):
        assert journal["status"] == "interrupted", run.output
        assert extension(journal)["interrupted_by"] == "halt"
        assert "chaos is halted on this machine" in run.output
    # Within 1 s each on an idle machine (benchmarks/halt_latency.py); slack for a loaded one.
    assert len(latencies) == 2 and max(latencies) < 3.0, latencies
    assert refused["status"] == "interrupted" and not refused.get("run")
    assert "reason: stop the drill" in third.output
    assert lifted.returncode == 0 and "halt lifted" in lifted.stdout
    assert allowed["status"] == "completed", fourth.output
    audit = [json.loads(line) for line in (_state(tmp_path) / "audit.jsonl").read_text().splitlines()]
    # the refused third run is in the audit log as well, between the halt and the lift
    assert [e["event"] for e in audit] == ["halt", "control-refused", "lift"]
    assert audit[1]["control"] == "chaosllm-rollbacks" and "halted" in audit[1]["error"]
    assert audit[0]["reason"] == "stop the drill" and audit[0]["runs_stopped"] == 2
