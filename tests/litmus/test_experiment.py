"""A Litmus fault in an experiment: `chaos run` against the fake API server, then its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaosllm.report.litmus import chaos_result
from chaosllm.report.model import parse_journal
from tests.chaos_run import run_experiment
from tests.chaosmesh.fake_k8s import FakeCluster
from tests.litmus.conftest import NS
from tests.litmus.test_actions import PROBE


def _experiment() -> dict[str, Any]:
    fault = {"fault": "pod-delete", "app_label": "app=web,chaos-ready=true", "namespace": NS,
             "duration": "1s", "start_timeout": "10s", "timeout": "20s",
             "probes": [PROBE, {**PROBE, "name": "orders-flow"}]}
    return {
        "version": "1.0.0", "title": "web survives a pod delete", "description": "Litmus pod-delete",
        "tags": ["litmus", "weight:8"],
        "configuration": {"blast_radius": {"allowed_namespaces": [NS],
                                           "required_labels": {"chaos-ready": "true"}}},
        "controls": [{"name": "blast-radius",
                      "provider": {"type": "python", "module": "chaosllm.controls.blast_radius"}}],
        "steady-state-hypothesis": {"title": "nothing to check before", "probes": []},
        "method": [{"type": "action", "name": "delete-a-web-pod",
                    "provider": {"type": "python", "module": "chaosllm.litmus.actions",
                                 "func": "run_litmus_fault", "arguments": fault}}],
        "rollbacks": [{"type": "action", "name": "stop-pod-delete",
                       "provider": {"type": "python", "module": "chaosllm.litmus.actions",
                                    "func": "stop_litmus_fault",
                                    "arguments": {"name": "pod-delete-web", "namespace": NS}}}],
    }  # fmt: skip


def test_chaos_run_of_a_litmus_fault_is_reported_with_litmus_verdict(cluster: FakeCluster,
                                                                    tmp_path: Path) -> None:
    passing = tmp_path / "pass"
    passing.mkdir()
    proc, journal = run_experiment(_experiment(), passing, extra_args=("--rollback-strategy", "always"))
    assert journal.get("status") == "completed", proc.stdout + proc.stderr
    run = parse_journal(journal, "pass.json")
    assert run.verdict == "passed" and run.probe_success == 100.0 and run.weight == 8
    [fault] = run.faults
    assert (fault.kind, fault.name, fault.effect) == ("ChaosEngine", "pod-delete-web", "observed")
    assert fault.evidence["pods"] == "web-1"
    assert journal["rollbacks"][0]["output"]["removed"] is True
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None
    created = cluster.created_bodies()[0]
    assert created["metadata"]["annotations"] == {"chaosllm.io/experiment": "web survives a pod delete"}

    cluster.behaviour["pod-delete-web"] = "fail-probe"
    failing = tmp_path / "fail"
    failing.mkdir()
    proc, journal = run_experiment(_experiment(), failing, extra_args=("--rollback-strategy", "always"))
    run = parse_journal(journal, "fail.json")
    assert run.verdict == "failed", proc.stdout + proc.stderr
    assert run.verdict_reasons == [
        "Litmus fault 'delete-a-web-pod' has verdict Fail (probe success 50.0%: orders-flow Failed)"]
    assert run.probe_success == 50.0
    document = chaos_result(run)
    assert document["status"]["experimentStatus"]["verdict"] == "Fail"
    assert [p["name"] for p in document["status"]["probeStatuses"]] == [
        "delete-a-web-pod/web-up", "delete-a-web-pod/orders-flow"]
