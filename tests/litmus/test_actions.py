"""Litmus faults through the real kubernetes client against the fake API server with Litmus's CRDs."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chaosllm.chaosmesh import actions as mesh
from chaosllm.errors import InvalidArgument, NotInjected, PolicyViolation, TargetNotFound
from chaosllm.faults import Ledger, cleanup
from chaosllm.litmus import actions, probes, tolerances
from tests.chaosmesh.fake_k8s import FakeCluster
from tests.litmus.conftest import NS

PREFIX = "/apis/litmuschaos.io/v1alpha1/namespaces/shop"
PROBE = {"name": "web-up", "type": "httpProbe", "mode": "Continuous",
         "httpProbe/inputs": {"url": "http://web.shop/healthz",
                              "method": {"get": {"criteria": "==", "responseCode": "200"}}},
         "runProperties": {"probeTimeout": "2s", "interval": "1s", "retry": 1}}  # fmt: skip
FAULT = {"fault": "pod-delete", "app_label": "app=web", "namespace": NS, "duration": "1s",
         "start_timeout": "5s", "timeout": "10s"}  # fmt: skip


def _posts(cluster: FakeCluster) -> list[dict[str, Any]]:
    return [r for r in cluster.requests if r["method"] == "POST"]


def test_a_passing_fault_returns_litmus_verdict_probes_and_targets_and_its_rollback_removes_it(
    cluster: FakeCluster,
) -> None:
    result = actions.run_litmus_fault(**FAULT, env={"CHAOS_INTERVAL": "1"}, probes=[PROBE])
    assert (result["phase"], result["verdict"]) == ("Completed", "Pass")
    assert result["probe_success_percentage"] == 100.0
    assert result["probe_statuses"] == [{"name": "web-up", "type": "httpProbe", "mode": "Continuous",
                                         "verdict": "Passed", "description": "Probe passed"}]
    assert result["targets"] == [{"name": "web-1", "kind": "deployment", "chaos_status": "injected"}]
    assert result["kind"] == "ChaosEngine" and result["name"] == "pod-delete-web"
    assert result["result"] == "pod-delete-web-pod-delete" and result["target"] == "shop: app=web"
    assert result["effect"] == "observed" and result["evidence"]["pods"] == "web-1"
    assert result["expires_at"] >= result["started_at"]
    [post] = _posts(cluster)
    assert post["path"] == f"{PREFIX}/chaosengines" and post["query"] == {"fieldValidation": "Strict"}
    body = post["body"]
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "chaosllm"}
    assert body["metadata"]["annotations"] == {"chaosllm.io/experiment": "adhoc"}
    assert body["spec"]["appinfo"] == {"appns": NS, "applabel": "app=web", "appkind": "deployment"}
    assert body["spec"]["chaosServiceAccount"] == "pod-delete-sa"
    assert body["spec"]["experiments"] == [{"name": "pod-delete", "spec": {
        "components": {"env": [{"name": "TOTAL_CHAOS_DURATION", "value": "1"},
                               {"name": "CHAOS_INTERVAL", "value": "1"}]},
        "probe": [PROBE]}}]  # fmt: skip
    assert list(Ledger().entries()) == ["chaosmesh ChaosEngine shop/pod-delete-web"]

    stopped = actions.stop_litmus_fault("pod-delete-web", NS)
    assert stopped["removed"] is True and stopped["stopped"] is False  # it had already completed
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None
    assert Ledger().entries() == {}
    assert actions.stop_litmus_fault("pod-delete-web", NS)["removed"] is False
    # The result outlives the engine: the probe still reads the verdict.
    read = probes.litmus_result("pod-delete-web", "pod-delete", NS)
    assert read["verdict"] == "Pass" and read["runs"]["passedRuns"] == 1
    assert tolerances.litmus_passed(read) is True
    assert probes.litmus_engine_status("pod-delete-web", NS)["engine_status"] == "absent"


def test_a_failed_probe_gives_verdict_fail_and_the_tolerance_fails(cluster: FakeCluster) -> None:
    cluster.behaviour["pod-delete-web"] = "fail-probe"
    second = {**PROBE, "name": "orders-flow"}
    result = actions.run_litmus_fault(**FAULT, probes=[PROBE, second])
    assert (result["phase"], result["verdict"]) == ("Completed_With_Probe_Failure", "Fail")
    assert result["probe_success_percentage"] == 50.0
    assert [p["verdict"] for p in result["probe_statuses"]] == ["Passed", "Failed"]
    assert result["effect"] == "observed"  # the fault ran; the system failed the probe
    assert tolerances.litmus_passed(result) is False
    assert tolerances.litmus_passed({**result, "verdict": "Pass"}, min_probe_success=50) is True
    assert tolerances.litmus_passed({**result, "verdict": "Pass"}, min_probe_success=75) is False
    engine = probes.litmus_engine_status("pod-delete-web", NS)
    assert engine["engine_status"] == "completed"
    assert engine["experiments"][0]["verdict"] == "Fail"


def test_an_experiment_error_is_reported_as_no_effect_with_litmus_reason(cluster: FakeCluster) -> None:
    cluster.behaviour["pod-delete-web"] = "error"
    result = actions.run_litmus_fault(**FAULT)
    assert (result["phase"], result["verdict"]) == ("Error", "Error")
    assert result["targets"] == [] and result["effect"] == "none"
    assert result["error"] == {"code": "TARGET_SELECTION_ERROR",
                               "reason": "no target pods found in the app namespace"}
    assert "no target pods found" in result["evidence"]["reason"]
    assert tolerances.litmus_passed(result, min_probe_success=0) is False


def test_stopping_a_running_fault_stops_the_engine_and_the_run_reports_stopped(cluster: FakeCluster) -> None:
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = actions.run_litmus_fault(**{**FAULT, "duration": "60s", "timeout": "90s"})

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 10
    while cluster.get("chaosresults", NS, "pod-delete-web-pod-delete") is None:
        assert time.monotonic() < deadline, "the result never appeared"
        time.sleep(0.05)
    stopped = actions.stop_litmus_fault("pod-delete-web", NS, timeout="5s")
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert stopped["stopped"] is True and stopped["stop_confirmed"] is True and stopped["removed"] is True
    patches = [r for r in cluster.requests if r["method"] == "PATCH"]
    assert patches[0]["body"] == {"spec": {"engineState": "stop"}}
    assert (outcome["result"]["phase"], outcome["result"]["verdict"]) == ("Stopped", "Stopped")
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None and Ledger().entries() == {}


def test_a_result_that_never_appears_fails_the_action_and_removes_the_engine(cluster: FakeCluster) -> None:
    cluster.behaviour["pod-delete-web"] = "never-result"
    with pytest.raises(NotInjected) as info:
        actions.run_litmus_fault(**{**FAULT, "start_timeout": "1s"})
    message = str(info.value)
    assert "Litmus fault pod-delete did not start: ChaosResult shop/pod-delete-web-pod-delete did " \
           "not appear within 1s" in message
    assert message.endswith("; ChaosEngine shop/pod-delete-web was stopped and removed")
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None
    assert Ledger().entries() == {}


def test_a_stale_result_of_an_earlier_run_is_not_taken_for_this_one(cluster: FakeCluster) -> None:
    actions.run_litmus_fault(**FAULT)
    actions.stop_litmus_fault("pod-delete-web", NS)
    cluster.behaviour["pod-delete-web"] = "fail-probe"
    again = actions.run_litmus_fault(**FAULT, probes=[PROBE])
    assert again["verdict"] == "Fail"
    assert again["runs"] == {"passedRuns": 1, "failedRuns": 1, "stoppedRuns": 0}


@pytest.mark.parametrize(("change", "error", "message"), [
    ({"fault": "pod-delte"}, TargetNotFound,
     "Litmus fault 'pod-delte' is not installed in namespace shop: no ChaosExperiment pod-delte "
     "(installed: pod-delete, pod-network-latency)"),
    ({"env": {"CHAOS_INTERVALL": "5"}}, TargetNotFound,
     "Litmus fault pod-delete: env CHAOS_INTERVALL is not read by ChaosExperiment shop/pod-delete"),
    ({"env": {"TOTAL_CHAOS_DURATION": "5"}}, InvalidArgument, "env TOTAL_CHAOS_DURATION is set from"),
    ({"env": {"PODS_AFFECTED_PERC": "150"}}, InvalidArgument, "PODS_AFFECTED_PERC must be"),
    ({"app_label": ""}, InvalidArgument, "app_label is required"),
    ({"app_kind": "pod"}, InvalidArgument, "app_kind must be one of"),
    ({"fault": "Pod Delete"}, InvalidArgument, "is not a Litmus fault name"),
    ({"probes": [{**PROBE, "mode": "Always"}]}, InvalidArgument, "probe web-up: mode must be one of"),
    ({"app_namespace": "kube-system"}, PolicyViolation, "namespace kube-system is forbidden"),
])  # fmt: skip
def test_bad_input_is_a_clear_error_and_nothing_is_created(
    cluster: FakeCluster, change: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        actions.run_litmus_fault(**{**FAULT, **change})
    assert message in str(info.value)
    assert _posts(cluster) == [] and Ledger().entries() == {}
    assert not [k for k in cluster.objects if k[0] in ("chaosengines", "chaosresults")]


def test_the_blast_radius_policy_reads_labels_and_pods_affected_percentage(
    cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", '{"allowed_namespaces": ["shop"], '
                       '"required_labels": {"chaos-ready": "true"}, "max_percent": 50, "max_count": 1}')
    with pytest.raises(PolicyViolation, match="does not require the opt-in label chaos-ready=true"):
        actions.run_litmus_fault(**FAULT)
    ready = {**FAULT, "app_label": "app=web,chaos-ready=true"}
    with pytest.raises(PolicyViolation, match="reaches 100% of the selected pods, more than max_percent 50%"):
        actions.run_litmus_fault(**ready, env={"PODS_AFFECTED_PERC": "100"})
    # 50 % of the two ready pods is one pod: within max_count 1.
    with pytest.raises(PolicyViolation, match="reaches 2 pod\\(s\\), more than max_count 1"):
        actions.run_litmus_fault(**{**ready, "app_label": "app=web"}, env={"PODS_AFFECTED_PERC": "50"},
                                 configuration={"blast_radius": {"max_count": 1}})
    assert _posts(cluster) == []
    result = actions.run_litmus_fault(**ready, env={"PODS_AFFECTED_PERC": "50"})
    assert result["verdict"] == "Pass" and result["targets"][0]["name"] == "web-1"


def test_a_dry_run_is_validated_by_the_server_and_creates_nothing(
    cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "1")
    result = actions.run_litmus_fault(**FAULT, probes=[PROBE])
    assert result["dry_run"] is True and result["server_validated"] is True
    assert result["would_touch"] == {"matching_pods": 3} and result["effect"] == "none"
    [post] = _posts(cluster)
    assert post["query"] == {"fieldValidation": "Strict", "dryRun": "All"}
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None and Ledger().entries() == {}
    assert actions.stop_litmus_fault("pod-delete-web", NS) == {
        "dry_run": True, "removed": False, "exists": False, "kind": "ChaosEngine",
        "name": "pod-delete-web", "namespace": NS}


def test_the_real_crd_schema_refuses_a_malformed_probe(cluster: FakeCluster) -> None:
    bad = {**PROBE, "runProperties": {"probeTimeout": 2}}  # Litmus wants a duration string
    with pytest.raises(Exception, match="runProperties"):
        actions.run_litmus_fault(**FAULT, probes=[bad])
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None and Ledger().entries() == {}


def test_remove_all_chaos_and_cleanup_remove_litmus_engines(cluster: FakeCluster) -> None:
    actions.run_litmus_fault(**FAULT)
    actions.run_litmus_fault(**{**FAULT, "fault": "pod-network-latency"})
    assert len(Ledger().entries()) == 2
    dry = mesh.remove_all_chaos(NS, dry_run=True)
    assert {(w["kind"], w["name"]) for w in dry["would_remove"]} == {
        ("ChaosEngine", "pod-delete-web"), ("ChaosEngine", "pod-network-latency-web")}
    removed = mesh.remove_all_chaos(NS)
    assert removed["count"] == 2 and Ledger().entries() == {}
    assert not [k for k in cluster.objects if k[0] == "chaosengines"]
    # A run killed after creating its engine: chaosllm cleanup removes it through the ledger.
    actions.run_litmus_fault(**FAULT)
    report = cleanup()
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None and Ledger().entries() == {}
    assert report


def test_a_stuck_engine_is_forced_by_dropping_its_finalizers(cluster: FakeCluster) -> None:
    actions.run_litmus_fault(**FAULT)
    cluster.behaviour["pod-delete-web"] = "stuck-finalizer"
    with pytest.raises(Exception, match="retry with force=true"):
        actions.stop_litmus_fault("pod-delete-web", NS, timeout="1s")
    forced = actions.stop_litmus_fault("pod-delete-web", NS, timeout="2s", force=True)
    assert forced["removed"] is True and forced["forced"] is True
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None


def test_the_cluster_halt_removes_engines_and_refuses_new_litmus_faults(cluster: FakeCluster) -> None:
    from chaosllm.chaosmesh.sweep import halt_cluster, lift_cluster

    actions.run_litmus_fault(**FAULT)
    halted = halt_cluster("bad deploy", "alice", None, "chaosllm")
    assert halted["removed"] == 1 and halted["failed"] == []
    assert cluster.get("chaosengines", NS, "pod-delete-web") is None and Ledger().entries() == {}
    posts = len(_posts(cluster))
    with pytest.raises(PolicyViolation, match="chaos is halted in this cluster by alice"):
        actions.run_litmus_fault(**FAULT, configuration={"halt_namespace": "chaosllm"})
    assert len(_posts(cluster)) == posts and Ledger().entries() == {}
    assert lift_cluster("chaosllm") is True
    again = actions.run_litmus_fault(**FAULT, configuration={"halt_namespace": "chaosllm"})
    assert again["verdict"] == "Pass"
