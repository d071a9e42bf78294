"""chaosllm workflow: the design's pipeline as an Argo Workflow or CronWorkflow, valid against Argo."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.errors import InvalidArgument, PolicyViolation
from chaosllm.workflow.render import render_workflow
from tests.chaosmesh.fake_k8s import Crd, load_crds, schema_errors

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "experiments" / "scenarios" / "k8s"
ENGINE = REPO / "tests" / "fixtures" / "litmus" / "faults" / "pod-delete" / "engine.yaml"
K8S_CONTROLS = REPO / "experiments" / "settings" / "k8s-controls.yaml"


@pytest.fixture(scope="session")
def argo() -> dict[str, Crd]:
    folder = REPO / "tests" / "fixtures" / "argo" / "crds"
    if not folder.is_dir():
        pytest.fail(f"the Argo CRD folder {folder} is absent: it ships in tests/fixtures/argo")
    return load_crds(folder)


def valid(crds: dict[str, Crd], document: dict[str, Any]) -> list[str]:
    """What the API server would refuse; a Workflow's generateName stands in for its name."""
    doc = copy.deepcopy(document)
    meta = doc["metadata"]
    meta.setdefault("name", str(meta.pop("generateName", "")) + "abcde")
    plural = {"Workflow": "workflows", "CronWorkflow": "cronworkflows"}[doc["kind"]]
    return schema_errors(crds[plural], doc, strict=True)


@pytest.fixture
def engine(tmp_path: Path) -> Path:
    """The chaos hub's pod-delete engine, aimed at the web pods of shop."""
    doc = yaml.safe_load(ENGINE.read_text())
    doc["metadata"]["namespace"] = "shop"
    doc["spec"]["appinfo"] = {"appns": "shop", "applabel": "app=web", "appkind": "deployment"}
    path = tmp_path / "pod-delete-engine.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = doc["spec"].get("workflowSpec") or doc["spec"]
    return {t["name"]: t for t in spec["templates"]}


@pytest.fixture(autouse=True)
def _no_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_BLAST_RADIUS", raising=False)
    # The Kubernetes scenarios name their SLO file relative to the repository.
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    monkeypatch.chdir(REPO)


def test_a_serial_pipeline_installs_runs_validates_and_always_cleans_up(argo: dict[str, Crd],
                                                                      engine: Path) -> None:
    scenarios = [str(SCENARIOS / f"{n}.json") for n in ("01-service-degradation", "02-pod-crash-recovery")]
    doc = render_workflow([*scenarios, str(engine)], namespace="shop", image="chaosllm:test",
                          control_file=str(K8S_CONTROLS))
    assert valid(argo, doc) == []
    assert doc["kind"] == "Workflow" and doc["spec"]["onExit"] == "cleanup"
    templates = _templates(doc)
    steps = templates["pipeline"]["steps"]
    assert [[s["name"] for s in group] for group in steps] == [
        ["install"], ["run-01-service-degradation"], ["run-02-pod-crash-recovery"], ["run-pod-delete-engine"],
        ["validate"]]
    assert all(s["continueOn"] == {"failed": True} for group in steps[1:-1] for s in group)
    config_map = yaml.safe_load(templates["install"]["resource"]["manifest"])
    assert config_map["kind"] == "ConfigMap" and sorted(config_map["data"]) == [
        "01-service-degradation.json", "02-pod-crash-recovery.json", "k8s-controls.yaml",
        "llm-marketplace-k8s.yaml"]
    # The SLO file the scenarios read ships with them, and they read the copy.
    assert config_map["data"]["llm-marketplace-k8s.yaml"] == (
        REPO / "experiments" / "slo" / "llm-marketplace-k8s.yaml").read_text()
    shipped = json.loads(Path(scenarios[0]).read_text())
    shipped["configuration"]["slo_file"]["default"] = "/experiments/llm-marketplace-k8s.yaml"
    assert json.loads(config_map["data"]["01-service-degradation.json"]) == shipped
    run = templates["run-01-service-degradation"]["container"]
    assert run["image"] == "chaosllm:test"
    assert [run["command"][0], *run["args"]] == [
        "chaos", "run", "--journal-path", "/journals/01-service-degradation.json",
        "--control-file", "/experiments/k8s-controls.yaml", "/experiments/01-service-degradation.json"]
    assert {"name": "CHAOSLLM_STATE_DIR", "value": "/journals/state"} in run["env"]
    litmus = templates["run-pod-delete-engine"]["resource"]
    created = yaml.safe_load(litmus["manifest"])
    assert litmus["action"] == "create" and created["kind"] == "ChaosEngine"
    assert created["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "chaosllm"
    assert litmus["successCondition"] == "status.engineStatus == completed"
    validate = templates["validate"]["container"]
    assert validate["args"][:1] == ["report"] and validate["args"][-2:] == [
        "--fail-on", "failed,aborted,interrupted"]
    assert [s["name"] for s in templates["cleanup"]["steps"][0]] == [
        "cleanup-faults", "delete-pod-delete-engine"]
    assert templates["cleanup-faults"]["container"]["args"] == ["cleanup"]
    assert templates["delete-pod-delete-engine"]["resource"]["action"] == "delete"
    assert doc["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_slo_file_the_environment_names_is_shipped_and_an_unreadable_one_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = str(SCENARIOS / "04-network-partition.json")
    mine = tmp_path / "staging slos.yaml"
    mine.write_text((REPO / "experiments" / "slo" / "llm-marketplace-k8s.yaml").read_text()
                    .replace('app="graphql-gateway"', 'job="edge"'))
    monkeypatch.setenv("CHAOSLLM_SLO_FILE", str(mine))
    doc = render_workflow([scenario, str(SCENARIOS / "05-cascading-failure.json")],
                          control_file=str(K8S_CONTROLS))
    data = yaml.safe_load(_templates(doc)["install"]["resource"]["manifest"])["data"]
    assert sorted(data) == ["04-network-partition.json", "05-cascading-failure.json", "k8s-controls.yaml",
                            "staging-slos.yaml"]
    assert data["staging-slos.yaml"] == mine.read_text()
    assert {json.loads(data[key])["configuration"]["slo_file"]["default"]
            for key in data if key.endswith(".json")} == {"/experiments/staging-slos.yaml"}
    monkeypatch.setenv("CHAOSLLM_SLO_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(InvalidArgument, match=f"{scenario}: could not read its SLO file "
                                              f".*absent.yaml \\(setting slo_file"):
        render_workflow([scenario])


def test_a_control_file_ships_with_the_experiments_and_every_chaos_run_gets_it(
    argo: dict[str, Crd], engine: Path
) -> None:
    scenarios = [str(SCENARIOS / f"{n}.json") for n in ("01-service-degradation", "05-cascading-failure")]
    doc = render_workflow([*scenarios, str(engine)], control_file=str(K8S_CONTROLS), parallel=True)
    assert valid(argo, doc) == []
    templates = _templates(doc)
    data = yaml.safe_load(templates["install"]["resource"]["manifest"])["data"]
    assert sorted(data) == ["01-service-degradation.json", "05-cascading-failure.json", "k8s-controls.yaml",
                            "llm-marketplace-k8s.yaml"]  # fmt: skip
    assert data["k8s-controls.yaml"] == K8S_CONTROLS.read_text()
    for slug in ("01-service-degradation", "05-cascading-failure"):
        run = templates[f"run-{slug}"]["container"]
        assert run["args"] == ["run", "--journal-path", f"/journals/{slug}.json", "--control-file",
                               "/experiments/k8s-controls.yaml", f"/experiments/{slug}.json"]
    # the ChaosEngine step runs no chaos command
    assert "container" not in templates["run-pod-delete-engine"]


def test_the_control_files_key_keeps_clear_of_the_other_files_and_reads_as_yaml(tmp_path: Path) -> None:
    scenario = str(SCENARIOS / "03-resource-exhaustion.json")
    clash = tmp_path / "llm-marketplace-k8s.yaml"  # the name of the SLO file the scenario ships
    clash.write_text(K8S_CONTROLS.read_text())
    doc = render_workflow([scenario], control_file=str(clash))
    data = yaml.safe_load(_templates(doc)["install"]["resource"]["manifest"])["data"]
    assert data["2-llm-marketplace-k8s.yaml"] == clash.read_text()
    slos = REPO / "experiments" / "slo" / "llm-marketplace-k8s.yaml"
    assert data["llm-marketplace-k8s.yaml"] == slos.read_text()
    # chaos run reads a control file by its extension: another one is shipped as .yaml
    odd = tmp_path / "my controls.conf"
    odd.write_text(json.dumps(yaml.safe_load(K8S_CONTROLS.read_text())))
    run = _templates(render_workflow([scenario], control_file=str(odd)))["run-03-resource-exhaustion"]
    assert run["container"]["args"][3:5] == ["--control-file", "/experiments/my-controls.conf.yaml"]


@pytest.mark.parametrize(("text", "name", "message"), [
    (None, "absent.yaml", "could not read the control file {path}: No such file or directory"),
    ("a: [1\n", "broken.yaml", "the control file {path} is not valid YAML: "),
    ("{'a': 1}", "quoted.json", "the control file {path} is not valid JSON: "),
    ("- chaosllm-guard\n", "list.yaml", "the control file {path} must be a mapping of control names to "
                                          "controls .*, got list"),
    ("", "empty.yaml", "the control file {path} must be a mapping .*, got NoneType"),
    ("{}", "none.yaml", "the control file {path} declares no control"),
    ("guard: chaosllm.controls.guard\n", "flat.yaml",
     "the control file {path}: control 'guard' must be a mapping with a 'provider' mapping"),
])  # fmt: skip
def test_a_control_file_that_is_no_mapping_of_controls_is_refused_naming_it(
    tmp_path: Path, text: str | None, name: str, message: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(InvalidArgument, match=message.format(path=re.escape(str(path)))):
        render_workflow([str(SCENARIOS / "03-resource-exhaustion.json")], control_file=str(path))


def test_an_experiment_that_would_run_unguarded_in_the_cluster_is_refused(tmp_path: Path) -> None:
    """Its SLO file declares guard conditions and nothing would run the guard: refused, naming
    the fix; the control file's guard, or the experiment's own, is enough."""
    scenario = str(SCENARIOS / "02-pod-crash-recovery.json")
    with pytest.raises(InvalidArgument, match=f"{scenario}: its SLO file .*llm-marketplace-k8s.yaml "
                                              "declares guard conditions.*--control-file"):
        render_workflow([scenario])
    unguarded = tmp_path / "no-guard.yaml"
    unguarded.write_text(K8S_CONTROLS.read_text().replace("controls.guard", "controls.audit"))
    with pytest.raises(InvalidArgument, match="declares guard conditions"):
        render_workflow([scenario], control_file=str(unguarded))
    render_workflow([scenario], control_file=str(K8S_CONTROLS))
    guarded = json.loads(Path(scenario).read_text())
    guarded["controls"].append({"name": "guard", "provider": {"type": "python",
                                                              "module": "chaosllm.controls.guard"}})
    mine = tmp_path / "guarded.json"
    mine.write_text(json.dumps(guarded))
    render_workflow([str(mine)])
    # An SLO file without guard conditions asks for no guard.
    plain = tmp_path / "plain.json"
    without = dict(guarded, controls=guarded["controls"][:1])
    slos = yaml.safe_load((REPO / "experiments" / "slo" / "llm-marketplace-k8s.yaml").read_text())
    slos.pop("guard")
    (tmp_path / "slos.yaml").write_text(yaml.safe_dump(slos))
    without["configuration"] = dict(without["configuration"], slo_file=str(tmp_path / "slos.yaml"))
    plain.write_text(json.dumps(without))
    render_workflow([str(plain)])


def test_parallel_runs_share_one_step_group_and_a_read_write_many_volume(argo: dict[str, Crd]) -> None:
    paths = sorted(str(p) for p in SCENARIOS.glob("*.json"))
    doc = render_workflow(paths, parallel=True, fail_on=["failed"], control_file=str(K8S_CONTROLS))
    assert valid(argo, doc) == []
    steps = _templates(doc)["pipeline"]["steps"]
    assert len(steps) == 3 and len(steps[1]) == len(paths) >= 5
    assert doc["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_schedule_renders_a_cron_workflow_valid_against_argo(argo: dict[str, Crd], engine: Path) -> None:
    doc = render_workflow([str(SCENARIOS / "03-resource-exhaustion.json"), str(engine)],
                          schedule="0 3 * * *", name="nightly", control_file=str(K8S_CONTROLS))
    assert valid(argo, doc) == []
    assert doc["kind"] == "CronWorkflow" and doc["metadata"]["name"] == "nightly"
    assert doc["spec"]["schedules"] == ["0 3 * * *"] and doc["spec"]["concurrencyPolicy"] == "Forbid"
    assert doc["spec"]["workflowSpec"]["onExit"] == "cleanup"


def test_the_schema_check_catches_a_malformed_workflow(argo: dict[str, Crd]) -> None:
    doc = render_workflow([str(SCENARIOS / "03-resource-exhaustion.json")], control_file=str(K8S_CONTROLS))
    doc["spec"]["templates"][0]["steps"][0][0]["continueOnFail"] = True  # not an Argo field
    assert any("continueOnFail" in error for error in valid(argo, doc))


def test_the_blast_radius_policy_checks_every_fault_inside(engine: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", '{"forbidden_namespaces": ["shop"]}')
    refused = f"{engine}: blast-radius policy refused: ChaosEngine nginx-chaos experiment pod-delete: "
    with pytest.raises(PolicyViolation, match=refused + "namespace shop is forbidden"):
        render_workflow([str(engine)])
    monkeypatch.delenv("CHAOSLLM_BLAST_RADIUS")
    experiment = json.loads((SCENARIOS / "02-pod-crash-recovery.json").read_text())
    experiment["configuration"]["blast_radius"] = {"allowed_namespaces": ["staging"]}
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(experiment))
    with pytest.raises(PolicyViolation, match=f"{path}: activity '.*' refused: .*not in allowed namespaces"):
        render_workflow([str(path)])


@pytest.mark.parametrize(("change", "message"), [
    ({"schedule": "every night"}, "is not a cron expression"),
    ({"name": "Nightly Chaos"}, "is not a Kubernetes name"),
    ({"volume_size": "lots"}, "must be a quantity"),
    ({"image": ""}, "is not an image reference"),
    ({"image": "chaosllm 0.1"}, "is not an image reference"),
])  # fmt: skip
def test_bad_arguments_are_clear_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        render_workflow([str(SCENARIOS / "03-resource-exhaustion.json")], **change)


def test_an_input_that_is_no_experiment_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text("hello: world\n")
    with pytest.raises(InvalidArgument, match=f"{path} is neither a Chaos Toolkit experiment"):
        render_workflow([str(path)])


def test_the_command_writes_the_workflow(tmp_path: Path, engine: Path, argo: dict[str, Crd]) -> None:
    out = tmp_path / "pipeline.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "chaosllm.cli", "workflow", str(SCENARIOS / "04-network-partition.json"),
         str(engine), "--parallel", "--namespace", "shop", "-o", str(out),
         "--control-file", "experiments/settings/k8s-controls.yaml"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr and "Workflow, 2 step(s)" in proc.stderr
    written = yaml.safe_load(out.read_text())
    assert valid(argo, written) == []
    assert "--control-file" in _templates(written)["run-04-network-partition"]["container"]["args"]
    unreadable = subprocess.run(
        [sys.executable, "-m", "chaosllm.cli", "workflow", str(engine), "--control-file", "absent.yaml"],
        capture_output=True, text=True, timeout=120)
    assert unreadable.returncode == 1
    assert "could not read the control file absent.yaml: No such file or directory" in unreadable.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "chaosllm.cli", "workflow", str(engine), "--fail-on", "bogus"],
        capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown verdict bogus" in bad.stderr
