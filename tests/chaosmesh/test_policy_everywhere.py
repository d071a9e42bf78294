"""One blast-radius policy, wherever it is given, enforced by the Chaos Mesh actions themselves.

Each test is an attempt that once created objects the policy forbids, on the
fake API server through the real kubernetes client: the policy as the
control's argument, another module path to the same action, a malformed
policy, and selections the rules could not read.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm.chaosmesh import actions
from chaosllm.controls import blast_radius
from chaosllm.errors import ConfigurationError, InvalidArgument, PolicyViolation
from chaosllm.faults import Ledger
from tests.chaos_run import run_experiment
from tests.chaosmesh.fake_k8s import FakeCluster

NS = "shop"
BULK = {"namespace": NS, "label_selectors": "app=bulk", "duration": "30s", "timeout": "5s"}


@pytest.fixture
def bulk(cluster: FakeCluster) -> FakeCluster:
    """200 pods labelled app=bulk in the shop namespace."""
    for i in range(200):
        cluster.add_pod(NS, f"bulk-{i}", {"app": "bulk"})
    return cluster


def _nothing_created(cluster: FakeCluster) -> None:
    assert cluster.created_bodies() == [] and Ledger().entries() == {}


def test_the_controls_policy_argument_reaches_the_action(bulk: FakeCluster) -> None:
    configuration: dict[str, Any] = {}
    blast_radius.configure_control(policy={"max_count": 5}, configuration=configuration)
    with pytest.raises(PolicyViolation, match=r"reaches 200 pod\(s\), more than max_count 5"):
        actions.kill_pods(**BULK, mode="all", configuration=dict(configuration))
    _nothing_created(bulk)


def _activity(module: str, func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "action", "name": "the-fault",
            "provider": {"type": "python", "module": module, "func": func, "arguments": arguments}}


def _experiment(*method: dict[str, Any], controls: list[Any] | None = None) -> dict[str, Any]:
    return {"title": "policy everywhere", "description": "the blast-radius policy holds",
            "controls": controls or [], "method": list(method)}  # fmt: skip


CONTROL = {"name": "blast-radius", "provider": {"type": "python", "module": "chaosllm.controls.blast_radius",
                                                "arguments": {"policy": {"max_count": 5}}}}


def test_a_chaos_run_with_the_policy_as_the_control_argument_creates_nothing(
    bulk: FakeCluster, tmp_path: Path
) -> None:
    experiment = _experiment(_activity("chaosllm.chaosmesh.actions", "kill_pods", **BULK, mode="all"),
                             controls=[CONTROL])
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal["run"][0]["status"] == "failed", proc.stdout + proc.stderr
    assert "more than max_count 5" in journal["run"][0]["exception"][-1]
    _nothing_created(bulk)


def test_a_policy_in_the_settings_file_reaches_the_action(bulk: FakeCluster, tmp_path: Path) -> None:
    import yaml

    experiment = _experiment(_activity("chaosllm.chaosmesh.actions", "kill_pods", **BULK, mode="all"))
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump({"controls": {"blast-radius": CONTROL}}))
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal["run"][0]["status"] == "failed", proc.stdout + proc.stderr
    assert "more than max_count 5" in journal["run"][0]["exception"][-1]
    _nothing_created(bulk)


@pytest.mark.parametrize("module", ["chaosllm.chaosmesh._pod", "chaosllm.chaosmesh.actions"])
def test_the_control_checks_an_action_by_the_function_it_resolves_to(
    cluster: FakeCluster, module: str
) -> None:
    experiment = _experiment(_activity(module, "kill_pods", namespace="payments", mode="one", duration="30s"))
    policy = {"forbidden_namespaces": ["payments"]}
    configuration: dict[str, Any] = {}
    blast_radius.configure_control(policy=policy, configuration=configuration)
    refused = "activity 'the-fault' refused: .*namespace payments is forbidden"
    with pytest.raises(InterruptExecution, match=refused):
        blast_radius.before_experiment_control(experiment, policy=policy, configuration=configuration)
    _nothing_created(cluster)


def test_another_module_path_is_refused_by_the_action_itself(bulk: FakeCluster) -> None:
    from chaosllm.chaosmesh import _pod

    configuration: dict[str, Any] = {}
    blast_radius.configure_control(policy={"max_count": 5}, configuration=configuration)
    with pytest.raises(PolicyViolation, match="max_count 5"):
        _pod.kill_pods(**BULK, mode="all", configuration=dict(configuration))
    _nothing_created(bulk)


@pytest.mark.parametrize(("policy", "expected"), [
    ({"required_labels": ["chaos-ready"]}, r"field 'required_labels' must be .*got \['chaos-ready'\]"),
    ({"forbidden_namespaces": "payments"}, r"field 'forbidden_namespaces' must be a list .*got 'payments'"),
    ({"max_percent": "nan"}, r"field 'max_percent' must be .*got 'nan' \(rule: type\)"),
    ({"max_percent": math.nan}, r"field 'max_percent' must be a finite number, got nan"),
    ({"max_percent": math.inf}, r"field 'max_percent' must be .*got inf"),
    ({"max_count": "0x10"}, r"field 'max_count' must be .*got '0x10' \(rule: type\)"),
    ({"max_count": "5"}, r"field 'max_count' must be .*got '5' \(rule: type\)"),
    ('{"max_count": NaN}', r"field 'max_count' must be"),
    ({"allowed_namespaces": [""]}, r"field 'allowed_namespaces.0': '' should be non-empty"),
    ({"forbidden_namespaces": ["payments", None]}, r"field 'forbidden_namespaces.1': None is not of type"),
])  # fmt: skip
def test_a_malformed_policy_stops_the_run_naming_the_key(
    cluster: FakeCluster, policy: Any, expected: str
) -> None:
    blast_radius.configure_control(policy=policy, configuration={})  # kept, not raised
    with pytest.raises(InterruptExecution, match="blast_radius from the control's policy argument") as info:
        blast_radius.before_experiment_control({}, policy=policy, configuration={})
    assert re.search(expected, str(info.value)), str(info.value)
    # The same policy in configuration is refused by the action itself, before it connects.
    with pytest.raises(ConfigurationError, match=expected):
        actions.kill_pods(**BULK, configuration={"blast_radius": policy})
    _nothing_created(cluster)


def _raw(selector: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
            "metadata": {"name": "raw", "namespace": NS},
            "spec": {"action": "pod-kill", "mode": "one", "duration": "30s", "selector": selector, **spec}}


@pytest.mark.parametrize(("manifest", "expected"), [
    (_raw({"namespaces": [""], "labelSelectors": {"app": "web"}}), "namespace '' is not a namespace name"),
    (_raw({"namespaces": [" shop"], "labelSelectors": {"app": "web"}}), "namespace ' shop' is not"),
    (_raw({"namespaces": "payments"}), "namespace payments is forbidden"),
    (_raw({"namespaces": [NS]}, mode="fixed", value="0x10"), "mode 'fixed' needs an integer value, got '0x1"),
    (_raw({"namespaces": [NS]}, mode="fixed-percent", value="nan"), "needs an integer value, got 'nan'"),
    (_raw({"namespaces": [NS]}, mode="ALL"), "mode must be one of"),
])  # fmt: skip
def test_selections_the_rules_cannot_read_are_refused(
    cluster: FakeCluster, manifest: Any, expected: str
) -> None:
    policy = {"forbidden_namespaces": ["payments"], "max_count": 2}
    with pytest.raises(PolicyViolation, match=expected):
        actions.apply_manifest(manifest, configuration={"blast_radius": policy})
    _nothing_created(cluster)


def test_an_empty_namespace_in_a_fault_is_refused_even_without_limits(cluster: FakeCluster) -> None:
    # Refused as bad input, before any policy is read.
    with pytest.raises(InvalidArgument, match="namespace '' is not a namespace name"):
        actions.kill_pods(namespaces=[""], label_selectors="app=web", duration="30s", configuration={})
    _nothing_created(cluster)


def test_the_environment_policy_is_refused_when_malformed(cluster: FakeCluster,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", json.dumps({"forbidden_namespaces": "payments"}))
    with pytest.raises(ConfigurationError, match=r"from \$CHAOSLLM_BLAST_RADIUS .*forbidden_namespaces"):
        actions.kill_pods(namespace="payments", duration="30s")
    _nothing_created(cluster)


def _stops_naming(experiment: dict[str, Any], workdir: Path, cluster: FakeCluster, expected: str) -> None:
    """``chaos run`` stops before the first activity with ``expected`` on the console or in the log."""
    proc, journal = run_experiment(experiment, workdir)
    output = proc.stdout + proc.stderr + (workdir / "chaostoolkit.log").read_text()
    assert proc.returncode != 0 and journal.get("run", []) == [], output
    assert expected in output
    _nothing_created(cluster)


def test_a_malformed_policy_in_the_settings_file_stops_the_run_naming_the_file(
    bulk: FakeCluster, tmp_path: Path
) -> None:
    import yaml

    control = {"provider": {**CONTROL["provider"], "arguments": {"policy": {"max_count": "5"}}}}
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump({"controls": {"blast-radius": control}}))
    experiment = _experiment(_activity("chaosllm.chaosmesh.actions", "kill_pods", **BULK, mode="all"))
    _stops_naming(experiment, tmp_path, bulk,
                  f"blast_radius from the policy argument of control 'blast-radius' in the Chaos Toolkit "
                  f"settings file {tmp_path / 'settings.yaml'} breaks blast_radius.schema.json: "
                  f"field 'max_count' must be")  # fmt: skip


def test_a_malformed_policy_in_the_experiment_names_the_experiment_file(
    bulk: FakeCluster, tmp_path: Path
) -> None:
    experiment = _experiment(_activity("chaosllm.chaosmesh.actions", "kill_pods", **BULK, mode="all"),
                             controls=[{"name": "blast-radius", "provider": {
                                 "type": "python", "module": "chaosllm.controls.blast_radius"}}])
    experiment["configuration"] = {"blast_radius": {"forbidden_namespaces": "payments"}}
    _stops_naming(experiment, tmp_path, bulk,
                  f"blast_radius from configuration key blast_radius of experiment "
                  f"{tmp_path / 'experiment.json'} breaks blast_radius.schema.json: "
                  f"field 'forbidden_namespaces' must be a list")  # fmt: skip


@pytest.mark.parametrize("written", [{}, {"max_count": 5000}], ids=["empty", "wider"])
def test_a_policy_written_under_the_controls_run_key_cannot_replace_the_settings_files(
    bulk: FakeCluster, tmp_path: Path, written: dict[str, Any]
) -> None:
    import yaml

    (tmp_path / "settings.yaml").write_text(yaml.safe_dump({"controls": {"blast-radius": CONTROL}}))
    experiment = _experiment(_activity("chaosllm.chaosmesh.actions", "kill_pods", **BULK, mode="all"))
    experiment["configuration"] = {"chaosllm_blast_radius_control": written}
    _stops_naming(experiment, tmp_path, bulk,
                  f"the configuration key chaosllm_blast_radius_control holds {written!r}")
