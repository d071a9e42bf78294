"""chaosllm.proxy actions and probes against a running ``chaosllm proxy serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from chaosllm.errors import FaultFailed, InvalidArgument, TargetNotFound, TargetUnreachable
from chaosllm.faults import Ledger, cleanup, record_fault
from chaosllm.faults.healer import is_healer, stop_healer
from chaosllm.proxy import actions, probes
from chaosllm.sandbox.app.launcher import free_port, wait_until
from tests.http_server import ThreadedHTTPServer
from tests.proxy.conftest import Api, EchoServer, connect, recv_exactly


def test_create_and_delete_proxy(api: Api, echo: EchoServer) -> None:
    created = actions.create_proxy("db", "127.0.0.1:0", echo.address, proxy_api_url=api.url)
    assert created["name"] == "db" and created["enabled"] is True
    again = actions.create_proxy("db", "127.0.0.1:0", echo.address, proxy_api_url=api.url)
    assert again["listen"] == created["listen"]
    assert set(probes.list_proxies(proxy_api_url=api.url)) == {"db"}
    assert actions.delete_proxy("db", proxy_api_url=api.url) == {"removed": True, "name": "db"}
    assert actions.delete_proxy("db", proxy_api_url=api.url) == {"removed": False, "name": "db"}
    with pytest.raises(InvalidArgument):
        actions.create_proxy("db", "nowhere", echo.address, proxy_api_url=api.url)
    with pytest.raises(InvalidArgument, match=r"not a URL, got 'redis://\*\*\*@127") as info:
        actions.create_proxy("r", "127.0.0.1:0", "redis://:hunter2@127.0.0.1:6379", proxy_api_url=api.url)
    assert "hunter2" not in str(info.value)
    for bad in ("127.0.0.1: 80", "127.0.0.1:+80", "[nothing]:80", "host name:80"):
        with pytest.raises(InvalidArgument):
            actions.create_proxy("db", "127.0.0.1:0", bad, proxy_api_url=api.url)
    assert set(probes.list_proxies(proxy_api_url=api.url)) == set()


def test_inject_latency_does_not_stack_and_rolls_back(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    name, port = make_proxy("pg")
    config = {"proxy_api_url": api.url}
    handle = actions.inject_latency("pg", "200ms", duration="30s", configuration=config)
    assert handle["name"] == "latency-pg" and handle["kind"] == "proxy-latency"
    assert handle["expires_at"] is not None
    again = actions.inject_latency("pg", "200ms", duration="30s", configuration=config)
    assert again["spec"]["already_present"] is True
    toxics = probes.list_toxics("pg", configuration=config)
    assert [(t["name"], t["attributes"]["latency"]) for t in toxics] == [("latency-pg", 200)]
    entry = Ledger().get(f"proxy-toxic:{api.url}/pg/latency-pg")
    # Recorded for `chaosllm cleanup`; the server ends it by itself, so no healer process.
    assert entry is not None and entry["restorer"] == "proxy.toxic" and entry["healer_pid"] is None
    with connect(port) as sock:
        start = time.monotonic()
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        assert time.monotonic() - start >= 0.19
    assert actions.remove_toxic("pg", "latency-pg", configuration=config)["removed"] is True
    assert actions.remove_toxic("pg", "latency-pg", configuration=config)["removed"] is False
    assert probes.list_toxics("pg", configuration=config) == []
    assert Ledger().entries() == {}


def test_bad_arguments_change_nothing(api: Api, make_proxy: Callable[..., tuple[str, int]]) -> None:
    make_proxy("pg")
    url = api.url
    with pytest.raises(InvalidArgument):
        actions.inject_latency("pg", "soon", proxy_api_url=url)
    with pytest.raises(InvalidArgument):
        actions.inject_latency("pg", "1s", stream="sideways", proxy_api_url=url)
    with pytest.raises(InvalidArgument):
        actions.inject_bandwidth_limit("pg", 0, proxy_api_url=url)
    with pytest.raises(InvalidArgument, match="allow_unbounded"):
        actions.inject_timeout("pg", duration=None, proxy_api_url=url)
    with pytest.raises(TargetNotFound, match="proxy not found: ghost"):
        actions.inject_reset_peer("ghost", proxy_api_url=url)
    assert probes.list_toxics("pg", proxy_api_url=url) == []
    assert Ledger().entries() == {}


def test_unreachable_api_fails_fast() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(TargetUnreachable, match="could not add latency toxic to proxy pg"):
        actions.inject_latency("pg", proxy_api_url=url)
    assert time.monotonic() - start < 3
    assert probes.is_available(proxy_api_url=url) is False
    assert Ledger().entries() == {}


def test_partition_heals_by_itself(api: Api, make_proxy: Callable[..., tuple[str, int]]) -> None:
    _, port = make_proxy("mq")
    handle = actions.disable_proxy("mq", duration="600ms", proxy_api_url=api.url)
    assert handle["kind"] == "proxy-partition" and handle["spec"]["already_present"] is False
    again = actions.disable_proxy("mq", duration="600ms", proxy_api_url=api.url)
    assert again["spec"]["already_present"] is True
    assert probes.proxy_enabled("mq", proxy_api_url=api.url) is False
    with pytest.raises(ConnectionRefusedError):
        connect(port, timeout=1).close()
    wait_until(lambda: probes.proxy_enabled("mq", proxy_api_url=api.url), 5, "re-enable")
    with connect(port) as sock:
        sock.sendall(b"back")
        assert recv_exactly(sock, 4) == b"back"
    assert actions.enable_proxy("mq", proxy_api_url=api.url)["removed"] is False


def test_enable_proxy_ends_a_partition_early(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    make_proxy("mq")
    actions.disable_proxy("mq", duration="60s", proxy_api_url=api.url)
    assert actions.enable_proxy("mq", proxy_api_url=api.url)["removed"] is True
    assert probes.proxy_enabled("mq", proxy_api_url=api.url) is True
    assert "disabled_until" not in api.call("GET", "/proxies/mq")[1]


def test_reset_proxies_clears_toxics_and_ledger(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    make_proxy("a")
    make_proxy("b")
    actions.inject_latency("a", proxy_api_url=api.url)
    actions.inject_toxic("b", "slicer", {"average_size": 4, "delay": 10}, proxy_api_url=api.url)
    actions.disable_proxy("b", proxy_api_url=api.url)
    result = actions.reset_proxies(proxy_api_url=api.url)
    assert result["faults_cleared"] == 3
    proxies = probes.list_proxies(proxy_api_url=api.url)
    assert all(p["enabled"] and not p["toxics"] for p in proxies.values())
    assert Ledger().entries() == {}


def test_fault_expires_after_the_caller_is_killed(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    make_proxy("pg")
    code = (
        "import json, sys, time\n"
        "from chaosllm.proxy import actions\n"
        f"h = actions.inject_latency('pg', '1s', duration='1s', proxy_api_url={api.url!r})\n"
        "print(json.dumps(h), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    assert proc.stdout is not None
    handle = json.loads(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert handle["name"] == "latency-pg"
    assert [t["name"] for t in probes.list_toxics("pg", proxy_api_url=api.url)] == ["latency-pg"]
    wait_until(lambda: probes.list_toxics("pg", proxy_api_url=api.url) == [], 10, "expiry")
    # The server ended it, not a healer: the entry stays for `chaosllm cleanup`, which
    # clears it without asking the server (it said it would end the toxic itself).
    (entry,) = Ledger().entries().values()
    assert entry["healer_pid"] is None and entry["ended_by_backend"] is True
    assert [(r["removed"], r["result"]) for r in cleanup()] == [(True, None)]
    assert Ledger().entries() == {}


class _Toxiproxy:
    """Toxiproxy's API as far as these actions use it, and like Toxiproxy it ignores
    ``ttl_ms``: its replies carry no ``expires_at`` or ``disabled_until``. With
    ``refuse``, it refuses every change (HTTP 500)."""

    def __init__(self, refuse: bool = False) -> None:
        import http.server

        self.proxy: dict[str, object] = {"name": "pg", "listen": "127.0.0.1:1",
                                          "upstream": "127.0.0.1:2", "enabled": True}
        self.toxics: dict[str, dict[str, object]] = {}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, object]:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def do_GET(self) -> None:  # noqa: N802
                if self.path.endswith("/stats"):  # chaosllm's route only; Toxiproxy has none
                    self._reply(404, {"error": "404 page not found"})
                    return
                self._reply(200, {**fake.proxy, "toxics": list(fake.toxics.values())})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                if refuse:
                    self._reply(500, {"error": "refused"})
                elif self.path.endswith("/toxics"):
                    toxic = {k: v for k, v in body.items() if k != "ttl_ms"}
                    fake.toxics[str(body["name"])] = toxic
                    self._reply(200, toxic)
                else:
                    fake.proxy["enabled"] = body["enabled"]
                    self._reply(200, fake.proxy)

            def do_DELETE(self) -> None:  # noqa: N802
                name = self.path.rsplit("/", 1)[1]
                self._reply(204 if fake.toxics.pop(name, None) else 404, {})

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadedHTTPServer(Handler)
        self.url = self.http.url

    def close(self) -> None:
        self.http.close()


def test_a_refused_reinjection_keeps_the_first_fault_in_the_ledger() -> None:
    """A Toxiproxy-like API that refuses every new toxic (HTTP 500)."""
    fake = _Toxiproxy(refuse=True)
    url = fake.url
    entry_id = f"proxy-toxic:{url}/pg/latency-pg"
    try:
        # As if a first injection had succeeded: its ledger entry is in force.
        record_fault(entry_id, "proxy.toxic",
                     {"proxy_api_url": url, "proxy": "pg", "name": "latency-pg"}, 30.0, "first",
                     healer=False)
        token = Ledger().get(entry_id)["token"]  # type: ignore[index]
        with pytest.raises(FaultFailed, match="refused"):
            actions.inject_latency("pg", "200ms", duration="30s", proxy_api_url=url)
        assert Ledger().get(entry_id)["token"] == token  # type: ignore[index]
        with pytest.raises(FaultFailed):  # a fresh injection leaves no entry behind
            actions.inject_latency("pg", "200ms", duration="30s", name="other", proxy_api_url=url)
        assert list(Ledger().entries()) == [entry_id]
    finally:
        left = Ledger().pop(entry_id)
        if left is not None:
            stop_healer(entry_id, left)
        fake.close()


def test_a_server_that_ignores_ttl_gets_a_healer_for_each_fault() -> None:
    fake = _Toxiproxy()
    try:
        latency = actions.inject_latency("pg", "200ms", duration="1s", proxy_api_url=fake.url)
        partition = actions.disable_proxy("pg", duration="1s", proxy_api_url=fake.url)
        # Toxiproxy counts nothing: the effect is unknown, and says why.
        for handle in (latency, partition):
            assert handle["effect"] == "unknown"
            assert "no toxic statistics" in handle["evidence"]["reason"]
        entries = Ledger().entries()
        assert len(entries) == 2
        for entry_id, entry in entries.items():
            assert entry["healer_pid"] and is_healer(entry["healer_pid"], entry_id)
        # The healers, not the server, end both faults.
        wait_until(lambda: Ledger().entries() == {}, 15, "healers restoring")
        assert fake.toxics == {} and fake.proxy["enabled"] is True
    finally:
        for entry_id, entry in Ledger().entries().items():
            stop_healer(entry_id, entry)
        fake.close()
