"""The gateway's route to a model: retries on 429 with Retry-After, fallback on failure or stall."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chaosllm.sandbox.app import provider
from chaosllm.sandbox.app._resilience import Unavailable
from chaosllm.sandbox.app.completions import Completions, Provider
from chaosllm.sandbox.app.launcher import free_port

Behaviour = Callable[[BaseHTTPRequestHandler, int], None]


def _events(model: str, prompt: str, count: int) -> list[bytes]:
    generation = provider.Generation(model, prompt, count, 0.0, 1000.0)
    return [f"data: {json.dumps(c)}\n\n".encode() for c in provider.chunks(generation, True, lambda _: None)]


@pytest.fixture()
def scripted() -> Iterator[Callable[[Behaviour], str]]:
    """A provider whose every answer is scripted by the test (request number given)."""
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Behaviour) -> str:
        calls = {"n": 0}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls["n"] += 1
                behaviour(self, calls["n"])

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _status(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None) -> None:
    body = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}'
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _stream(handler: BaseHTTPRequestHandler, events: list[bytes], pause_after: int = -1,
            pause: float = 0.0, end: bool = True) -> None:  # fmt: skip
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Connection", "close")
    handler.end_headers()
    for index, event in enumerate(events):
        if index == pause_after:
            time.sleep(pause)
        handler.wfile.write(event)
        handler.wfile.flush()
    if end:
        handler.wfile.write(b"data: [DONE]\n\n")
    handler.close_connection = True


def _fallback_events(handler: BaseHTTPRequestHandler, _: int) -> None:
    _stream(handler, _events("fallback-model", "hello", 16))


def test_a_429_is_retried_after_its_retry_after(scripted: Callable[[Behaviour], str]) -> None:
    def primary(handler: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            _status(handler, 429, {"Retry-After": "0.4"})
        else:
            _stream(handler, _events("primary-model", "hello", 16))

    slept: list[float] = []
    route = Completions(Provider("primary", scripted(primary), "primary-model"),
                        Provider("fallback", scripted(_fallback_events), "fallback-model"),
                        sleep=slept.append)  # fmt: skip
    answer = route.complete("hello", 16)
    assert slept == [0.4]
    assert answer.provider == "primary" and not answer.fell_back
    assert answer.attempts == ["primary:retry", "primary:ok"]
    assert answer.text == "".join(provider.tokens_for("primary-model", "hello", 16))
    assert answer.completion_tokens == len(provider.tokens_for("primary-model", "hello", 16))


def test_a_retry_after_beyond_what_the_gateway_waits_falls_back_at_once(
    scripted: Callable[[Behaviour], str],
) -> None:
    slept: list[float] = []
    overloaded = scripted(lambda h, n: _status(h, 529, {"Retry-After": "2"}))
    route = Completions(Provider("primary", overloaded, "p"),
                        Provider("fallback", scripted(_fallback_events), "fallback-model"),
                        retries=2, max_retry_after=1.0, sleep=slept.append)  # fmt: skip
    answer = route.complete("hello", 16)
    assert slept == []
    assert answer.provider == "fallback" and answer.fell_back
    assert answer.attempts == ["primary:retry", "fallback:ok"]


def test_persistent_overload_is_retried_then_falls_back(
    scripted: Callable[[Behaviour], str],
) -> None:
    slept: list[float] = []
    overloaded = scripted(lambda h, n: _status(h, 503, {"Retry-After": "0.1"}))
    route = Completions(Provider("primary", overloaded, "p"),
                        Provider("fallback", scripted(_fallback_events), "fallback-model"),
                        retries=2, sleep=slept.append)  # fmt: skip
    answer = route.complete("hello", 16)
    assert slept == [0.1, 0.1]
    assert answer.provider == "fallback"
    assert answer.attempts == ["primary:retry"] * 3 + ["fallback:ok"]


@pytest.mark.parametrize("behaviour, outcome", [
    (lambda h, n: _stream(h, _events("p", "hello", 16), pause_after=0, pause=1.5), "first_token_timeout"),
    (lambda h, n: _stream(h, _events("p", "hello", 16), pause_after=4, pause=1.5), "stalled"),
    (lambda h, n: _stream(h, [*_events("p", "hello", 16)[:3], b"data: {not json\n\n"]), "failed"),
    (lambda h, n: _stream(h, _events("p", "hello", 16)[:3], end=False), "failed"),
    (lambda h, n: _status(h, 500), "failed"),
])  # fmt: skip
def test_a_failing_or_stalling_primary_falls_back_and_bills_only_the_answer(
    scripted: Callable[[Behaviour], str], behaviour: Behaviour, outcome: str
) -> None:
    route = Completions(Provider("primary", scripted(behaviour), "p"),
                        Provider("fallback", scripted(_fallback_events), "fallback-model"),
                        first_token_deadline=0.6, stall_timeout=0.6)  # fmt: skip
    started = time.monotonic()
    answer = route.complete("hello", 16)
    assert time.monotonic() - started < 1.4  # given up within its deadline, not after the stall
    assert answer.attempts == [f"primary:{outcome}", "fallback:ok"]
    expected = provider.tokens_for("fallback-model", "hello", 16)
    assert answer.text == "".join(expected) and answer.completion_tokens == len(expected)


def test_no_provider_is_an_unavailable_naming_every_attempt() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    route = Completions(Provider("primary", closed, "p"), Provider("fallback", closed, "f"), retries=1)
    with pytest.raises(Unavailable, match="primary:failed, fallback:failed"):
        route.complete("hello")


def _goodput(result: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("sandbox_llm_goodput_total", {"result": result}) or 0.0


def test_goodput_counts_a_request_good_only_when_it_met_every_objective(
    scripted: Callable[[Behaviour], str],
) -> None:
    fast = Completions(Provider("primary", scripted(_fallback_events), "fallback-model"),
                       goodput_ttft=0.5, goodput_inter_token=0.5)  # fmt: skip
    good, bad = _goodput("good"), _goodput("bad")
    answer = fast.complete("hello", 16)
    assert answer.time_to_first_token < 0.5 and answer.max_inter_token < 0.5
    assert (_goodput("good"), _goodput("bad")) == (good + 1, bad)

    # Answered, but by the fallback after the primary missed its first-token deadline.
    stalled = scripted(lambda h, n: _stream(h, _events("p", "hello", 16), pause_after=0, pause=1.0))
    slow = Completions(Provider("primary", stalled, "p"),
                       Provider("fallback", scripted(_fallback_events), "fallback-model"),
                       first_token_deadline=0.6, goodput_ttft=0.5)  # fmt: skip
    answer = slow.complete("hello", 16)
    assert answer.provider == "fallback" and answer.time_to_first_token >= 0.6
    assert (_goodput("good"), _goodput("bad")) == (good + 1, bad + 1)

    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable):
        Completions(Provider("primary", closed, "p"), retries=0).complete("hello")
    assert (_goodput("good"), _goodput("bad")) == (good + 1, bad + 2)
