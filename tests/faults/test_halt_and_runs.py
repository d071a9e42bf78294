"""The halt switch and the run registry beside the fault ledger."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from chaosllm.errors import PolicyViolation
from chaosllm.faults import halt, runs
from chaosllm.faults.ledger import Ledger, cleanup, record_fault, recording


def test_a_halt_refuses_a_fault_before_it_is_recorded(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state" / "ledger.json")
    state, new = halt.set_halt("db migration", "alice@laptop", "laptop")
    assert new and state["reason"] == "db migration"
    again, new = halt.set_halt("another", "bob@ci", "ci")
    assert not new and again["by"] == "alice@laptop"  # the first halt stays as it was
    with pytest.raises(PolicyViolation) as refused, recording("x", ledger) as rec:
        rec.record("module:f", {}, 10.0, "a fault")
    message = str(refused.value)
    assert message.startswith("fault 'a fault' refused: chaos is halted on this machine since ")
    assert "by alice@laptop (reason: db migration)" in message
    assert "chaosllm halt --lift" in message
    assert ledger.entries() == {}
    assert halt.lift_halt() is not None and halt.lift_halt() is None
    assert record_fault("x", "module:f", {}, None, "a fault", ledger)


def test_an_unreadable_halt_file_still_halts(tmp_path: Path) -> None:
    halt.halt_path().parent.mkdir(parents=True, exist_ok=True)
    halt.halt_path().write_text("{not json")
    with pytest.raises(halt.Halted, match="cannot be read"):
        halt.refuse_if_halted("this")


def test_entries_name_their_run_and_a_run_restores_only_its_own(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state" / "ledger.json")
    mine = runs.register_run("mine")
    try:
        record_fault("mine", "module:nothing", {}, None, "my fault", ledger)
    finally:
        runs.unregister_run(mine["run"])
    record_fault("theirs", "module:nothing", {}, None, "their fault", ledger)
    entries = ledger.entries()
    assert entries["mine"]["run"] == mine["run"] and entries["mine"]["pid"] == os.getpid()
    assert entries["theirs"]["run"] is None
    report = cleanup(ledger, run=mine["run"])
    assert [item["id"] for item in report] == ["mine"]  # (its restorer fails: it is no real one)
    assert set(ledger.entries()) == {"mine", "theirs"}


def test_the_registry_lists_live_runs_and_drops_dead_ones(tmp_path: Path) -> None:
    record = runs.register_run("alive")
    assert runs.current_run() == record["run"]
    dead = subprocess.Popen(["true"])
    dead.wait()
    (runs.runs_dir() / f"{dead.pid}.json").write_text(json.dumps({**record, "pid": dead.pid}))
    assert [r["run"] for r in runs.running_runs()] == [record["run"]]
    assert not (runs.runs_dir() / f"{dead.pid}.json").exists()
    runs.unregister_run(record["run"])
    assert runs.running_runs() == [] and runs.current_run() is None
