"""Litmus-compatible results: ChaosResult-shaped reports and Litmus's weighted resilience score."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.report.gameday import build_gameday, load_weights, render_gameday_markdown
from chaosllm.report.litmus import chaos_result
from chaosllm.report.model import load_journal, parse_journal
from tests.chaosmesh.fake_k8s import Crd, schema_errors
from tests.report.conftest import SAMPLES, sample

LITMUS_CRDS = Path(__file__).resolve().parents[1] / "fixtures" / "litmus" / "crds" / "chaos_crds.yaml"


def litmus_journal(title: str, probes: list[bool], weight: int | None = None) -> dict[str, Any]:
    """A run whose method is one Litmus fault whose probes passed (True) or failed (False)."""
    data = copy.deepcopy(sample("effect-observed"))
    experiment = data["experiment"]
    experiment["title"] = title
    experiment["tags"] = ["litmus"] + ([f"weight:{weight}"] if weight is not None else [])
    experiment["steady-state-hypothesis"]["probes"] = []
    for phase in ("before", "after"):
        data["steady_states"][phase]["probes"] = []
    statuses = [{"name": f"probe-{i}", "type": "httpProbe", "mode": "Continuous",
                 "verdict": "Passed" if ok else "Failed", "description": ""} for i, ok in enumerate(probes)]
    percent = 100.0 * sum(probes) / len(probes)
    provider = {"type": "python", "module": "chaosllm.litmus.actions", "func": "run_litmus_fault",
                "arguments": {"fault": "pod-delete", "app_label": "app=web", "duration": "30s"}}
    run = data["run"][0]
    run["activity"] = {"type": "action", "name": "delete-web-pod", "provider": provider}
    run["output"] = {
        "kind": "ChaosEngine", "name": "pod-delete-web", "target": "shop: app=web", "spec": {},
        "started_at": run["start"], "expires_at": run["end"], "phase": "Completed",
        "verdict": "Pass" if all(probes) else "Fail", "probe_success_percentage": percent,
        "probe_statuses": statuses, "targets": [{"name": "web-1", "kind": "deployment",
                                                 "chaos_status": "injected"}],
        "effect": "observed", "evidence": {"injected_targets": 1, "pods": "web-1"},
    }  # fmt: skip
    return data


def litmus_example() -> list[dict[str, Any]]:
    """Litmus's documented example: weights 2, 4 and 8 with probe success 0 %, 100 % and 75 %."""
    return [litmus_journal("fault A", [False], 2), litmus_journal("fault B", [True], 4),
            litmus_journal("fault C", [True, True, True, False], 8)]


def test_litmus_documented_score_is_reproduced() -> None:
    runs = [parse_journal(data, f"{data['experiment']['title']}.json") for data in litmus_example()]
    assert [r.probe_success for r in runs] == [0.0, 100.0, 75.0]
    assert [r.verdict for r in runs] == ["failed", "passed", "failed"]
    day = build_gameday(runs)
    assert day.score == pytest.approx((2 * 0 + 4 * 100 + 8 * 75) / 14, abs=0.01)
    assert f"{day.score:.1f}" == "71.4"
    assert "**Resilience score**: 71.43%" in render_gameday_markdown(day)
    # The ChaosResult documents give the same score by Litmus's own formula.
    results = [chaos_result(r) for r in runs]
    weights = [float(d["metadata"]["annotations"]["chaosllm.io/weight"]) for d in results]
    percents = [float(d["status"]["experimentStatus"]["probeSuccessPercentage"]) for d in results]
    litmus_score = sum(w * p for w, p in zip(weights, percents, strict=True)) / sum(weights)
    assert litmus_score == pytest.approx(day.score, abs=0.01)


def test_a_weights_file_gives_the_weights_and_the_command_prints_the_score(tmp_path: Path) -> None:
    folder = tmp_path / "journals"
    folder.mkdir()
    for data in litmus_example():
        data["experiment"]["tags"] = ["litmus", "weight:1"]  # the file wins over the tags
        (folder / f"{data['experiment']['title'].replace(' ', '-')}.json").write_text(json.dumps(data))
    weights = tmp_path / "weights.yaml"
    weights.write_text(yaml.safe_dump({"fault A": 2, "fault B": 4, "fault C": 8, "fault D": 10}))
    proc = subprocess.run(
        [sys.executable, "-m", "chaosllm.cli", "gameday", str(folder), "--weights", str(weights),
         "--format", "json", "--out", "-"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["resilience_score"] == 71.43
    assert [e["weight"] for e in summary["experiments"]] == [2, 4, 8]
    assert "no journal ran: fault D" in proc.stderr


@pytest.mark.parametrize(("content", "message"), [
    ({"fault A": 11}, "'fault A': weight 11 is outside Litmus's 0 to 10"),
    ({"fault A": "high"}, "'fault A' has weight 'high', not a number"),
    (["fault A"], "must map experiment titles to weights"),
])  # fmt: skip
def test_a_bad_weights_file_is_a_clear_error(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        load_weights(path)


def test_a_tag_weight_outside_0_to_10_is_refused_naming_the_journal() -> None:
    run = parse_journal(litmus_journal("heavy", [True], 12), "heavy.json")
    with pytest.raises(ValueError, match="journal heavy.json .*weight 12 is outside Litmus's 0 to 10"):
        build_gameday([run])
    assert build_gameday([parse_journal(litmus_journal("off", [True], 0), "off.json")]).score == 0.0


def test_a_litmus_fail_verdict_fails_the_run_and_names_the_probe() -> None:
    run = parse_journal(litmus_journal("fault C", [True, False]), "c.json")
    assert run.verdict == "failed"
    assert run.verdict_reasons == [
        "Litmus fault 'delete-web-pod' has verdict Fail (probe success 50.0%: probe-1 Failed)"]


@pytest.mark.parametrize(("name", "phase", "verdict", "counter"), [
    ("effect-observed", "Completed", "Pass", "passedRuns"),
    ("k8s-recovery-failed", "Completed_With_Error", "Fail", "failedRuns"),
    ("plain-deviated", "Completed_With_Probe_Failure", "Fail", "failedRuns"),
    ("effect-none", "Completed_With_Error", "Error", "failedRuns"),
    ("guard-aborted", "Stopped", "Stopped", "stoppedRuns"),
    ("plain-interrupted", "Stopped", "Stopped", "stoppedRuns"),
])  # fmt: skip
def test_each_verdict_maps_onto_litmus_phase_and_verdict(name: str, phase: str, verdict: str,
                                                         counter: str) -> None:
    journal = load_journal(SAMPLES / f"{name}.json")
    doc = chaos_result(journal)
    status = doc["status"]
    assert (status["experimentStatus"]["phase"], status["experimentStatus"]["verdict"]) == (phase, verdict)
    assert status["history"][counter] == 1 and sum(
        status["history"][k] for k in ("passedRuns", "failedRuns", "stoppedRuns")) == 1
    assert ("errorOutput" in status["experimentStatus"]) == (verdict != "Pass")
    for probe in status["probeStatuses"]:
        assert probe["status"]["verdict"] in ("Passed", "Failed", "N/A")
        assert probe["type"] in ("httpProbe", "cmdProbe", "k8sProbe", "promProbe")
    # It is a ChaosResult the real CRD accepts.
    [crd] = [Crd(d) for d in yaml.safe_load_all(LITMUS_CRDS.read_text())
             if d and d["spec"]["names"]["kind"] == "ChaosResult"]
    assert schema_errors(crd, {**doc, "metadata": {**doc["metadata"], "namespace": "litmus"}}) == []


def test_report_format_litmus_writes_one_chaosresult_per_journal(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "chaosllm.cli", "report", str(SAMPLES / "effect-observed.json"),
         str(SAMPLES / "plain-deviated.json"), "--format", "litmus", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["effect-observed.chaosresult.json", "plain-deviated.chaosresult.json"]
    doc = json.loads((tmp_path / "effect-observed.chaosresult.json").read_text())
    assert doc["kind"] == "ChaosResult" and doc["apiVersion"] == "litmuschaos.io/v1alpha1"
    assert doc["metadata"]["name"] == "effect-observed"
    assert doc["status"]["experimentStatus"]["probeSuccessPercentage"] == "100"
    assert doc["status"]["history"]["targets"][0]["chaosStatus"] == "injected"
