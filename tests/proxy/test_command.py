"""``chaosllm proxy serve``: config file, clean shutdown, a busy port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from chaosllm.sandbox.app.launcher import free_port, wait_until
from tests.proxy.conftest import EchoServer, connect, recv_exactly


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "chaosllm.cli", "proxy", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_serve_populates_from_config_and_stops_on_sigterm(tmp_path: Path, echo: EchoServer) -> None:
    listen = free_port()
    config = tmp_path / "toxiproxy.json"
    config.write_text(json.dumps([{"name": "echo", "listen": f"127.0.0.1:{listen}",
                                   "upstream": echo.address}]))
    port = free_port()
    proc = _serve("--port", str(port), "--config", str(config))
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]  # the proxy created, then the API
        assert "proxy echo created" in lines[0]
        assert f"listening on http://127.0.0.1:{port}" in lines[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/proxies") as resp:
            assert json.load(resp)["echo"]["listen"] == f"127.0.0.1:{listen}"
        with connect(listen) as sock:
            sock.sendall(b"configured")
            assert recv_exactly(sock, 10) == b"configured"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    wait_until(lambda: _refused(listen), 2, "listener closed")


def _refused(port: int) -> bool:
    try:
        connect(port, timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_serve_reports_a_busy_port() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = _serve("--port", str(busy.getsockname()[1]))
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "could not serve on 127.0.0.1" in output


def test_serve_names_the_config_file_and_the_proxy_at_fault(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps({"name": "r"}))
    proc = _serve("--port", "0", "--config", str(config))
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1 and f"proxy config {config} must be a JSON list of proxies" in output
    config.write_text(json.dumps([{"name": "r", "listen": "127.0.0.1:0"}]))
    proc = _serve("--port", "0", "--config", str(config))
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert f"proxy config {config}, proxy r: missing required field: upstream" in output
    assert "created" not in output and "listening" not in output


def test_an_upstream_url_with_credentials_is_refused_without_quoting_them(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "r", "upstream": "redis://:hunter2@127.0.0.1:6379"}]))
    proc = _serve("--port", "0", "--config", str(config))
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1 and "upstream must be host:port" in output
    assert "redis://***@127.0.0.1:6379" in output and "hunter2" not in output


def test_an_empty_host_is_refused() -> None:
    proc = _serve("--host", "", "--port", "0")
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "an empty host is not allowed" in output
