"""``chaosllm proxy list|inspect|create|delete|toggle|toxic add|toxic remove`` against a
running ``chaosllm proxy serve``, with bytes through the proxies they create."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from chaosllm.cli import main as chaosllm_main
from tests.proxy.conftest import Api, EchoServer, connect, recv_exactly


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = chaosllm_main(["proxy", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _round_trip(port: int) -> float:
    started = time.monotonic()
    with connect(port) as sock:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
    return time.monotonic() - started


def test_create_list_inspect_toxic_toggle_delete(
    api: Api, echo: EchoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    host = ["--host", api.url]
    code, out, _ = _cli(capsys, "list", *host)
    assert (code, out) == (0, "no proxies\n")
    code, out, err = _cli(capsys, "create", "echo", "-l", "127.0.0.1:0", "-u", echo.address, *host)
    assert code == 0, err
    assert out.startswith("created proxy echo: 127.0.0.1:") and out.rstrip().endswith(echo.address)
    port = int(api.call("GET", "/proxies/echo")[1]["listen"].rsplit(":", 1)[1])
    assert _round_trip(port) < 0.8

    code, out, err = _cli(capsys, "toxic", "add", "echo", "-t", "latency", "-a", "latency=1000",
                          "-a", "jitter=0", *host)  # fmt: skip
    assert code == 0, err
    assert "latency_downstream: latency on downstream, toxicity 1, jitter=0 latency=1000" in out
    assert _round_trip(port) >= 1.0  # the toxic bites on real traffic

    code, out, _ = _cli(capsys, "list", *host)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "LISTEN", "UPSTREAM", "STATE", "TOXICS"]
    assert lines[1].split() == ["echo", f"127.0.0.1:{port}", echo.address, "enabled", "1"]
    code, out, _ = _cli(capsys, "inspect", "echo", "--json", *host)
    inspected = json.loads(out)
    assert [t["name"] for t in inspected["toxics"]] == ["latency_downstream"]
    assert inspected["toxics"][0]["attributes"]["latency"] == 1000

    code, out, err = _cli(capsys, "toxic", "remove", "echo", "-n", "latency_downstream", *host)
    assert (code, out) == (0, "removed toxic latency_downstream from proxy echo\n"), err
    assert _round_trip(port) < 0.8

    code, out, _ = _cli(capsys, "toggle", "echo", *host)
    assert (code, out) == (0, "proxy echo is now disabled\n")
    with pytest.raises(OSError):
        _round_trip(port)
    code, out, _ = _cli(capsys, "toggle", "echo", *host)
    assert (code, out) == (0, "proxy echo is now enabled\n")
    assert _round_trip(port) < 0.8

    code, out, _ = _cli(capsys, "delete", "echo", *host)
    assert (code, out) == (0, "deleted proxy echo\n")
    assert api.call("GET", "/proxies")[1] == {}


def test_toxic_options_mirror_toxiproxy_cli(
    api: Api, echo: EchoServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLLM_PROXY_API_URL", api.url)  # instead of --host
    assert _cli(capsys, "create", "db", "-l", "127.0.0.1:0", "-u", echo.address)[0] == 0
    code, out, err = _cli(capsys, "toxic", "add", "db", "-t", "bandwidth", "-n", "slow", "-u",
                          "--tox", "0.5", "-a", "rate=64", "--json")  # fmt: skip
    assert code == 0, err
    toxic = json.loads(out)
    assert (toxic["name"], toxic["type"], toxic["stream"], toxic["toxicity"]) == (
        "slow", "bandwidth", "upstream", 0.5)
    assert toxic["attributes"]["rate"] == 64
    assert api.call("GET", "/proxies/db/toxics")[1] == [toxic]


def test_errors_are_one_line_and_change_nothing(
    api: Api, echo: EchoServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSLLM_PROXY_API_URL", raising=False)
    code, _, err = _cli(capsys, "list")
    assert code == 1
    assert err == ("chaosllm proxy: error: no proxy API given: pass --host http://HOST:PORT "
                   "or set CHAOSLLM_PROXY_API_URL\n")  # fmt: skip
    host = ["--host", api.url]
    for args, expected in (
        (["inspect", "nope"], f"could not inspect proxy 'nope' through the proxy API {api.url}: "),
        (["toggle", "nope"], "could not read proxy 'nope'"),
        (["toxic", "remove", "nope", "-n", "x"], "could not remove toxic 'x' from proxy 'nope'"),
        (["toxic", "add", "nope", "-t", "latency", "-a", "latency"],
         "attribute 'latency' must be KEY=VALUE, such as latency=500"),
        (["create", "bad", "-l", "nowhere", "-u", echo.address], "could not create proxy 'bad'"),
        (["list", "--host", "127.0.0.1:1"], "needs its scheme, such as --host http://127.0.0.1:1"),
    ):
        code, out, err = _cli(capsys, *args, *host) if "--host" not in args else _cli(capsys, *args)
        assert (code, out) == (1, ""), args
        assert err.startswith("chaosllm proxy: error: ") and expected in err, (args, err)
        assert len(err.splitlines()) == 1
    assert api.call("GET", "/proxies")[1] == {}


def test_an_unreachable_api_is_one_error_line() -> None:
    from chaosllm.sandbox.app.launcher import free_port

    proc = subprocess.run([sys.executable, "-m", "chaosllm.cli", "proxy", "list", "--host",
                           f"http://127.0.0.1:{free_port()}"], capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "could not list proxies through the proxy API http://127.0.0.1:" in proc.stderr
