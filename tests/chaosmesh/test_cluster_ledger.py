"""The fault ledger's copy in the cluster: faults of a runner that died are restored from anywhere.

The runner is a separate process writing to Secrets on the fake API server
and changing a private Redis; it and its healer are killed with SIGKILL (a
pod that died); a second ``chaosllm cleanup --cluster`` process, with a
state directory of its own (another machine), restores the fault.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis as redislib

from chaosllm.errors import ChaosLLMError
from chaosllm.faults import cluster as cluster_module
from chaosllm.faults.cluster import LABELS, ledger_namespace, secret_name
from chaosllm.faults.ledger import Ledger
from chaosllm.redis import actions as redis_actions
from chaosllm.sandbox.app.launcher import free_port, stop_pid, wait_until
from tests.chaos_run import CHAOSLLM, chaos_env
from tests.chaosmesh.fake_k8s import FakeCluster

NAMESPACE = "chaosllm"
SEVEN_MB = str(7 * 1024 * 1024)
POLICY = {"redis": {"allow_maxmemory": True}}


def _entries(cluster: FakeCluster) -> dict[str, dict[str, Any]]:
    found = {}
    for (ns, name), secret in cluster.secrets.items():
        assert ns == NAMESPACE and secret["metadata"]["labels"] == LABELS
        entry = json.loads(base64.b64decode(secret["data"]["entry"]))
        assert name == secret_name(entry["id"])
        found[entry["id"]] = entry
    return found


def _cleanup(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in chaos_env().items() if k != "CHAOSLLM_LEDGER_NAMESPACE"}
    env["CHAOSLLM_STATE_DIR"] = str(state)
    return subprocess.run([*CHAOSLLM, "cleanup", "--cluster", *args], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip


def test_every_ledger_change_is_written_to_the_cluster_first(
    cluster: FakeCluster, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLLM_LEDGER_NAMESPACE", NAMESPACE)
    config = {"redis_url": redis_url, "blast_radius": POLICY}
    redis_actions.limit_memory("7mb", duration="5m", configuration=config)
    [(entry_id, entry)] = _entries(cluster).items()
    assert Ledger().entries() == {entry_id: entry}
    assert entry["state"]["maxmemory"] == "0" and entry["healer_pid"]
    # A Secret, not a ConfigMap: the entry holds the connection settings.
    assert cluster.configmaps == {} and list(cluster.secrets.values())[0]["type"] == "Opaque"
    redis_actions.restore_memory(configuration=config)
    assert cluster.secrets == {} and Ledger().entries() == {}
    assert redislib.Redis.from_url(redis_url).config_get("maxmemory") == {"maxmemory": "0"}


def test_a_fault_the_cluster_cannot_record_is_not_applied(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "gone", "user": {"token": "x"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
    }))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("CHAOSLLM_LEDGER_NAMESPACE", NAMESPACE)
    with pytest.raises(ChaosLLMError, match="fault ledger's copy in namespace chaosllm.*unreachable"):
        redis_actions.limit_memory("7mb", duration="5m",
                                   configuration={"redis_url": redis_url, "blast_radius": POLICY})
    assert redislib.Redis.from_url(redis_url).config_get("maxmemory") == {"maxmemory": "0"}
    assert Ledger().entries() == {}


def test_in_a_pod_the_copy_goes_to_the_pod_s_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSLLM_LEDGER_NAMESPACE", raising=False)
    mounted = tmp_path / "namespace"
    mounted.write_text("chaos-runner\n")
    monkeypatch.setattr(cluster_module, "POD_NAMESPACE_FILE", mounted)
    assert ledger_namespace() is None
    monkeypatch.setenv("CHAOSTOOLKIT_IN_POD", "true")
    assert ledger_namespace() == "chaos-runner"
    monkeypatch.setenv("CHAOSLLM_LEDGER_NAMESPACE", "elsewhere")
    assert ledger_namespace() == "elsewhere"


def test_a_killed_runner_s_fault_is_restored_by_cleanup_from_another_machine(
    cluster: FakeCluster, redis_url: str, tmp_path: Path
) -> None:
    client = redislib.Redis.from_url(redis_url)
    runner_env = chaos_env({"CHAOSLLM_LEDGER_NAMESPACE": NAMESPACE,
                            "CHAOSLLM_STATE_DIR": str(tmp_path / "pod-state")})
    script = ("import json, sys, time; from chaosllm.redis.actions import limit_memory; "
              "limit_memory('7mb', duration='3s', configuration=json.loads(sys.argv[1])); "
              "time.sleep(600)")
    runner = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps({"redis_url": redis_url, "blast_radius": POLICY})],
        env=runner_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    healer = 0
    try:
        wait_until(lambda: client.config_get("maxmemory")["maxmemory"] == SEVEN_MB and _entries(cluster),
                   60, "limit_memory in the runner", runner)  # fmt: skip
        [entry] = _entries(cluster).values()
        healer = entry["healer_pid"]
        # The pod dies: the runner and its healer with it.
        for pid in (healer, runner.pid):
            os.kill(pid, signal.SIGKILL)
        runner.wait(10)
    finally:
        if runner.poll() is None:
            stop_pid(runner.pid, 1, runner)
        if healer:
            stop_pid(healer, 1)
    assert client.config_get("maxmemory")["maxmemory"] == SEVEN_MB

    elsewhere = tmp_path / "laptop-state"
    early = _cleanup("--namespace", NAMESPACE, "--grace", "600", state=elsewhere)
    assert early.returncode == 0, early.stderr
    assert "restoring 0 fault(s)" in early.stdout and "1 not past their deadline" in early.stdout
    assert client.config_get("maxmemory")["maxmemory"] == SEVEN_MB and len(cluster.secrets) == 1

    wait_until(lambda: time.time() > entry["deadline"], 30, "the fault's deadline")
    done = _cleanup("--namespace", NAMESPACE, "--grace", "0", "--json", state=elsewhere)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"restored": 1, "failed": 0}
    assert client.config_get("maxmemory") == {"maxmemory": "0"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert cluster.secrets == {}
    again = _cleanup("--namespace", NAMESPACE, "--all", state=elsewhere)
    assert again.returncode == 0 and "restoring 0 fault(s)" in again.stdout


def test_cleanup_cluster_needs_a_namespace(tmp_path: Path) -> None:
    done = _cleanup(state=tmp_path / "state")
    assert done.returncode == 2
    assert done.stdout.strip() == ("error: name the namespace of the fault ledger's Secrets with "
                                   "--namespace or $CHAOSLLM_LEDGER_NAMESPACE")
