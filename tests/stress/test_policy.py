"""The policy's stress section: a run it forbids is refused before stress-ng starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm.controls.blast_radius import before_experiment_control, configure_control
from chaosllm.errors import ConfigurationError, PolicyViolation
from chaosllm.faults import Ledger
from chaosllm.stress import actions


def _config(**rules: Any) -> dict[str, Any]:
    return {"blast_radius": {"stress": rules}}


def _cpu(configuration: dict[str, Any], workers: int, load: int) -> Any:
    return actions.stress_cpu(workers=workers, load=load, duration="5s", configuration=configuration)


@pytest.mark.parametrize(("rules", "call", "rule"), [
    ({"kinds": ["memory"]}, lambda c, p: _cpu(c, 1, 10),
     "stress kind 'cpu' is not one of blast_radius.stress.kinds"),
    ({"max_workers": 1}, lambda c, p: _cpu(c, 2, 10),
     "touch 2 workers, more than blast_radius.stress.max_workers 1"),
    ({"max_cpu_load": 50}, lambda c, p: _cpu(c, 1, 90),
     "load the CPUs to 90%, more than blast_radius.stress.max_cpu_load 50%"),
    ({"max_memory_mb": 1}, lambda c, p: actions.stress_memory("2M", duration="5s", configuration=c),
     "use 2 MiB, more than blast_radius.stress.max_memory_mb 1"),
    ({"max_disk_mb": 1}, lambda c, p: actions.fill_disk(str(p), "2M", duration="5s", configuration=c),
     "use 2 MiB, more than blast_radius.stress.max_disk_mb 1"),
    ({"paths": ["/var/tmp/*"]}, lambda c, p: actions.fill_disk(str(p), "1M", duration="5s", configuration=c),
     "path .* is not in blast_radius.stress.paths"),
])  # fmt: skip
def test_a_stress_run_the_policy_forbids_never_starts(
    tmp_path: Path, rules: Any, call: Any, rule: str
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with pytest.raises(PolicyViolation, match=f"refused .* on stress this machine: (it would )?{rule}"):
        call(_config(**rules), disk)
    assert Ledger().entries() == {} and list(disk.iterdir()) == []


def test_every_cpu_counts_as_that_many_workers() -> None:
    with pytest.raises(PolicyViolation, match="more than blast_radius.stress.max_workers 0"):
        actions.stress_cpu(workers=0, load=10, duration="5s", configuration=_config(max_workers=0))


def test_the_controls_policy_argument_reaches_the_stress_actions() -> None:
    configuration: dict[str, Any] = {}
    configure_control(policy={"stress": {"kinds": []}}, configuration=configuration)
    with pytest.raises(PolicyViolation, match="the blast-radius control's policy argument"):
        actions.stress_cpu(workers=1, load=10, duration="5s", configuration=dict(configuration))
    assert Ledger().entries() == {}


def test_the_control_refuses_a_stress_run_before_the_experiment() -> None:
    experiment = {"method": [{"type": "action", "name": "burn",
                              "provider": {"type": "python", "module": "chaosllm.stress.actions",
                                           "func": "stress_cpu", "arguments": {"workers": 4}}}]}  # fmt: skip
    with pytest.raises(InterruptExecution, match="activity 'burn' refused: .*max_workers 2"):
        before_experiment_control(experiment, configuration=_config(max_workers=2))
    before_experiment_control(experiment, configuration=_config(max_workers=4))


@pytest.mark.parametrize(("rules", "expected"), [
    ({"kinds": ["gpu"]}, r"field 'stress.kinds.0'"),
    ({"max_workers": "2"}, r"field 'stress.max_workers' must be a whole number >= 0.*got '2'"),
    ({"max_cpu_load": float("nan")}, r"field 'stress.max_cpu_load' must be a finite number"),
    ({"paths": "/tmp"}, r"field 'stress.paths' must be a list of glob patterns"),
])  # fmt: skip
def test_a_malformed_stress_section_names_the_key(rules: Any, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        actions.stress_cpu(workers=1, load=10, duration="5s", configuration=_config(**rules))
    assert Ledger().entries() == {}


def test_a_dry_run_previews_and_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "1")
    cpu = actions.stress_cpu(workers=2, load=40, duration="5s")
    assert cpu["dry_run"] is True and cpu["effect"] == "none" and cpu["kind"] == "stress-cpu"
    assert cpu["would_touch"]["workers"] == 2 and cpu["would_touch"]["load"] == 40
    memory = actions.stress_memory("4M", duration="5s")
    assert memory["would_touch"]["size_mb"] == 4 and memory["would_touch"]["available_bytes"] > 0
    disk = tmp_path / "disk"
    disk.mkdir()
    filled = actions.fill_disk(str(disk), "1M", duration="5s")
    assert filled["would_touch"]["path"] == str(disk.resolve()) and filled["would_touch"]["free_bytes"] > 0
    assert Ledger().entries() == {} and list(disk.iterdir()) == []
    with pytest.raises(PolicyViolation, match="max_workers 1"):  # the policy is checked first
        actions.stress_cpu(workers=2, duration="5s", configuration=_config(max_workers=1))
