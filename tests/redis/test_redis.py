"""Redis faults against a private redis-server."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis as redislib

from chaosllm.errors import ConfigurationError, InvalidArgument, TargetUnreachable
from chaosllm.faults import Ledger
from chaosllm.redis import actions, probes


def _reader(url: str, stop: threading.Event, done: list[float]) -> threading.Thread:
    """A client that GETs in a loop and records when each GET returned."""
    client = redislib.Redis.from_url(url)

    def loop() -> None:
        while not stop.is_set():
            client.get("k")
            done.append(time.monotonic())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_pause_blocks_every_get_until_duration_ends(redis_url: str) -> None:
    redislib.Redis.from_url(redis_url).set("k", "v")
    stop, done = threading.Event(), []
    handle = actions.pause_clients(duration="1500ms", redis_url=redis_url)
    paused_at = time.monotonic()
    assert handle["kind"] == "redis-pause" and handle["expires_at"]
    thread = _reader(redis_url, stop, done)
    time.sleep(2.5)
    stop.set()
    thread.join(5)
    assert done, "GET never returned after the pause"
    # Not one GET got through while the slices were renewed.
    assert done[0] - paused_at >= 1.4
    assert len(done) > 10


def test_pause_ends_close_to_its_duration(redis_url: str) -> None:
    client = redislib.Redis.from_url(redis_url)
    client.set("k", "v")
    actions.pause_clients(duration="3s", redis_url=redis_url)
    started = time.monotonic()
    client.get("k")
    assert 2.8 <= time.monotonic() - started < 3.6


def test_write_pause_blocks_writes_not_reads(redis_url: str) -> None:
    client = redislib.Redis.from_url(redis_url)
    client.set("k", "v")
    actions.pause_clients(duration="1s", mode="WRITE", redis_url=redis_url)
    started = time.monotonic()
    assert client.get("k") == b"v"
    read_took = time.monotonic() - started
    client.set("k", "w")
    write_took = time.monotonic() - started
    assert read_took < 0.5 <= write_took
    actions.pause_clients(duration="30s", mode="WRITE", redis_url=redis_url)
    assert actions.unpause_clients(redis_url=redis_url)["removed"] is True
    started = time.monotonic()
    client.set("k", "x")
    assert time.monotonic() - started < 0.5


def test_unpause_releases_a_blocked_get(redis_url: str) -> None:
    redislib.Redis.from_url(redis_url).set("k", "v")
    stop, done = threading.Event(), []
    actions.pause_clients(duration="30s", redis_url=redis_url)
    # Pausing again does not stack a second holder.
    actions.pause_clients(duration="30s", redis_url=redis_url)
    thread = _reader(redis_url, stop, done)
    time.sleep(0.6)
    assert not done, "GET returned while clients were paused"
    unpaused_at = time.monotonic()
    assert actions.unpause_clients(redis_url=redis_url)["removed"] is True
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert done and done[0] - unpaused_at < 1.0
    assert actions.unpause_clients(redis_url=redis_url)["removed"] is False


def test_limit_memory_and_idempotent_restore(redis_url: str, allow_maxmemory: None) -> None:
    client = redislib.Redis.from_url(redis_url)
    client.config_set("maxmemory", "0")
    client.config_set("maxmemory-policy", "noeviction")
    actions.limit_memory(maxmemory="5mb", policy="allkeys-lru", duration="60s", redis_url=redis_url)
    # a second injection does not stack: the original values are kept
    actions.limit_memory(maxmemory="4mb", policy="allkeys-lfu", duration="60s", redis_url=redis_url)
    assert client.config_get("maxmemory")["maxmemory"] == str(4 * 1024 * 1024)
    restored = actions.restore_memory(redis_url=redis_url)
    assert restored["removed"] is True
    assert client.config_get("maxmemory") == {"maxmemory": "0"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert restored["effect"] == "none" and restored["evidence"] == {"keys_evicted": 0}
    again = actions.restore_memory(redis_url=redis_url)
    assert (again["removed"], again["target"], again["effect"]) == (False, restored["target"], "unknown")
    assert Ledger().entries() == {}


def test_limit_memory_heals_after_duration(redis_url: str, allow_maxmemory: None) -> None:
    client = redislib.Redis.from_url(redis_url)
    actions.limit_memory(maxmemory="6mb", duration="1s", redis_url=redis_url)
    assert client.config_get("maxmemory")["maxmemory"] == str(6 * 1024 * 1024)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client.config_get("maxmemory")["maxmemory"] != "0":
        time.sleep(0.1)
    assert client.config_get("maxmemory")["maxmemory"] == "0"
    assert Ledger().entries() == {}


def test_a_ledger_entry_written_before_restorer_ids_still_heals(
    redis_url: str, allow_maxmemory: None
) -> None:
    """An entry as an older version wrote it, naming its restorer by function."""
    from chaosllm.faults import cleanup, restore_fault

    client = redislib.Redis.from_url(redis_url)
    client.config_set("maxmemory", "7mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    old = {"id": "maxmemory@old", "token": "t0", "restorer": "chaosllm.redis.actions:_restore_memory_entry",
           "state": {"redis_url": redis_url, "maxmemory": "0", "policy": "noeviction"},
           "description": "maxmemory 7mb allkeys-lru", "created_at": "2026-01-01T00:00:00.000+00:00",
           "expires_at": None, "deadline": None, "healer_pid": None}  # fmt: skip
    Ledger().path.write_text(json.dumps({old["id"]: old}))
    assert [r["removed"] for r in cleanup()] == [True]
    assert client.config_get("maxmemory") == {"maxmemory": "0"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    # New entries name the restorer by its stable id.
    actions.limit_memory(maxmemory="5mb", duration="60s", redis_url=redis_url)
    (entry,) = Ledger().entries().values()
    assert entry["restorer"] == "redis.maxmemory"
    assert restore_fault(entry["id"])["removed"] is True


def test_flush_and_expire_change_what_the_server_reports(redis_url: str) -> None:
    client = redislib.Redis.from_url(redis_url)
    client.mset({f"catalog:{i}": i for i in range(2500)} | {"tenant:1": "a"})
    assert probes.key_count("catalog:*", redis_url=redis_url) == 2500
    expired = actions.expire_keys("catalog:1*", ttl="30s", redis_url=redis_url)
    assert expired["expired"] == 1111
    assert 0 < client.pttl("catalog:10") <= 30_000
    assert client.ttl("tenant:1") == -1
    assert actions.flush_keys("catalog:*", redis_url=redis_url)["deleted"] == 2500
    assert client.dbsize() == 1


def test_probes_report_hits_and_clients(redis_url: str) -> None:
    client = redislib.Redis.from_url(redis_url)
    client.config_resetstat()
    assert probes.cache_hit_ratio(redis_url=redis_url) is None
    client.set("a", 1)
    client.get("a"), client.get("a"), client.get("a"), client.get("missing")
    assert probes.cache_hit_ratio(redis_url=redis_url) == pytest.approx(0.75)
    assert probes.connected_clients(redis_url=redis_url) >= 2
    assert probes.used_memory(redis_url=redis_url) > 0
    assert probes.is_available(redis_url=redis_url) is True


def test_kill_clients_by_name(redis_url: str) -> None:
    victim = redislib.Redis.from_url(redis_url, client_name="victim")
    bystander = redislib.Redis.from_url(redis_url, client_name="bystander")
    victim.ping(), bystander.ping()
    assert actions.kill_clients(client_name="victim", redis_url=redis_url)["killed"] == 1
    names = [c["name"] for c in bystander.client_list()]
    assert "bystander" in names and "victim" not in names


@pytest.mark.parametrize(
    "call",
    [
        lambda url: actions.pause_clients(duration="-1s", redis_url=url),
        lambda url: actions.pause_clients(duration="ten seconds", redis_url=url),
        lambda url: actions.pause_clients(duration="0s", redis_url=url),
        lambda url: actions.limit_memory(maxmemory="1mb", duration="0s", redis_url=url),
        lambda url: actions.limit_memory(maxmemory="lots", redis_url=url),
        lambda url: actions.limit_memory(maxmemory="16 mb", redis_url=url),
        lambda url: actions.limit_memory(maxmemory="1mb", policy="lru", redis_url=url),
        lambda url: actions.expire_keys("*", ttl="0s", redis_url=url),
        lambda url: actions.expire_keys("*", ttl="1s", redis_url=url),
        lambda url: actions.flush_keys("*", redis_url=url),
        lambda url: actions.flush_keys("**", redis_url=url),
        lambda url: actions.flush_keys("x:*", allow_all_keys="yes", redis_url=url),
    ],
)
def test_bad_input_changes_nothing(redis_url: str, call: object) -> None:
    client = redislib.Redis.from_url(redis_url)
    with pytest.raises(InvalidArgument):
        call(redis_url)  # type: ignore[operator]
    assert client.config_get("maxmemory")["maxmemory"] == "0"
    assert Ledger().entries() == {}


def test_unreachable_server_fails_fast_and_names_target() -> None:
    from chaosllm.sandbox.app.launcher import free_port

    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    with pytest.raises(TargetUnreachable) as info:
        actions.flush_keys("x:*", redis_url=url)
    assert time.monotonic() - started < 2.5
    assert "127.0.0.1" in str(info.value) and "s3cret" not in str(info.value)
    assert probes.is_available(redis_url=url) is False


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "http://127.0.0.1:6379", "redis://:s3cret@host:port/0"])
def test_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="redis_url") as info:
        actions.flush_keys("x:*", redis_url=url)
    assert "s3cret" not in str(info.value)
    with pytest.raises(ConfigurationError):
        probes.is_available(redis_url=url)
