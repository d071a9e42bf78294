"""No implicit target, the application blast-radius policy and the dry run, on a private redis-server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis as redislib

from chaosllm.errors import ConfigurationError, PolicyViolation
from chaosllm.faults import Ledger
from chaosllm.redis import actions, probes
from tests.chaos_run import run_experiment


@pytest.fixture
def filled(redis_url: str) -> redislib.Redis:
    client = redislib.Redis.from_url(redis_url)
    client.mset({f"sandbox:{i}": "x" for i in range(40)})
    client.mset({f"users:{i}": "y" for i in range(10)})
    return client


def _state(client: redislib.Redis) -> tuple[Any, ...]:
    return (client.dbsize(), sorted(client.keys("*")), client.config_get("maxmemory"),
            client.config_get("maxmemory-policy"), [client.ttl(k) for k in sorted(client.keys("*"))])


@pytest.mark.parametrize("call", [
    lambda: actions.flush_keys("sandbox:*"),
    lambda: actions.expire_keys("sandbox:*", ttl="1s"),
    lambda: actions.limit_memory("8mb"),
    lambda: actions.pause_clients("1s"),
    lambda: actions.kill_clients(),
    lambda: actions.restore_memory(),
    lambda: probes.is_available(),
    lambda: probes.key_count("sandbox:*"),
])  # fmt: skip
def test_no_target_configured_is_refused_and_changes_nothing(
    filled: redislib.Redis, monkeypatch: pytest.MonkeyPatch, call: Any
) -> None:
    monkeypatch.delenv("CHAOSLLM_REDIS_URL", raising=False)
    before = _state(filled)
    with pytest.raises(ConfigurationError) as info:
        call()
    message = str(info.value)
    assert "redis_url" in message and "CHAOSLLM_REDIS_URL" in message
    assert "argument" in message and "secrets" in message and "configuration" in message
    assert _state(filled) == before and Ledger().entries() == {}


def _policy(**redis: Any) -> dict[str, Any]:
    return {"blast_radius": {"redis": redis}}


@pytest.mark.parametrize(("call", "rule"), [
    (lambda url, cfg: actions.flush_keys("users:*", redis_url=url, configuration=cfg),
     "blast_radius.redis.key_patterns"),
    (lambda url, cfg: actions.flush_keys("*", allow_all_keys=True, redis_url=url, configuration=cfg),
     "blast_radius.redis.key_patterns"),
    (lambda url, cfg: actions.expire_keys("users:*", redis_url=url, configuration=cfg),
     "blast_radius.redis.key_patterns"),
    (lambda url, cfg: actions.limit_memory("8mb", redis_url=url, configuration=cfg),
     "blast_radius.redis.allow_maxmemory"),
])  # fmt: skip
def test_policy_refuses_a_key_pattern_or_maxmemory_before_any_change(
    filled: redislib.Redis, redis_url: str, call: Any, rule: str
) -> None:
    before = _state(filled)
    with pytest.raises(PolicyViolation, match=rule) as info:
        call(redis_url, _policy(key_patterns=["sandbox:*"]))
    assert "configuration key blast_radius" in str(info.value)
    assert _state(filled) == before and Ledger().entries() == {}


def test_policy_refuses_a_forbidden_server(filled: redislib.Redis, redis_url: str) -> None:
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    before = _state(filled)
    for cfg in (_policy(forbidden_targets=[f"127.0.0.1:{port}"]), _policy(allowed_targets=["10.0.0.*:6379"])):
        with pytest.raises(PolicyViolation, match=f"redis 127.0.0.1:{port}.*_targets"):
            actions.flush_keys("sandbox:*", redis_url=redis_url, configuration=cfg)
        with pytest.raises(PolicyViolation):
            actions.pause_clients("1s", redis_url=redis_url, configuration=cfg)
    assert _state(filled) == before


def test_key_limits_are_counted_before_acting(filled: redislib.Redis, redis_url: str) -> None:
    before = _state(filled)
    with pytest.raises(PolicyViolation, match="touch 40 keys, more than blast_radius.redis.max_keys 39"):
        actions.flush_keys("sandbox:*", redis_url=redis_url, configuration=_policy(max_keys=39))
    with pytest.raises(PolicyViolation, match=r"40 of 50 keys \(80.0%\).*max_keyspace_percent 50%"):
        actions.expire_keys("sandbox:*", redis_url=redis_url, configuration=_policy(max_keyspace_percent=50))
    assert _state(filled) == before
    done = actions.flush_keys("sandbox:*", redis_url=redis_url, configuration=_policy(max_keys=40))
    assert done["deleted"] == 40 and filled.dbsize() == 10


def test_dry_run_previews_and_changes_nothing(
    filled: redislib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "1")
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", json.dumps({"redis": {"allow_maxmemory": True}}))
    before = _state(filled)
    flush = actions.flush_keys("sandbox:*", redis_url=redis_url)
    assert flush["dry_run"] is True and flush["effect"] == "none"
    assert flush["evidence"] == {"reason": "dry run"}
    assert flush["would_touch"] == {"pattern": "sandbox:*", "keys": 40, "keyspace": 50}
    assert flush["kind"] == "redis-flush" and flush["target"].startswith("redis 127.0.0.1:")
    expire = actions.expire_keys("sandbox:1*", ttl="1s", redis_url=redis_url)
    assert expire["would_touch"]["keys"] == 11
    memory = actions.limit_memory("8mb", redis_url=redis_url)
    assert memory["would_touch"]["maxmemory"] == "0" and memory["would_touch"]["keys"] == 50
    pause = actions.pause_clients("5s", redis_url=redis_url)
    assert pause["dry_run"] is True and pause["expires_at"] is None
    assert actions.kill_clients(redis_url=redis_url)["would_touch"]["clients"] >= 1
    assert _state(filled) == before and Ledger().entries() == {}
    filled.set("probe", "1")  # not paused: a write goes through at once
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "maybe")
    with pytest.raises(ConfigurationError, match="dry_run from \\$CHAOSLLM_DRY_RUN"):
        actions.flush_keys("sandbox:*", redis_url=redis_url)
    assert filled.dbsize() == 51


def test_the_control_stops_the_run_before_the_first_activity(
    filled: redislib.Redis, redis_url: str, tmp_path: Path
) -> None:
    def flush(name: str, pattern: str) -> dict[str, Any]:
        return {"type": "action", "name": name,
                "provider": {"type": "python", "module": "chaosllm.redis.actions", "func": "flush_keys",
                             "arguments": {"pattern": pattern}}}

    experiment = {
        "title": "a forbidden key pattern", "description": "the second action breaks the policy",
        "configuration": {"redis_url": redis_url, **_policy(key_patterns=["sandbox:*"])},
        "controls": [{"name": "blast-radius",
                      "provider": {"type": "python", "module": "chaosllm.controls.blast_radius"}}],
        "method": [flush("allowed", "sandbox:*"), flush("forbidden", "users:*")],
    }  # fmt: skip
    before = _state(filled)
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal.get("status") in ("interrupted", "aborted"), proc.stdout + proc.stderr
    assert journal.get("run") == []
    assert "users:*" in (proc.stdout + proc.stderr) and "key_patterns" in (proc.stdout + proc.stderr)
    assert _state(filled) == before


def test_the_controls_policy_argument_reaches_the_actions(filled: redislib.Redis, redis_url: str) -> None:
    from chaosllm.controls.blast_radius import configure_control

    configuration: dict[str, Any] = {"redis_url": redis_url}
    configure_control(policy={"redis": {"key_patterns": ["sandbox:*"], "max_keys": 5}},
                      configuration=configuration)  # fmt: skip
    before = _state(filled)
    with pytest.raises(PolicyViolation, match="key_patterns.*the blast-radius control's policy argument"):
        actions.flush_keys("users:*", configuration=dict(configuration))
    with pytest.raises(PolicyViolation, match="touch 40 keys, more than blast_radius.redis.max_keys 5"):
        actions.expire_keys("sandbox:*", configuration=dict(configuration))
    with pytest.raises(PolicyViolation, match="allow_maxmemory"):
        actions.limit_memory("8mb", configuration=dict(configuration))
    assert _state(filled) == before and Ledger().entries() == {}


def test_a_chaos_run_keeps_the_control_arguments_key_limit(
    filled: redislib.Redis, redis_url: str, tmp_path: Path
) -> None:
    experiment = {
        "title": "a flush larger than the limit", "description": "only the action can count the keys",
        "configuration": {"redis_url": redis_url},
        "controls": [{"name": "blast-radius",
                      "provider": {"type": "python", "module": "chaosllm.controls.blast_radius",
                                   "arguments": {"policy": {"redis": {"max_keys": 5}}}}}],
        "method": [{"type": "action", "name": "flush",
                    "provider": {"type": "python", "module": "chaosllm.redis.actions", "func": "flush_keys",
                                 "arguments": {"pattern": "sandbox:*"}}}],
    }  # fmt: skip
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal["run"][0]["status"] == "failed", proc.stdout + proc.stderr
    assert "more than blast_radius.redis.max_keys 5" in journal["run"][0]["exception"][-1]
    assert filled.dbsize() == 50 and Ledger().entries() == {}
