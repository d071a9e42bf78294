"""Fixtures: a ``chaosllm proxy serve`` process and a loopback echo server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosllm.sandbox.app.launcher import free_port, stop_pid, wait_until


class EchoServer:
    """Echoes every byte back; closes its side when the client half-closes."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            try:
                while data := conn.recv(262144):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


class Api:
    """Plain JSON calls to the proxy API, for tests that check raw responses."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, route: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + route, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="session")
def proxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("proxy") / "proxy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosllm.cli", "proxy", "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(url + "/version", timeout=1) as resp:
            return resp.status == 200

    try:
        wait_until(ready, 20, "chaosllm proxy serve", proc)
        yield url
    finally:
        stop_pid(proc.pid, 5, proc)
        Path(log).unlink(missing_ok=True)


@pytest.fixture
def api(proxy_server: str) -> Iterator[Api]:
    client = Api(proxy_server)
    yield client
    _, proxies = client.call("GET", "/proxies")
    for name in proxies:
        client.call("DELETE", f"/proxies/{name}")


@pytest.fixture(scope="session")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def make_proxy(api: Api, echo: EchoServer) -> Callable[..., tuple[str, int]]:
    """Create a proxy to the echo server; returns (name, listen port)."""
    counter = iter(range(1000))

    def make(name: str | None = None, upstream: str | None = None) -> tuple[str, int]:
        name = name or f"echo{next(counter)}"
        status, body = api.call("POST", "/proxies", {
            "name": name, "listen": "127.0.0.1:0", "upstream": upstream or echo.address})
        assert status == 201, body
        return name, int(body["listen"].rsplit(":", 1)[1])

    return make


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(262144, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
