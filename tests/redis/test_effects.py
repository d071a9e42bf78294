"""Each Redis fault reports its effect, read from the server."""

from __future__ import annotations

import threading
import time

import redis as redislib

from chaosllm.redis import actions


def test_flush_and_expire_count_the_keys_they_touched(redis_url: str) -> None:
    client = redislib.Redis.from_url(redis_url)
    for i in range(3):
        client.set(f"catalog:{i}", "x")
    expired = actions.expire_keys("catalog:*", "30s", redis_url=redis_url)
    assert expired["effect"] == "observed" and expired["evidence"] == {"keys_given_ttl": 3}
    assert expired["kind"] == "redis-expire" and expired["expires_at"] > expired["started_at"]
    flushed = actions.flush_keys("catalog:*", redis_url=redis_url)
    assert flushed["effect"] == "observed" and flushed["evidence"] == {"keys_deleted": 3}
    assert client.dbsize() == 0
    # A pattern that matches no key cannot bite.
    for result in (actions.flush_keys("nothing:*", redis_url=redis_url),
                   actions.expire_keys("nothing:*", "1s", redis_url=redis_url)):
        assert result["effect"] == "none"


def test_kill_clients_counts_the_clients_it_dropped(redis_url: str) -> None:
    victim = redislib.Redis.from_url(redis_url, client_name="victim")
    victim.ping()
    none = actions.kill_clients(client_name="nobody", redis_url=redis_url)
    assert none["effect"] == "none" and none["evidence"] == {"clients_killed": 0}
    killed = actions.kill_clients(client_name="victim", redis_url=redis_url)
    assert killed["effect"] == "observed" and killed["evidence"] == {"clients_killed": 1}


def test_limit_memory_reports_the_keys_evicted_in_its_window(redis_url: str, allow_maxmemory: None) -> None:
    client = redislib.Redis.from_url(redis_url)
    handle = actions.limit_memory("2mb", "allkeys-lru", "60s", redis_url=redis_url)
    assert handle["effect"] == "unknown" and handle["evidence"]["reason"] == "measured when removed"
    value = b"v" * 10_000
    for i in range(500):  # 5 MB into 2 MB: the server must evict
        client.set(f"k:{i}", value)
    restored = actions.restore_memory(redis_url=redis_url)
    assert restored["effect"] == "observed" and restored["evidence"]["keys_evicted"] > 100
    assert restored["evidence"]["keys_evicted"] == 500 - client.dbsize()
    assert (restored["kind"], restored["name"], restored["removed"]) == (
        "redis-maxmemory", handle["name"], True)


def test_a_pause_counts_the_commands_that_waited(redis_url: str) -> None:
    redislib.Redis.from_url(redis_url).set("k", "v")
    # Three application clients, connected before the pause as a pool's would be.
    clients = [redislib.Redis.from_url(redis_url) for _ in range(3)]
    for client in clients:
        client.ping()
    handle = actions.pause_clients("10s", redis_url=redis_url)
    assert handle["effect"] == "unknown" and handle["evidence"]["clients_connected"] >= 3
    got: list[bytes | None] = []
    readers = [threading.Thread(target=lambda c=c: got.append(c.get("k"))) for c in clients]
    for reader in readers:
        reader.start()
    time.sleep(0.5)
    assert got == []
    result = actions.unpause_clients(redis_url=redis_url)
    for reader in readers:
        reader.join(5)
    assert got == [b"v"] * 3
    assert result["effect"] == "observed" and result["removed"] is True
    assert result["evidence"]["commands_in_window"] >= 3
    assert (result["kind"], result["name"]) == ("redis-pause", handle["name"])


def test_a_pause_with_no_traffic_has_no_effect_even_when_it_ran_out(redis_url: str) -> None:
    actions.pause_clients("300ms", redis_url=redis_url)
    time.sleep(0.8)
    result = actions.unpause_clients(redis_url=redis_url)
    assert result["removed"] is False and result["effect"] == "none"
    assert result["evidence"]["commands_in_window"] == 0
    assert "no client sent a command" in result["evidence"]["reason"]
