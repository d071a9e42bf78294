"""One stop_stress that stops several runs gives each fault its own effect and end in the report."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chaosllm.faults import utcnow_iso
from chaosllm.report.model import parse_journal
from chaosllm.stress import actions

pytestmark = pytest.mark.integration


def _run(func: str, arguments: dict[str, Any], output: Any, start: str) -> dict[str, Any]:
    return {"activity": {"type": "action", "name": func, "provider": {
        "type": "python", "module": "chaosllm.stress.actions", "func": func, "arguments": arguments}},
        "status": "succeeded", "start": start, "end": utcnow_iso(), "duration": 0.1, "output": output}


def test_each_stress_fault_gets_its_own_report_from_one_stop() -> None:
    started = utcnow_iso()
    cpu_args = {"workers": 1, "load": 50, "duration": "20s"}
    memory_args = {"size": "32MB", "duration": "20s"}
    cpu = _run("stress_cpu", cpu_args, actions.stress_cpu(**cpu_args), started)
    memory = _run("stress_memory", memory_args, actions.stress_memory(**memory_args), utcnow_iso())
    time.sleep(2)
    stop_start = utcnow_iso()
    stopped = actions.stop_stress()
    assert len(stopped["faults"]) == 2
    journal = {"chaoslib-version": "1.44.0", "experiment": {"title": "stress", "description": "d"},
               "status": "completed", "deviated": False, "start": started, "end": utcnow_iso(),
               "steady_states": {"before": None, "after": None, "during": []},
               "run": [cpu, memory], "rollbacks": [_run("stop_stress", {}, stopped, stop_start)]}
    faults = parse_journal(journal).chaosllm_faults
    assert [f.kind for f in faults] == ["stress-cpu", "stress-memory"]
    for fault in faults:
        assert fault.ended_by == "removed by rollback 'stop_stress'", fault
        assert fault.effect == "observed", (fault.effect, fault.reason, fault.evidence)
        assert 1.5 < fault.end - fault.start < 10
