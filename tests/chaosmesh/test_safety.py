"""Fault evidence, the ledger, concurrent removal, retries and the cluster halt, on the fake API server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from chaosllm.chaosmesh import actions, sweep
from chaosllm.chaosmesh._ledger import entry_id
from chaosllm.errors import InvalidArgument, PolicyViolation, TargetUnreachable
from chaosllm.faults import Ledger
from tests.chaos_run import CHAOSLLM, chaos_args, chaos_env
from tests.chaosmesh.fake_k8s import PAUSE, FakeCluster

NS = "shop"
WEB = {"namespace": NS, "label_selectors": "app=web", "duration": "30s", "timeout": "5s"}
MANAGED = {"app.kubernetes.io/managed-by": "chaosllm"}


def test_a_fault_reports_the_pods_it_injected_as_evidence(cluster: FakeCluster) -> None:
    handle = actions.inject_network_delay(latency="200ms", **{**WEB, "mode": "all"})
    assert handle["effect"] == "observed"
    assert handle["evidence"] == {"selected_pods": 3, "injected_pods": 3,
                                  "pods": "shop/web-1,shop/web-2,shop/web-3"}
    unconfirmed = actions.kill_pods(**{**WEB, "wait": False})
    assert unconfirmed["effect"] == "unknown"
    assert unconfirmed["evidence"] == {"reason": "not waited for injection (wait is false)"}
    dry = actions.stress_cpu(**WEB, dry_run=True)
    assert dry["effect"] == "none" and dry["evidence"] == {"reason": "dry run"}
    assert dry["would_touch"] == {"matching_pods": 3}  # mode "one" picks one of them


def test_every_object_is_in_the_ledger_until_its_rollback_removes_it(cluster: FakeCluster) -> None:
    actions.kill_pods(**WEB)
    actions.create_workflow([{"name": "slow", "kind": "NetworkChaos",
                              "spec": {"action": "delay", "mode": "all", "delay": {"latency": "9ms"},
                                       "selector": {"labelSelectors": {"app": "db"}}}}],
                            "2m", name="wf", namespace=NS, timeout="5s")
    entries = Ledger().entries()
    assert sorted(entries) == ["chaosmesh PodChaos shop/pod-kill-web", "chaosmesh Workflow shop/wf"]
    kill = entries["chaosmesh PodChaos shop/pod-kill-web"]
    assert kill["restorer"] == "chaosmesh.object" and kill["healer_pid"] is None
    assert kill["state"]["host"] == cluster.url and 29 < kill["deadline"] - time.time() <= 30
    assert 119 < entries["chaosmesh Workflow shop/wf"]["deadline"] - time.time() <= 120
    assert actions.remove_chaos("PodChaos", "pod-kill-web", NS)["removed"] is True
    assert list(Ledger().entries()) == ["chaosmesh Workflow shop/wf"]
    actions.remove_all_chaos(NS)
    assert Ledger().entries() == {}


def test_a_refused_or_failed_create_leaves_no_entry(cluster: FakeCluster) -> None:
    manifest = actions.fail_pods.render(**WEB)
    manifest["spec"]["gracePeriod"] = -1  # refused by the schema: HTTP 422
    with pytest.raises(Exception, match="HTTP 422"):
        actions.apply_manifest(manifest, wait=False)
    assert Ledger().entries() == {}


def test_a_schedule_needs_an_end(cluster: FakeCluster) -> None:
    spec = {"action": "pod-kill", "mode": "one", "selector": {"labelSelectors": {"app": "web"}}}
    with pytest.raises(InvalidArgument, match="Schedule nightly has no end: .*lifetime.*allow_unbounded"):
        actions.schedule_chaos("PodChaos", spec, "@daily", duration="10s", name="nightly", namespace=NS)
    assert cluster.requests == [] and Ledger().entries() == {}
    unbounded = actions.schedule_chaos("PodChaos", spec, "@daily", duration="10s", name="nightly",
                                       namespace=NS, allow_unbounded=True)
    assert unbounded["expires_at"] is None and unbounded["effect"] == "unknown"
    assert Ledger().get("chaosmesh Schedule shop/nightly")["deadline"] is None


def test_a_killed_run_leaves_its_schedule_in_the_ledger_and_cleanup_removes_it(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    experiment = {
        "title": "killed after creating a schedule", "description": "SIGKILL mid-method",
        "method": [{"type": "action", "name": "nightly-kill", "pauses": {"after": 60},
                    "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                                 "func": "schedule_chaos",
                                 "arguments": {"kind": "PodChaos", "schedule": "@every 5m",
                                               "duration": "10s", "lifetime": "1h",
                                               "name": "nightly-kill", "namespace": NS,
                                               "spec": {"action": "pod-kill", "mode": "one",
                                                        "selector": {"labelSelectors": {"app": "web"}}}}}}],
        "rollbacks": [{"type": "action", "name": "remove-nightly-kill",
                       "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                                    "func": "remove_chaos",
                                    "arguments": {"kind": "Schedule", "name": "nightly-kill",
                                                  "namespace": NS}}}],
    }  # fmt: skip
    (tmp_path / "experiment.json").write_text(json.dumps(experiment))
    (tmp_path / "settings.yaml").touch()
    chaos = subprocess.Popen(
        chaos_args(tmp_path, "run", "--rollback-strategy", "always", "--journal-path",
                   str(tmp_path / "journal.json"), str(tmp_path / "experiment.json")),
        env=chaos_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while cluster.get("schedules", NS, "nightly-kill") is None:
            assert chaos.poll() is None and time.monotonic() < deadline, "the schedule was not created"
            time.sleep(0.1)
        os.kill(chaos.pid, signal.SIGKILL)
        chaos.wait(10)
    finally:
        if chaos.poll() is None:
            chaos.kill()
    assert cluster.get("schedules", NS, "nightly-kill") is not None  # the rollback never ran
    ledger = json.loads((Path(os.environ["CHAOSLLM_STATE_DIR"]) / "ledger.json").read_text())
    (entry,) = ledger.values()
    assert entry["restorer"] == "chaosmesh.object" and entry["state"]["kind"] == "Schedule"
    assert 3500 < entry["deadline"] - time.time() <= 3600 and entry["healer_pid"]

    cleanup = subprocess.run([*CHAOSLLM, "cleanup"], capture_output=True, text=True,
                             env=chaos_env(), timeout=60)  # fmt: skip
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert "restored chaosmesh Schedule shop/nightly-kill" in cleanup.stdout
    assert cluster.get("schedules", NS, "nightly-kill") is None
    assert json.loads((Path(os.environ["CHAOSLLM_STATE_DIR"]) / "ledger.json").read_text()) == {}


def test_the_restorer_refuses_another_cluster(cluster: FakeCluster, crds: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from chaosllm.faults import cleanup

    actions.kill_pods(**WEB)
    other = FakeCluster(crds).start()
    try:
        monkeypatch.setenv("KUBECONFIG", str(other.write_kubeconfig(tmp_path / "other")))
        [outcome] = cleanup()
        assert outcome["removed"] is False
        assert f"it was created on {cluster.url}, but the Kubernetes configuration now points at " \
               f"{other.url}" in outcome["error"]
        assert other.requests == [] or all(r["method"] != "DELETE" for r in other.requests)
    finally:
        other.stop()
    assert cluster.get("podchaos", NS, "pod-kill-web") is not None


def _managed(cluster: FakeCluster, count: int, namespace: str = NS) -> None:
    for index in range(count):
        cluster.put_raw({"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
                         "metadata": {"name": f"bulk-{index}", "namespace": namespace, "labels": MANAGED,
                                      "finalizers": ["chaos-mesh/records"]},
                         "spec": {"action": "pod-kill", "mode": "one", "duration": "30s",
                                  "selector": {"namespaces": [namespace]}}}, "podchaos")  # fmt: skip


def test_remove_all_deletes_concurrently_and_waits_once_per_kind(cluster: FakeCluster) -> None:
    cluster.latency = 0.02
    _managed(cluster, 100)
    started = time.monotonic()
    result = actions.remove_all_chaos(NS)
    elapsed = time.monotonic() - started
    assert result["count"] == 100 and cluster.objects == {}
    deletes = [r for r in cluster.requests if r["method"] == "DELETE"]
    watches = [r for r in cluster.requests if r["query"].get("watch") == "true"]
    assert len(deletes) == 100
    # One list-and-watch per kind, not a read and a watch per object.
    assert len(watches) <= 3 and all(w["query"].get("labelSelector") for w in watches)
    assert all(not r["path"].endswith(tuple(f"bulk-{i}" for i in range(100)))
               for r in cluster.requests if r["method"] == "GET")
    # 100 deletes one after another would take at least 100 x 20 ms.
    assert elapsed < 2.0, elapsed


def test_an_idempotent_request_is_retried_once_on_a_dropped_connection(cluster: FakeCluster) -> None:
    actions.kill_pods(**WEB)
    cluster.drop_reused = 1
    status = actions.remove_chaos("PodChaos", "pod-kill-web", NS)
    assert status["removed"] is True
    dropped = [r for r in cluster.requests if r.get("dropped")]
    assert len(dropped) == 1


def test_a_create_is_never_retried_blindly(cluster: FakeCluster) -> None:
    from chaosllm._clients.k8s import chaos_mesh_api

    manifest = actions.kill_pods.render(**WEB)
    with chaos_mesh_api("inject PodChaos") as api:
        assert api.list("podchaos", NS) == []  # the connection is now pooled
        cluster.drop_reused = 1
        with pytest.raises(TargetUnreachable, match="unreachable"):
            api.create("podchaos", NS, manifest)
    posts = [r for r in cluster.requests if r["method"] == "POST"]
    assert len(posts) == 1 and posts[0].get("dropped") and cluster.objects == {}


def test_halt_pauses_then_removes_everything_ours_and_refuses_new_faults(
    cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions.kill_pods(**WEB)
    actions.inject_network_delay(latency="10ms", **WEB)
    _managed(cluster, 5, namespace="kube-system")
    foreign = actions.fail_pods.render(**WEB)
    foreign["metadata"]["labels"] = {}
    cluster.put_raw(foreign, "podchaos")
    result = sweep.halt_cluster("bad deploy", "alice", None, "chaosllm")
    assert result["paused"] == 7 and result["removed"] == 7 and result["failed"] == []
    assert result["reason"] == "bad deploy" and result["by"] == "alice"
    # One pause patch per object, before any delete.
    patches = [r for r in cluster.requests if r["method"] == "PATCH"]
    first_delete = next(i for i, r in enumerate(cluster.requests) if r["method"] == "DELETE")
    assert len(patches) == 7 and all(cluster.requests.index(p) < first_delete for p in patches)
    assert all(p["body"] == {"metadata": {"annotations": {PAUSE: "true"}}} for p in patches)
    assert list(cluster.objects) == [("podchaos", NS, "pod-failure-web")]
    halt = sweep.cluster_halt("chaosllm")
    assert halt == {"reason": "bad deploy", "by": "alice", "at": result["at"]}
    assert cluster.configmaps[("chaosllm", "chaosllm-halt")]["data"] == halt

    monkeypatch.setenv("CHAOSLLM_HALT_NAMESPACE", "chaosllm")
    expected = (f"could not inject PodChaos: chaos is halted in this cluster by alice at "
                f"{result['at']}: bad deploy (ConfigMap chaosllm/chaosllm-halt); lift it with "
                "chaosllm halt --lift --cluster")
    with pytest.raises(PolicyViolation, match=re.escape(expected)):
        actions.kill_pods(**WEB)
    assert cluster.get("podchaos", NS, "pod-kill-web") is None and Ledger().entries() == {}
    assert sweep.lift_cluster("chaosllm") is True
    assert sweep.cluster_halt("chaosllm") is None and sweep.lift_cluster("chaosllm") is False
    assert actions.kill_pods(**WEB)["effect"] == "observed"


def test_a_second_halt_replaces_the_first_one_s_reason(cluster: FakeCluster) -> None:
    sweep.halt_cluster("drill", "alice", NS, "chaosllm")
    second = sweep.halt_cluster("real incident", "bob", NS, "chaosllm")
    assert sweep.cluster_halt("chaosllm") == {"reason": "real incident", "by": "bob", "at": second["at"]}
    methods = [r["method"] for r in cluster.requests if "/configmaps" in r["path"]]
    assert methods[:3] == ["POST", "POST", "PUT"]
    assert sweep.lift_cluster("chaosllm") is True and cluster.configmaps == {}


def test_the_halt_command_halts_and_lifts_the_cluster(cluster: FakeCluster) -> None:
    actions.kill_pods(**WEB)
    _managed(cluster, 3)
    command = [*CHAOSLLM, "halt", "--cluster", "--namespace", "chaosllm", "--reason", "drill", "--json"]
    halt = subprocess.run(command, capture_output=True, text=True, env=chaos_env(), timeout=60)
    assert halt.returncode == 0, halt.stderr
    result = json.loads(halt.stdout)
    # The ledger's fault is restored on this machine first; the cluster sweep takes the rest.
    assert [r["id"] for r in result["restored"]] == [entry_id("PodChaos", NS, "pod-kill-web")]
    outcome = result["cluster"]["outcome"]
    assert outcome["paused"] == 3 and outcome["removed"] == 3 and outcome["reason"] == "drill"
    assert cluster.objects == {} and sweep.cluster_halt("chaosllm") is not None
    audit = [json.loads(line) for line in (Path(os.environ["CHAOSLLM_STATE_DIR"]) / "audit.jsonl")
             .read_text().splitlines()]  # fmt: skip
    assert [(e["event"], e.get("scope")) for e in audit][-1] == ("halt", "cluster")
    lift = subprocess.run([*CHAOSLLM, "halt", "--lift", "--cluster", "--namespace", "chaosllm"],
                          capture_output=True, text=True, env=chaos_env(), timeout=60)  # fmt: skip
    assert lift.returncode == 0, lift.stderr
    assert "cluster (chaosllm): lifted" in lift.stdout and sweep.cluster_halt("chaosllm") is None


def test_a_halt_is_ignored_without_the_halt_namespace_setting(cluster: FakeCluster) -> None:
    sweep.halt_cluster("drill", "bob", NS, "chaosllm")
    assert actions.kill_pods(**WEB)["effect"] == "observed"
