"""A run whose SLO file declares guard conditions is refused without a guard control
(chaosllm.controls._guard_required, run by the blast-radius control), and
runs_control, which tells whether a control module is part of the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.configuration import load_configuration
from chaoslib.control import get_global_controls, load_global_controls, reset_global_controls
from chaoslib.exceptions import InterruptExecution

from chaosllm.controls import blast_radius
from chaosllm.controls._failclosed import forget_runs
from chaosllm.controls._global import runs_control
from chaosllm.controls._guard_required import GUARD_MODULE, check_guarded

ROOT = Path(__file__).resolve().parents[2]
K8S_CONTROLS = ROOT / "experiments" / "settings" / "k8s-controls.yaml"
K8S = sorted((ROOT / "experiments" / "scenarios" / "k8s").glob("0[1-5]-*.json"))
LOCAL = sorted((ROOT / "experiments" / "scenarios" / "local").glob("*.json"))
FIX = "add --control-file experiments/settings/k8s-controls.yaml (or declare chaosllm.controls.guard"


def _control(name: str, module: str) -> dict[str, Any]:
    return {"name": name, "provider": {"type": "python", "module": module}}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    monkeypatch.chdir(ROOT)  # the scenarios name their SLO file relative to the repository
    reset_global_controls()
    yield
    reset_global_controls()
    forget_runs()


def _slo_file(tmp_path: Path, guard: bool) -> Path:
    data: dict[str, Any] = {"slos": [{"name": "errors", "objective": "<1%", "window": "5m",
                                      "indicator": {"query": "sum(rate(errors[$window]))"}}]}  # fmt: skip
    if guard:
        data["guard"] = [{"slo": "errors", "window": "15s", "above": "5%"}]
    path = tmp_path / ("guarded.yaml" if guard else "unguarded.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def _experiment(**extra: Any) -> dict[str, Any]:
    return {"title": "tiny", "controls": [_control("blast-radius", "chaosllm.controls.blast_radius")],
            "method": [{"type": "action", "name": "noop",
                        "provider": {"type": "process", "path": "true"}}], **extra}  # fmt: skip


# runs_control


def test_runs_control_sees_the_experiments_controls_at_every_level() -> None:
    experiment = _experiment()
    assert runs_control(experiment, "chaosllm.controls.blast_radius")
    assert not runs_control(experiment, GUARD_MODULE)
    experiment["method"][0]["controls"] = [_control("g", GUARD_MODULE)]
    assert runs_control(experiment, GUARD_MODULE)
    hypothesis = {"title": "h", "probes": [], "controls": [_control("g", GUARD_MODULE)]}
    assert runs_control(_experiment(**{"steady-state-hypothesis": hypothesis}), GUARD_MODULE)


def test_runs_control_sees_the_global_controls_chaos_toolkit_loaded() -> None:
    experiment = _experiment()
    load_global_controls({}, [str(K8S_CONTROLS)])
    assert {c["name"] for c in get_global_controls()} >= {"chaosllm-guard"}
    assert runs_control(experiment, GUARD_MODULE)
    assert runs_control(None, GUARD_MODULE)  # no experiment: the global controls still count
    reset_global_controls()
    assert not runs_control(experiment, GUARD_MODULE)


def test_runs_control_on_a_malformed_experiment_is_false_not_an_error() -> None:
    assert not runs_control({"controls": "nope", "method": []}, GUARD_MODULE)
    assert not runs_control({"controls": [{"name": "no provider"}, 3]}, GUARD_MODULE)
    assert not runs_control("not an experiment", GUARD_MODULE)


# check_guarded


def test_an_slo_file_with_a_guard_list_and_no_guard_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path,
) -> None:
    path = _slo_file(tmp_path, guard=True)
    with pytest.raises(InterruptExecution) as refused:
        check_guarded(_experiment(), {"slo_file": str(path)})
    message = str(refused.value)
    assert message == (f"experiment 'tiny': its SLO file {path} declares guard conditions, but no "
                       f"guard control runs: {FIX} in the experiment)")  # fmt: skip
    assert "\n" not in message


def test_the_environment_and_secrets_name_the_slo_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(_slo_file(tmp_path, guard=True))
    with pytest.raises(InterruptExecution, match="declares guard conditions"):
        check_guarded(_experiment(), None, {"scope": {"slo_file": path}})
    monkeypatch.setenv("CHAOSLLM_SLO_FILE", path)
    with pytest.raises(InterruptExecution, match="declares guard conditions"):
        check_guarded(_experiment(), {})
    # the configuration comes before the environment, as for the guard
    check_guarded(_experiment(), {"slo_file": str(_slo_file(tmp_path, guard=False))})


def test_no_slo_file_or_no_guard_list_or_a_guard_in_the_run_is_no_refusal(tmp_path: Path) -> None:
    guarded = {"slo_file": str(_slo_file(tmp_path, guard=True))}
    check_guarded(_experiment(), {})
    check_guarded(_experiment(), None)
    check_guarded(_experiment(), {"slo_file": str(_slo_file(tmp_path, guard=False))})
    declared = _experiment()
    declared["controls"].append(_control("my-guard", GUARD_MODULE))
    check_guarded(declared, guarded)
    load_global_controls({"controls": {"g": {"provider": {"type": "python", "module": GUARD_MODULE}}}})
    check_guarded(_experiment(), guarded)


def test_an_unreadable_slo_file_without_a_guard_is_refused_with_the_reading_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(InterruptExecution) as refused:
        check_guarded(_experiment(), {"slo_file": str(missing)})
    assert str(refused.value) == (
        f"experiment 'tiny': no guard control runs, and whether its SLO file (configuration key "
        f"slo_file) declares guard conditions cannot be told: could not read SLO file {missing}: "
        f"No such file or directory; fix the setting or the file, or {FIX} in the experiment)")
    # with a guard in the run, the guard reports the file itself
    load_global_controls({"controls": {"g": {"provider": {"type": "python", "module": GUARD_MODULE}}}})
    check_guarded(_experiment(), {"slo_file": str(missing)})


def test_the_blast_radius_control_runs_the_check_but_check_experiment_does_not(tmp_path: Path) -> None:
    configuration = {"slo_file": str(_slo_file(tmp_path, guard=True))}
    blast_radius.check_experiment(_experiment(), None, configuration)  # what chaosllm workflow runs
    with pytest.raises(InterruptExecution, match="declares guard conditions, but no guard control runs"):
        blast_radius.before_experiment_control(_experiment(), configuration=configuration)


@pytest.mark.parametrize("path", K8S, ids=[p.stem for p in K8S])
def test_the_k8s_scenarios_need_their_control_file(path: Path) -> None:
    experiment = json.loads(path.read_text())
    configuration = load_configuration(experiment["configuration"])
    with pytest.raises(InterruptExecution, match="llm-marketplace-k8s.yaml declares guard conditions"):
        check_guarded(experiment, configuration)
    load_global_controls({}, [str(K8S_CONTROLS)])  # as chaos run --control-file loads it
    check_guarded(experiment, configuration)


@pytest.mark.parametrize("path", LOCAL, ids=[p.stem for p in LOCAL])
def test_the_local_scenarios_declare_their_guard_and_pass(path: Path) -> None:
    experiment = json.loads(path.read_text())
    # (their other settings name the sandbox's environment)
    configuration = load_configuration({"slo_file": experiment["configuration"]["slo_file"]})
    assert configuration["slo_file"] == "experiments/slo/marketplace.yaml"
    with pytest.raises(InterruptExecution, match="marketplace.yaml declares guard conditions"):
        check_guarded({**experiment, "controls": []}, configuration)  # the check would bite
    check_guarded(experiment, configuration)


def test_the_k8s_control_file_holds_what_the_scenarios_declared() -> None:
    from chaosllm.controls._global import check_declaration

    declared = yaml.safe_load(K8S_CONTROLS.read_text())
    assert list(declared) == ["chaosllm-guard", "chaosllm-metrics", "chaosllm-rollbacks", "chaosllm-redact"]
    assert declared["chaosllm-guard"]["provider"] == {
        "type": "python", "module": GUARD_MODULE,
        "arguments": {"interval": "5s", "for": "30s", "on_no_data": "ignore"}}  # fmt: skip
    assert declared["chaosllm-metrics"]["provider"] == {
        "type": "python", "module": "chaosllm.controls.metrics",
        "arguments": {"step": "5s", "before": "2m"}}  # fmt: skip
    assert declared["chaosllm-rollbacks"]["provider"] == {"type": "python",
                                                          "module": "chaosllm.controls.rollbacks"}
    assert declared["chaosllm-redact"]["provider"] == {"type": "python", "module": "chaosllm.controls.redact"}
    for name, control in declared.items():
        check_declaration({**control, "name": name})
