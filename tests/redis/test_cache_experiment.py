"""The Redis experiment end to end with `chaos run`, and crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import redis as redislib

from chaosllm.sandbox.app.launcher import stop_pid, wait_until
from tests.chaos_run import CHAOSLLM, chaos_args, chaos_env, run_experiment, validate

# These tests run `chaos run` against a private Redis.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "application" / "cache-failure.json"


def test_cache_failure_experiment_validates(tmp_path: Path) -> None:
    proc = validate(EXPERIMENT, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cache_failure_experiment_runs_and_rolls_back(redis_url: str, tmp_path: Path) -> None:
    client = redislib.Redis.from_url(redis_url)
    client.mset({f"catalog:{i}": "x" * 100 for i in range(200)})
    client.set("session:keep", "not part of the cache")
    env = {"CHAOSLLM_REDIS_URL": redis_url, "CHAOSLLM_STATE_DIR": os.environ["CHAOSLLM_STATE_DIR"],
           "CHAOSLLM_CACHE_PATTERN": "catalog:*"}
    # On a Redis of one's own there is no sandbox to load: the test seeds the
    # keys itself and runs the experiment without its sandbox-load control.
    experiment = json.loads(EXPERIMENT.read_text())
    controls = experiment["controls"]
    assert [c["name"] for c in controls] == ["sandbox-load", "chaosllm-rollbacks", "chaosllm-redact"]
    experiment["controls"] = [c for c in controls if c["name"] != "sandbox-load"]
    proc, journal = run_experiment(experiment, tmp_path, env)
    assert journal.get("status") == "completed", proc.stdout + proc.stderr
    outputs = {run["activity"]["name"]: run for run in journal["run"]}
    assert outputs["thundering-herd"]["output"]["expired"] == 200
    assert outputs["thundering-herd"]["output"]["effect"] == "observed"
    assert 0 <= outputs["eviction-storm"]["output"]["deleted"] <= 200  # what the 1 s TTL left
    assert outputs["squeeze-memory"]["output"]["kind"] == "redis-maxmemory"
    rollbacks = {run["activity"]["name"]: run for run in journal["rollbacks"]}
    assert rollbacks["restore-redis-memory"]["output"]["removed"] is True
    assert client.config_get("maxmemory") == {"maxmemory": "0"}
    assert client.keys("catalog:*") == [] and client.get("session:keep") == b"not part of the cache"
    assert redis_url.split("@")[-1] not in json.dumps(journal) or "password" not in redis_url


def test_killed_run_leaves_fault_that_cleanup_restores(redis_url: str, tmp_path: Path) -> None:
    client = redislib.Redis.from_url(redis_url)
    experiment = {
        "title": "killed mid-method",
        "description": "limit_memory, then a long pause during which chaos is killed",
        "configuration": {"redis_url": redis_url, "blast_radius": {"redis": {"allow_maxmemory": True}}},
        "method": [
            {
                "type": "action", "name": "squeeze",
                "provider": {
                    "type": "python", "module": "chaosllm.redis.actions", "func": "limit_memory",
                    "arguments": {"maxmemory": "7mb", "duration": "10m"},
                },
                "pauses": {"after": 60},
            }
        ],
    }  # fmt: skip
    (tmp_path / "experiment.json").write_text(json.dumps(experiment))
    (tmp_path / "settings.yaml").touch()
    chaos = subprocess.Popen(
        chaos_args(tmp_path, "run", "--journal-path", str(tmp_path / "journal.json"),
                   str(tmp_path / "experiment.json")),
        env=chaos_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_until(lambda: client.config_get("maxmemory")["maxmemory"] == str(7 * 1024 * 1024), 60,
                   "limit_memory", chaos)  # fmt: skip
        os.kill(chaos.pid, signal.SIGKILL)
        chaos.wait(10)
    finally:
        if chaos.poll() is None:
            stop_pid(chaos.pid, 1, chaos)
    # The process is gone; the fault is not.
    assert client.config_get("maxmemory")["maxmemory"] == str(7 * 1024 * 1024)
    ledger = json.loads((Path(os.environ["CHAOSLLM_STATE_DIR"]) / "ledger.json").read_text())
    (entry,) = ledger.values()
    healer = entry["healer_pid"]
    assert healer and Path(f"/proc/{healer}").exists()

    first = subprocess.run([*CHAOSLLM, "cleanup"], capture_output=True, text=True, env=chaos_env(),
                           timeout=60)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "restored" in first.stdout and "maxmemory" in first.stdout
    assert client.config_get("maxmemory") == {"maxmemory": "0"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    # cleanup also stops the healer, by its PID.
    wait_until(lambda: not _running(healer), 10, "healer exit")

    second = subprocess.run([*CHAOSLLM, "cleanup"], capture_output=True, text=True, env=chaos_env(),
                            timeout=60)  # fmt: skip
    assert second.returncode == 0
    assert "nothing to restore" in second.stdout


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
