"""Chaos Mesh actions and probes through the real kubernetes client against the fake API server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chaosllm.chaosmesh import actions, probes
from chaosllm.errors import FaultFailed, InvalidArgument, NotInjected, PolicyViolation, TargetUnreachable
from chaosllm.faults import Ledger
from tests.chaosmesh.fake_k8s import CLEAN, PAUSE, FakeCluster

NS = "shop"
WEB = {"namespace": NS, "label_selectors": "app=web", "duration": "30s", "timeout": "5s"}
PREFIX = "/apis/chaos-mesh.org/v1alpha1/namespaces/shop"


def _posts(cluster: FakeCluster) -> list[dict[str, Any]]:
    return [r for r in cluster.requests if r["method"] == "POST"]


def test_delay_is_confirmed_injected_and_the_whole_body_is_sent(cluster: FakeCluster) -> None:
    handle = actions.inject_network_delay(latency="200ms", **WEB)
    assert handle["kind"] == "NetworkChaos" and handle["name"] == "network-delay-web"
    assert handle["status"]["state"] == "injected"
    assert handle["status"]["selected_count"] == handle["status"]["injected_count"] == 1
    assert handle["expires_at"] > handle["started_at"]
    [post] = _posts(cluster)
    assert post["path"] == f"{PREFIX}/networkchaos"
    assert post["query"] == {"fieldValidation": "Strict"}
    assert post["body"] == {
        "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
        "metadata": {"name": "network-delay-web", "namespace": NS,
                     "labels": {"app.kubernetes.io/managed-by": "chaosllm"},
                     "annotations": {"chaosllm.io/experiment": "adhoc"}},
        "spec": {"selector": {"labelSelectors": {"app": "web"}, "namespaces": [NS]},
                 "mode": "one", "duration": "30s", "action": "delay", "direction": "to",
                 "delay": {"latency": "200ms", "jitter": "0ms", "correlation": "0"}},
    }  # fmt: skip
    # Confirmation followed a watch, not a polling loop.
    watches = [r for r in cluster.requests if r["query"].get("watch") == "true"]
    assert len(watches) == 1 and watches[0]["query"]["fieldSelector"] == "metadata.name=network-delay-web"


def test_a_selector_matching_no_pod_is_refused_at_once_naming_it_and_nothing_is_created(
    cluster: FakeCluster,
) -> None:
    started = time.monotonic()
    with pytest.raises(NotInjected) as info:
        actions.kill_pods(**{**WEB, "label_selectors": "app=nothing", "timeout": "60s"})
    assert time.monotonic() - started < 5
    assert str(info.value) == (
        "PodChaos pod-kill-nothing would select no pod: selector (namespaces shop; labels "
        "app=nothing) matches nothing in namespace(s) shop; PodChaos shop/pod-kill-nothing was "
        "not created")
    assert _posts(cluster) == [] and cluster.objects == {}
    assert Ledger().entries() == {}


def test_nothing_selected_by_chaos_mesh_fails_within_5s_and_the_object_is_removed(
    cluster: FakeCluster,
) -> None:
    # Pods match the labels, so the check before the create passes; the node selector is
    # evaluated only by Chaos Mesh, which then selects nothing and reports AllInjected=True
    # with no records (chaos-mesh issue 3374).
    started = time.monotonic()
    with pytest.raises(NotInjected) as info:
        actions.kill_pods(**{**WEB, "timeout": "60s", "name": "kill-on-ssd",
                             "selector": {"nodeSelectors": {"disk": "ssd"}}})
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert message.startswith("PodChaos shop/kill-on-ssd selected no pod: selector (namespaces "
                              "shop; labels app=web; node labels disk=ssd) matched nothing in "
                              "namespace(s) shop"), message
    assert message.endswith("; it was removed")
    assert len(_posts(cluster)) == 1 and cluster.get("podchaos", NS, "kill-on-ssd") is None
    assert Ledger().entries() == {}


def test_injection_never_confirmed_times_out_and_removes_the_fault(cluster: FakeCluster) -> None:
    cluster.behaviour["stress-cpu-web"] = "never-inject"
    started = time.monotonic()
    with pytest.raises(NotInjected, match="not confirmed injected within 1s .*it was removed"):
        actions.stress_cpu(**{**WEB, "timeout": "1s"})
    assert time.monotonic() - started < 10
    assert cluster.get("stresschaos", NS, "stress-cpu-web") is None
    assert any(r["method"] == "DELETE" for r in cluster.requests)


def test_dry_run_creates_nothing_and_lists_the_pods(cluster: FakeCluster) -> None:
    result = actions.fail_pods(**{**WEB, "mode": "all"}, dry_run=True)
    assert result["dry_run"] is True and result["server_validated"] is True
    assert sorted(p["name"] for p in result["pods"]) == ["web-1", "web-2", "web-3"]
    assert result["manifest"]["spec"]["action"] == "pod-failure"
    assert [r["query"].get("dryRun") for r in _posts(cluster)] == ["All"]
    assert cluster.objects == {}


def test_dry_run_from_the_environment(cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "1")
    result = actions.inject_dns_fault(**WEB)
    assert result["dry_run"] is True and cluster.objects == {}


def test_server_rejection_is_translated(cluster: FakeCluster) -> None:
    manifest = actions.fail_pods.render(**WEB)
    manifest["spec"]["gracePeriod"] = -1  # PodChaos allows it, but the schema minimum is 0
    with pytest.raises(FaultFailed, match="HTTP 422 .*gracePeriod"):
        actions.apply_manifest(manifest, wait=False)


def test_same_name_replaces_our_object_never_returns_the_old_one(cluster: FakeCluster) -> None:
    first = actions.inject_network_loss(loss="10", **WEB)
    old_uid = cluster.get("networkchaos", NS, "network-loss-web")["metadata"]["uid"]
    second = actions.inject_network_loss(loss="50", **WEB)
    current = cluster.get("networkchaos", NS, "network-loss-web")
    assert first["replaced"] is False and second["replaced"] is True
    assert current["metadata"]["uid"] != old_uid
    assert current["spec"]["loss"]["loss"] == "50"


def test_same_name_owned_by_someone_else_is_refused(cluster: FakeCluster) -> None:
    foreign = actions.fail_pods.render(**WEB)
    foreign["metadata"]["labels"] = {"team": "sre"}
    cluster.put_raw(foreign, "podchaos")
    with pytest.raises(FaultFailed, match="not managed by chaosllm"):
        actions.fail_pods(**WEB)
    assert cluster.get("podchaos", NS, "pod-failure-web")["metadata"]["labels"] == {"team": "sre"}


def test_remove_is_idempotent(cluster: FakeCluster) -> None:
    actions.inject_io_errno(volume_path="/data", **WEB)
    first = actions.remove_chaos("IOChaos", "io-errno-web", NS)
    second = actions.remove_chaos("iochaos", "io-errno-web", NS)
    ended_at = first.pop("ended_at")
    assert first == {"kind": "IOChaos", "name": "io-errno-web", "namespace": NS, "removed": True,
                     "forced": False}
    assert ended_at.endswith("+00:00")
    assert second == {"kind": "IOChaos", "name": "io-errno-web", "namespace": NS, "removed": False}


def test_a_stuck_finalizer_needs_force(cluster: FakeCluster) -> None:
    cluster.behaviour["time-shift-web"] = "stuck-finalizer"
    actions.shift_time(time_offset="-5m", **WEB)
    with pytest.raises(FaultFailed, match="still deleting .*force=true"):
        actions.remove_chaos("TimeChaos", "time-shift-web", NS, timeout="1s")
    result = actions.remove_chaos("TimeChaos", "time-shift-web", NS, force=True, timeout="1s")
    assert result["removed"] is True and result["forced"] is True
    patches = [r for r in cluster.requests if r["method"] == "PATCH"]
    assert patches[-1]["content_type"] == "application/merge-patch+json"
    assert patches[-1]["body"] == {"metadata": {"annotations": {CLEAN: "forced"}}}
    assert cluster.get("timechaos", NS, "time-shift-web") is None


def test_pause_and_resume_use_the_annotation_as_a_merge_patch(cluster: FakeCluster) -> None:
    actions.inject_http_fault(abort=True, port=8080, **WEB)
    actions.pause_chaos("HTTPChaos", "http-fault-web", NS)
    paused = probes.wait_for_recovery("HTTPChaos", "http-fault-web", NS, timeout="5s")
    assert paused["paused"] is True and paused["state"] == "paused" and paused["injected_count"] == 0
    actions.resume_chaos("HTTPChaos", "http-fault-web", NS)
    resumed = probes.wait_for_injection("HTTPChaos", "http-fault-web", NS, timeout="5s")
    assert resumed["state"] == "injected" and resumed["paused"] is False
    bodies = [r["body"] for r in cluster.requests if r["method"] == "PATCH"]
    assert bodies == [{"metadata": {"annotations": {PAUSE: "true"}}},
                      {"metadata": {"annotations": {PAUSE: None}}}]
    assert all(r["content_type"] == "application/merge-patch+json"
               for r in cluster.requests if r["method"] == "PATCH")
    assert actions.resume_chaos("HTTPChaos", "gone", NS)["removed"] is False


def test_probes_status_recovery_and_listing(cluster: FakeCluster) -> None:
    actions.inject_network_corrupt(corrupt="5", **{**WEB, "duration": "1s", "mode": "all"})
    status = probes.chaos_status("NetworkChaos", "network-corrupt-web", NS)
    assert status["selected_count"] == 3 and status["conditions"]["Selected"] is True
    assert status["last_events"][0]["operation"] == "Apply"
    recovered = probes.wait_for_recovery("NetworkChaos", "network-corrupt-web", NS, timeout="5s")
    assert recovered["recovered"] is True and recovered["recovered_count"] == 3
    listed = probes.list_chaos(NS)
    assert [(o["kind"], o["name"]) for o in listed] == [("NetworkChaos", "network-corrupt-web")]
    assert probes.chaos_status("NetworkChaos", "nope", NS)["state"] == "absent"


def test_remove_all_chaos_removes_only_ours(cluster: FakeCluster) -> None:
    actions.kill_pods(**WEB)
    actions.stress_memory(**WEB)
    actions.schedule_chaos("PodChaos", {"action": "pod-kill", "mode": "one",
                                        "selector": {"labelSelectors": {"app": "web"}}},
                           "@every 5m", "10s", lifetime="1h", namespace=NS)
    foreign = actions.fail_pods.render(**WEB)
    foreign["metadata"]["labels"] = {}
    cluster.put_raw(foreign, "podchaos")
    result = actions.remove_all_chaos(NS)
    assert result["count"] == 3
    assert result["removed"][0]["kind"] == "Schedule"  # schedules first: they start nothing new
    assert list(cluster.objects) == [("podchaos", NS, "pod-failure-web")]


def test_workflow_with_status_check_is_confirmed_scheduled(cluster: FakeCluster) -> None:
    steps = [{"name": "slow-db", "kind": "NetworkChaos",
              "spec": {"action": "delay", "mode": "all", "selector": {"labelSelectors": {"app": "db"}},
                       "delay": {"latency": "200ms"}}}]
    handle = actions.create_workflow(steps, "2m", "Parallel", {"url": "http://web.shop/healthz"},
                                     name="degrade", namespace=NS, timeout="5s")
    assert handle["kind"] == "Workflow" and handle["status"]["entryNode"] == "degrade-entry"
    assert probes.chaos_status("Workflow", "degrade", NS)["state"] == "running"
    stored = cluster.get("workflows", NS, "degrade")
    assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "chaosllm"


def test_blast_radius_refuses_before_any_request(cluster: FakeCluster) -> None:
    config = {"blast_radius": {"allowed_namespaces": ["shop"], "required_labels": "chaos-ready=true"}}
    with pytest.raises(PolicyViolation, match="namespace kube-system is forbidden"):
        actions.kill_pods(namespace="kube-system", label_selectors="app=dns", duration="10s")
    with pytest.raises(PolicyViolation, match="opt-in label chaos-ready=true"):
        actions.kill_pods(**WEB, configuration=config)
    with pytest.raises(PolicyViolation, match="namespace api is not in allowed"):
        actions.kill_pods(**{**WEB, "namespaces": ["api"],
                             "label_selectors": "app=web,chaos-ready=true"}, configuration=config)
    assert cluster.requests == []


def test_blast_radius_counts_the_matched_pods(cluster: FakeCluster) -> None:
    config = {"blast_radius": {"max_count": 2}}
    with pytest.raises(PolicyViolation, match="reaches 3 pod"):
        actions.fail_pods(**{**WEB, "mode": "all"}, configuration=config)
    assert _posts(cluster) == []
    ok = actions.fail_pods(**{**WEB, "mode": "all", "label_selectors": "chaos-ready=true"},
                           configuration=config)
    assert ok["status"]["selected_count"] == 2


def test_unreachable_api_fails_fast(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = FakeCluster({})
    dead.server.server_close()
    config = tmp_path / "kubeconfig"
    config.write_text(dead.write_kubeconfig(config).read_text().replace(dead.url, f"http://127.0.0.1:{port}"))
    monkeypatch.setenv("KUBECONFIG", str(config))
    started = time.monotonic()
    with pytest.raises(TargetUnreachable, match="unreachable"):
        actions.remove_chaos("PodChaos", "x", NS)
    assert time.monotonic() - started < 5


def test_the_preview_evaluates_every_selector_field(cluster: FakeCluster) -> None:
    cluster.add_pod("shop", "api-1", {"app": "api", "tier": "web"}, annotations={"chaos": "ok"})
    cluster.add_pod("shop", "api-2", {"app": "api", "tier": "web"})
    cluster.add_pod("shop", "api-3", {"app": "api", "tier": "batch"}, annotations={"chaos": "ok"})
    cluster.add_pod("shop", "api-4", {"app": "api", "tier": "web"}, phase="Pending",
                    annotations={"chaos": "ok"})
    selector = {"labelSelectors": {"app": "api"},
                "expressionSelectors": [{"key": "tier", "operator": "In", "values": ["web"]},
                                        {"key": "canary", "operator": "DoesNotExist"}],
                "annotationSelectors": {"chaos": "ok"}, "podPhaseSelectors": ["Running"]}
    result = actions.kill_pods(**{**WEB, "label_selectors": None, "selector": selector}, dry_run=True)
    assert [p["name"] for p in result["pods"]] == ["api-1"]
    pods = [r for r in cluster.requests if r["path"] == "/api/v1/namespaces/shop/pods"]
    assert pods[0]["query"]["labelSelector"] == "app=api,tier in (web),!canary"
    explicit = actions.kill_pods(**{**WEB, "label_selectors": None,
                                    "selector": {"pods": {"shop": ["db-1", "web-2"]}}}, dry_run=True)
    assert sorted(p["name"] for p in explicit["pods"]) == ["db-1", "web-2"]


def test_a_network_target_is_part_of_the_blast_radius(cluster: FakeCluster) -> None:
    target = {"selector": {"namespaces": ["kube-system"], "labelSelectors": {"app": "dns"}}}
    with pytest.raises(PolicyViolation, match="NetworkChaos network-partition-web target: namespace "
                                              "kube-system is forbidden"):
        actions.inject_network_partition(direction="both", target=target, **WEB)
    assert cluster.requests == []


def test_the_context_comes_from_secrets_as_in_chaostoolkit_kubernetes(
    cluster: FakeCluster, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    config["clusters"].append({"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "fake"}})
    config["current-context"] = "dead"
    (tmp_path / "two-contexts").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "two-contexts"))
    with pytest.raises(TargetUnreachable):
        probes.list_chaos(NS)
    assert probes.list_chaos(NS, secrets={"KUBERNETES_CONTEXT": "fake"}) == []
    assert any(r["path"].endswith("/networkchaos") for r in cluster.requests)


def test_a_broken_api_server_gets_one_attempt(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[int] = []

    def reset_every_connection() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

    threading.Thread(target=reset_every_connection, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    dead = FakeCluster({})
    dead.server.server_close()
    path = dead.write_kubeconfig(tmp_path / "kubeconfig")
    path.write_text(path.read_text().replace(dead.url, url))
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(TargetUnreachable, match="unreachable"):
        probes.chaos_status("PodChaos", "x", NS)
    listener.close()
    assert accepted == [1]


def test_wait_for_injection_reports_an_empty_selection(cluster: FakeCluster) -> None:
    # The labels match pods, so apply_manifest creates it; the node selector matches no node.
    manifest = actions.fail_pods.render(**WEB, name="pod-failure-ghost",
                                        selector={"nodeSelectors": {"disk": "ssd"}})
    actions.apply_manifest(manifest, wait=False)
    with pytest.raises(NotInjected, match=r"selected no pod: selector \(namespaces shop; labels app=web; "
                                          r"node labels disk=ssd\)"):
        probes.wait_for_injection("PodChaos", "pod-failure-ghost", NS, timeout="5s")
    assert probes.chaos_status("PodChaos", "pod-failure-ghost", NS)["conditions"] == {
        "ObjectCreated": True, "Selected": False, "AllInjected": True, "AllRecovered": False,
        "Paused": False}


def test_remove_all_chaos_removes_the_others_when_one_is_stuck(cluster: FakeCluster) -> None:
    cluster.behaviour["dns-web"] = "stuck-finalizer"
    actions.inject_dns_fault(**WEB)
    actions.inject_network_partition(**WEB)
    with pytest.raises(FaultFailed, match="removed 1 object.*DNSChaos shop/dns-web: still present 1s "
                                          "after its deletion; retry with force=true"):
        actions.remove_all_chaos(NS, timeout="1s")
    assert [key[0] for key in cluster.objects] == ["dnschaos"]


def test_an_interrupted_wait_removes_the_fault(cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaosllm.chaosmesh import _submit

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(_submit, "_confirm", interrupted)
    with pytest.raises(KeyboardInterrupt):
        actions.kill_pods(**WEB)
    assert cluster.get("podchaos", NS, "pod-kill-web") is None


def test_a_numeric_namespace_is_refused_before_any_request(cluster: FakeCluster) -> None:
    docs = ("apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: one, namespace: shop}\n"
            "spec: {action: pod-kill, mode: one, duration: 10s, selector: {namespaces: [shop]}}\n---\n"
            "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: two, namespace: 2024}\n"
            "spec: {action: pod-kill, mode: one, duration: 10s, selector: {namespaces: [shop]}}\n")
    with pytest.raises(InvalidArgument, match="metadata.namespace must be a string, got 2024"):
        actions.apply_manifest(docs)
    assert cluster.requests == []


def test_a_dry_run_rollback_deletes_and_patches_nothing(
    cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions.kill_pods(**WEB)
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "1")
    before = len(cluster.requests)
    assert actions.remove_chaos("PodChaos", "pod-kill-web", NS)["exists"] is True
    assert actions.pause_chaos("PodChaos", "pod-kill-web", NS)["dry_run"] is True
    assert actions.resume_chaos("PodChaos", "pod-kill-web", NS)["exists"] is True
    listed = actions.remove_all_chaos(NS)
    assert listed["count"] == 0 and listed["would_remove"][0]["name"] == "pod-kill-web"
    assert {r["method"] for r in cluster.requests[before:]} == {"GET"}
    assert cluster.get("podchaos", NS, "pod-kill-web") is not None


def test_deletes_ask_for_foreground_propagation(cluster: FakeCluster) -> None:
    actions.kill_pods(**WEB)
    actions.remove_chaos("PodChaos", "pod-kill-web", NS)
    (delete,) = [r for r in cluster.requests if r["method"] == "DELETE"]
    assert (delete["body"] or {}).get("propagationPolicy") == "Foreground" or (
        delete["query"].get("propagationPolicy") == "Foreground")


def test_the_policy_sees_into_scheduled_workflows_and_refuses_unknown_templates(
    cluster: FakeCluster,
) -> None:
    pod_kill = {"action": "pod-kill", "mode": "one", "duration": "10s",
                "selector": {"namespaces": ["kube-system"]}}
    scheduled = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Schedule",
                 "metadata": {"name": "sched-wf", "namespace": NS,
                              "annotations": {"chaosllm.io/lifetime": "1h"}},
                 "spec": {"schedule": "@every 5m", "type": "Workflow", "historyLimit": 1,
                          "concurrencyPolicy": "Forbid",
                          "workflow": {"entry": "kill", "templates": [
                              {"name": "kill", "templateType": "PodChaos", "deadline": "1m",
                               "podChaos": pod_kill}]}}}  # fmt: skip
    with pytest.raises(PolicyViolation, match="template kill .*namespace kube-system is forbidden"):
        actions.apply_manifest(scheduled)
    jvm = {"name": "jvm", "templateType": "JVMChaos", "deadline": "1m",
           "jvmChaos": {"action": "exception", "mode": "one", "selector": {"namespaces": [NS]}}}
    with pytest.raises(PolicyViolation, match="template jvm: template type JVMChaos cannot be checked"):
        actions.create_workflow([jvm], "2m", namespace=NS, name="jvm-flow")
    assert cluster.requests == []


def test_no_kubeconfig_is_named_when_the_client_falls_back_to_localhost(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    hint = "no kubeconfig at .*missing and not running in a cluster"
    with pytest.raises(TargetUnreachable, match=hint) as info:
        actions.kill_pods(**WEB)
    assert "it was removed" not in str(info.value)  # nothing was created
