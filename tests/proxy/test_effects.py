"""Each proxy fault reports its effect, counted by the proxy itself."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chaosllm.proxy import actions
from chaosllm.sandbox.app.launcher import wait_until
from tests.proxy.conftest import Api, connect, recv_exactly


def test_latency_reports_the_delay_it_added_when_removed(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    _, port = make_proxy("pg")
    handle = actions.inject_latency("pg", "150ms", duration="30s", proxy_api_url=api.url)
    assert handle["effect"] == "unknown"
    assert handle["evidence"]["reason"] == "measured when removed"
    with connect(port) as sock:
        for _ in range(3):
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"
        # The toxic's counters are a field beside it in the API.
        _, toxic = api.call("GET", "/proxies/pg/toxics/latency-pg")
        assert toxic["stats"]["connections"] == 1 and toxic["stats"]["chunks"] == 3
        result = actions.remove_toxic("pg", "latency-pg", proxy_api_url=api.url)
    assert result["effect"] == "observed" and result["removed"] is True
    assert (result["kind"], result["name"]) == ("proxy-latency", "latency-pg")
    evidence = result["evidence"]
    assert evidence["connections"] == 1 and evidence["chunks"] == 3 and evidence["bytes"] == 12
    assert 140 <= evidence["held_mean_ms"] <= evidence["held_max_ms"] < 1000
    assert evidence["expired"] is False and result["ended_at"] == evidence["removed_at"]


def test_a_toxic_with_no_traffic_reports_none_even_after_it_expired(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    make_proxy("idle")
    actions.inject_latency("idle", "100ms", duration="300ms", proxy_api_url=api.url)
    wait_until(lambda: not api.call("GET", "/proxies/idle/toxics")[1], 5, "toxic expiry")
    result = actions.remove_toxic("idle", "latency-idle", proxy_api_url=api.url)
    assert result["removed"] is False and result["effect"] == "none"
    assert result["evidence"]["connections"] == 0 and result["evidence"]["expired"] is True
    assert "no connection" in result["evidence"]["reason"]
    assert result["ended_at"] == result["evidence"]["removed_at"]


def test_reset_peer_counts_the_connections_it_cut(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    _, port = make_proxy("redis")
    with connect(port) as first, connect(port) as second:
        for sock in (first, second):
            sock.sendall(b"hi")
            assert recv_exactly(sock, 2) == b"hi"
        actions.inject_reset_peer("redis", duration="30s", proxy_api_url=api.url)
        # Both open connections are reset as soon as the toxic is added.
        for sock in (first, second):
            with pytest.raises(ConnectionResetError):
                sock.recv(10)
    result = actions.remove_toxic("redis", "reset_peer-redis", proxy_api_url=api.url)
    assert result["effect"] == "observed" and result["evidence"]["connections_cut"] == 2


def test_timeout_counts_the_bytes_it_swallowed_and_the_connection_it_closed(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    _, port = make_proxy("mq")
    handle = actions.inject_timeout("mq", timeout="200ms", duration="30s", proxy_api_url=api.url)
    assert handle["effect"] == "unknown"  # nothing went through it yet
    with connect(port) as sock:
        sock.sendall(b"x" * 500)
        assert sock.recv(10) == b""  # nothing came back; the toxic's timer closed it
    result = actions.remove_toxic("mq", "timeout-mq", proxy_api_url=api.url)
    assert result["effect"] == "observed" and result["removed"] is True
    assert result["evidence"]["bytes"] == 500 and result["evidence"]["connections_cut"] == 1


@pytest.mark.parametrize(("kind", "attributes", "bit"), [
    ("slicer", {"average_size": 10, "size_variation": 5, "delay": 1000}, "bytes"),
    ("limit_data", {"bytes": 100}, "bytes"),
    ("slow_close", {"delay": 100}, "connections"),
])  # fmt: skip
def test_inject_toxic_reports_what_went_through_it(
    api: Api, make_proxy: Callable[..., tuple[str, int]], kind: str, attributes: dict[str, int], bit: str
) -> None:
    _, port = make_proxy("any")
    actions.inject_toxic("any", kind, attributes, duration="30s", proxy_api_url=api.url)
    with connect(port) as sock:
        sock.sendall(b"x" * 60)
        assert recv_exactly(sock, 60) == b"x" * 60
    result = actions.remove_toxic("any", f"{kind}-any", proxy_api_url=api.url)
    assert result["effect"] == "observed" and result["kind"] == f"proxy-{kind}", result
    assert result["evidence"][bit] > 0 and result["evidence"]["connections"] == 1
    quiet = actions.inject_toxic("any", kind, attributes, duration="30s", proxy_api_url=api.url)
    assert quiet["effect"] == "unknown"
    untouched = actions.remove_toxic("any", f"{kind}-any", proxy_api_url=api.url)
    assert untouched["effect"] == "none" and "no connection" in untouched["evidence"]["reason"]


def test_bandwidth_counts_the_bytes_it_throttled(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    _, port = make_proxy("mq")
    actions.inject_bandwidth_limit("mq", 100, duration="30s", proxy_api_url=api.url)
    with connect(port) as sock:
        sock.sendall(b"x" * 20_000)
        assert len(recv_exactly(sock, 20_000)) == 20_000
    result = actions.remove_toxic("mq", "bandwidth-mq", proxy_api_url=api.url)
    assert result["effect"] == "observed" and result["evidence"]["bytes"] == 20_000
    # 100 KB/s sends 10 kB at once and the next 10 kB 100 ms later.
    assert result["evidence"]["held_max_ms"] >= 90


def test_a_partition_counts_the_connections_it_dropped(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    _, port = make_proxy("db")
    with connect(port) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        handle = actions.disable_proxy("db", duration="30s", proxy_api_url=api.url)
    assert handle["effect"] == "observed" and handle["evidence"]["connections_closed"] == 1
    result = actions.enable_proxy("db", proxy_api_url=api.url)
    assert (result["kind"], result["name"], result["removed"]) == ("proxy-partition", "partition-db", True)
    assert result["effect"] == "observed" and result["evidence"]["expired"] is False
    # With nothing open, refused attempts cannot be counted: unknown, with the reason.
    make_proxy("quiet")
    quiet = actions.disable_proxy("quiet", duration="30s", proxy_api_url=api.url)
    assert quiet["effect"] == "unknown" and "not counted" in quiet["evidence"]["reason"]


def test_reset_reports_every_fault_it_ended(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    _, port = make_proxy("a")
    make_proxy("b")
    actions.inject_latency("a", "50ms", proxy_api_url=api.url)
    actions.disable_proxy("b", proxy_api_url=api.url)
    with connect(port) as sock:
        sock.sendall(b"z")
        assert recv_exactly(sock, 1) == b"z"
    result = actions.reset_proxies(proxy_api_url=api.url)
    by_name = {fault["name"]: fault for fault in result["faults"]}
    assert by_name["latency-a"]["effect"] == "observed" and by_name["latency-a"]["removed"] is True
    assert by_name["partition-b"]["kind"] == "proxy-partition"
    assert by_name["partition-b"]["effect"] == "unknown"
