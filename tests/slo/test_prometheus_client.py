"""chaosllm's Prometheus client beside chaostoolkit-prometheus, against real local HTTP servers.

The chaostoolkit-prometheus tests pin down why its ``query`` functions are
not the transport of chaosllm's queries (docs/DESIGN.md, "Prometheus"): no
client-side timeout, no authentication from secrets, and exceptions left
untranslated. Each is shown next to what chaosllm's client does on the same
server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from chaoslib.exceptions import ActivityFailed
from chaosprometheus import probes as ctk_prometheus

from chaosllm.errors import ConfigurationError, InvalidArgument, TargetUnreachable
from chaosllm.slo import probes

# These tests wait out timeouts against silent servers.
pytestmark = pytest.mark.integration

VECTOR_ONE = {"status": "success",
              "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}}  # fmt: skip


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET like Prometheus; 401 under /locked/, 400 echoing the credentials under /echo/."""

    seen: list[dict[str, Any]]

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        refused, echo = self.path.startswith("/locked/"), self.path.startswith("/echo/")
        answer: Any = VECTOR_ONE
        if refused or echo:
            shown = f"bad credentials {self.headers.get('Authorization')}" if echo else "no entry"
            answer = {"status": "error", "error": shown}
        body = json.dumps(answer)
        self.send_response(401 if refused else 400 if echo else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """Accepts connections and reads the request, but never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", held
    listener.close()
    for conn in held:
        conn.close()


def test_chaostoolkit_prometheus_query_waits_for_ever_on_a_silent_server(
    silent_server: tuple[str, list[socket.socket]],
) -> None:
    url, held = silent_server
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["result"] = ctk_prometheus.query(
                "up", timeout=0.5, configuration={"prometheus_base_url": url}
            )
        except Exception as exc:  # what it raises once the server hangs up
            outcome["error"] = exc

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    # Its ``timeout`` only asks Prometheus to stop evaluating; requests.get has none.
    caller.join(4.0)
    assert caller.is_alive() and outcome == {}, "chaostoolkit-prometheus gave up by itself"
    for conn in held:
        conn.close()  # the only thing that releases it
    caller.join(5.0)
    assert not caller.is_alive() and "error" in outcome

    # chaosllm gives up after prometheus_timeout, with its own error type.
    started = time.monotonic()
    with pytest.raises(TargetUnreachable, match=r"no answer after 0\.5 s"):
        probes.query_value("up", url, configuration={"prometheus_timeout": 0.5})
    assert time.monotonic() - started < 3.0


def test_chaostoolkit_prometheus_query_sends_no_credentials_from_secrets(
    recorder: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = recorder
    secrets = {"prometheus_bearer_token": "tok-123"}
    answer = ctk_prometheus.query("up", configuration={"prometheus_base_url": url}, secrets=secrets)
    assert answer == VECTOR_ONE and seen[-1]["authorization"] is None

    assert probes.query_value("up", url, secrets=secrets) == 1.0
    assert seen[-1]["authorization"] == "Bearer tok-123"


def test_chaostoolkit_prometheus_errors_escape_untranslated(
    recorder: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = recorder
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe_socket.getsockname()[1]}"
    # A refused connection is requests' own exception, which chaoslib does not know.
    with pytest.raises(requests.ConnectionError) as raw:
        ctk_prometheus.query("up", configuration={"prometheus_base_url": closed})
    assert not isinstance(raw.value, ActivityFailed)
    with pytest.raises(TargetUnreachable, match="connection refused") as ours:
        probes.query_value("up", closed)
    assert isinstance(ours.value, ActivityFailed)
    assert isinstance(ours.value.__cause__, requests.RequestException)

    # A refusal is a generic failure carrying the whole request and answer.
    with pytest.raises(ActivityFailed, match="Prometheus query .* failed") as refused:
        ctk_prometheus.query("up", configuration={"prometheus_base_url": url + "/locked"})
    assert "'query': 'up'" in str(refused.value) and "no entry" in str(refused.value)
    with pytest.raises(ConfigurationError, match="HTTP 401 .*prometheus_bearer_token"):
        probes.query_value("up", url + "/locked", secrets={"prometheus_password": "pw-secret"})


def test_a_secret_echoed_by_the_server_is_hidden(recorder: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = recorder
    with pytest.raises(InvalidArgument, match=r"bad credentials Bearer \*\*\*") as bad:
        probes.query_value("up", url + "/echo", secrets={"prometheus_bearer_token": "tok-123"})
    assert "tok-123" not in str(bad.value)
    with pytest.raises(InvalidArgument) as bad:
        probes.query_value("up", url.replace("http://", "http://me:pw-secret@") + "/echo")
    basic = seen[-1]["authorization"]
    assert basic.startswith("Basic ") and basic[6:] not in str(bad.value)
    assert "pw-secret" not in str(bad.value) and "bad credentials Basic ***" in str(bad.value)
