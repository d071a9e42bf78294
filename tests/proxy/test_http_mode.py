"""A proxy in HTTP mode and its HTTP faults, in front of the sandbox's model provider.

Clients are real: httpx for raw HTTP and server-sent events, and the openai
package for what an application sees.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from chaosllm.errors import ChaosLLMError
from chaosllm.proxy import actions
from chaosllm.sandbox.app import provider
from tests.procs import model_provider
from tests.proxy.conftest import Api, EchoServer, connect

pytestmark = pytest.mark.integration

MODEL = "sandbox-primary"
PROMPT = "recommend a model for summarising tickets"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 8}
EXPECTED = provider.tokens_for(MODEL, PROMPT, 8)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_provider(MODEL, 0.02, 200.0) as url:
        yield url


@pytest.fixture
def llm(api: Api, upstream: str) -> Iterator[tuple[str, httpx.Client]]:
    """An HTTP-mode proxy to the provider, and an httpx client through it."""
    status, body = api.call("POST", "/proxies", {
        "name": "llm", "listen": "127.0.0.1:0", "upstream": upstream.removeprefix("http://"),
        "mode": "http"})
    assert status == 201, body
    assert body["mode"] == "http"
    with httpx.Client(base_url="http://" + body["listen"], timeout=10) as client:
        yield "llm", client


def add(api: Api, kind: str, toxicity: float = 1.0, **attributes: Any) -> None:
    status, body = api.call("POST", "/proxies/llm/toxics", {
        "name": kind, "type": kind, "toxicity": toxicity, "attributes": attributes})
    assert status == 200, body


def stats(api: Api, name: str) -> dict[str, Any]:
    _, body = api.call("GET", "/proxies/llm/stats")
    toxic = body["toxics"].get(name) or body["removed_toxics"][name]
    return dict(toxic["stats"])


def events(client: httpx.Client) -> tuple[list[str], list[float]]:
    """The data lines of a streamed completion and when each arrived (s from the request)."""
    started = time.perf_counter()
    lines, times = [], []
    with client.stream("POST", "/v1/chat/completions", json={**BODY, "stream": True}) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data: "):
                lines.append(line.removeprefix("data: "))
                times.append(time.perf_counter() - started)
    return lines, times


def content(lines: list[str]) -> str:
    chunks = [json.loads(line) for line in lines if line != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_without_faults_answers_and_streams_pass_unchanged_on_one_connection(
        llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    whole = client.post("/v1/chat/completions", json=BODY).json()
    assert whole["choices"][0]["message"]["content"] == "".join(EXPECTED)
    lines, _ = events(client)
    assert content(lines) == "".join(EXPECTED) and lines[-1] == "[DONE]"
    assert client.get("/v1/models").json()["data"][0]["id"] == MODEL


def test_http_status_answers_429_with_retry_after_and_an_openai_error(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "http_status", status=429, retry_after=2)
    resp = client.post("/v1/chat/completions", json=BODY)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "2"
    assert resp.json()["error"]["type"] == "rate_limit_exceeded"
    sdk = openai.OpenAI(base_url=str(client.base_url) + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model=MODEL, messages=BODY["messages"], max_tokens=8)  # type: ignore[arg-type]
    # The connection stays usable: the request body was read before answering.
    assert client.get("/v1/models").status_code == 429
    assert stats(api, "http_status")["requests"] == 3


def test_faults_hit_only_matching_requests(api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "http_status", status=503, method="POST", path_prefix="/v1/chat",
        header="X-Tenant: acme")
    assert client.post("/v1/chat/completions", json=BODY,
                       headers={"X-Tenant": "acme"}).status_code == 503
    assert client.post("/v1/chat/completions", json=BODY,
                       headers={"X-Tenant": "other"}).status_code == 200
    assert client.post("/v1/chat/completions", json=BODY).status_code == 200
    assert client.get("/v1/models", headers={"X-Tenant": "acme"}).status_code == 200
    assert stats(api, "http_status")["requests"] == 1


def test_toxicity_is_rolled_per_request(api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "http_status", toxicity=0.3, status=529)
    codes = [client.get("/v1/models").status_code for _ in range(400)]
    share = codes.count(529) / len(codes)
    assert 0.2 < share < 0.4, share
    assert stats(api, "http_status")["requests"] == codes.count(529)


def test_first_byte_delay_holds_the_first_token(api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    _, before = events(client)
    add(api, "first_byte_delay", delay=400)
    lines, after = events(client)
    assert content(lines) == "".join(EXPECTED)
    assert after[0] >= 0.4 and after[0] - before[0] >= 0.35, (before[0], after[0])
    # The loop's timers have millisecond resolution.
    assert stats(api, "first_byte_delay")["held_max_ms"] >= 399


def test_stream_stall_pauses_after_n_events_once_or_every_n(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "stream_stall", after=3, stall=300)
    lines, times = events(client)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[2] >= 0.29 and max(gaps[:2] + gaps[3:]) < 0.29, gaps
    assert content(lines) == "".join(EXPECTED)
    api.call("DELETE", "/proxies/llm/toxics/stream_stall")
    add(api, "stream_stall", after=2, stall=200, every=1)
    _, times = events(client)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert [i for i, gap in enumerate(gaps) if gap >= 0.19] == list(range(1, len(gaps), 2))


def test_stream_cut_ends_cleanly_and_the_connection_stays_usable(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "stream_cut", after=3)
    lines, _ = events(client)
    assert len(lines) == 3 and "[DONE]" not in lines
    assert client.get("/v1/models").status_code == 200
    assert stats(api, "stream_cut")["streams_cut"] == 1


def test_stream_cut_with_reset_resets_the_connection(api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "stream_cut", after=2, reset=1)
    with pytest.raises(httpx.HTTPError):
        events(client)
    assert stats(api, "stream_cut")["streams_cut"] == 1


def test_corrupt_event_breaks_one_chunk_for_the_openai_client(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "corrupt_event", event=2)
    lines, _ = events(client)
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])
    assert json.loads(lines[0]) and len(lines) == len(EXPECTED) + 2
    assert (stats(api, "corrupt_event")["requests"], stats(api, "corrupt_event")["events"]) == (1, 1)
    sdk = openai.OpenAI(base_url=str(client.base_url) + "/v1", api_key="unused", max_retries=0)
    with pytest.raises((ValueError, openai.APIError)):
        for _ in sdk.chat.completions.create(model=MODEL, messages=BODY["messages"],  # type: ignore[arg-type]
                                             max_tokens=8, stream=True):
            pass


def test_slow_stream_delays_every_event(api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "slow_stream", delay=60)
    lines, times = events(client)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.05, gaps
    assert stats(api, "slow_stream")["events"] == len(lines)


def test_a_stream_fault_on_a_whole_answer_does_nothing_and_says_so(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "stream_cut", after=1)
    whole = client.post("/v1/chat/completions", json=BODY).json()
    assert whole["choices"][0]["message"]["content"] == "".join(EXPECTED)
    counted = stats(api, "stream_cut")
    assert (counted["requests"], counted["not_streamed"], counted["events"]) == (1, 1, 0)


def test_bad_faults_and_mode_mismatches_are_refused(api: Api, llm: tuple[str, httpx.Client],
                                                    make_proxy: Any) -> None:
    for attributes in ({"status": 700}, {"status": "429"}, {"method": 5}):
        status, body = api.call("POST", "/proxies/llm/toxics",
                                {"type": "http_status", "attributes": attributes})
        assert status == 400, body
    status, body = api.call("POST", "/proxies/llm/toxics", {"type": "http_status", "toxicity": 2})
    assert status == 400
    status, body = api.call("POST", "/proxies/llm/toxics", {"type": "latency"})
    assert status == 400 and "HTTP mode" in body["error"]
    tcp, _ = make_proxy()
    status, body = api.call("POST", f"/proxies/{tcp}/toxics", {"type": "first_byte_delay"})
    assert status == 400 and "TCP mode" in body["error"]
    _, listed = api.call("GET", "/proxies/llm")
    assert listed["toxics"] == []


def test_a_malformed_request_closes_its_connection_and_the_proxy_serves_on(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    port = int(str(client.base_url).rsplit(":", 1)[1])
    sock = connect(port)
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    assert sock.recv(100) == b""
    sock.close()
    sock = connect(port)
    sock.sendall(b"GET /v1/models HTTP/1.1\r\nContent-Length: x\r\n\r\n")
    assert sock.recv(100) == b""
    sock.close()
    assert client.get("/v1/models").status_code == 200


MALFORMED_ANSWERS = {
    "no status line": b"NOT HTTP AT ALL\r\n\r\n",
    "bad length": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nhello",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n",
    "stream torn mid-event": (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n"
                              b"10\r\ndata: {\"a\": 1}\n\n\r\n7\r\ndata: {"),
    "oversized head": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
}


class ScriptedUpstream(EchoServer):
    """An upstream that reads one request head per connection and answers ``answer``, then closes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        super().__init__()

    def _echo(self, conn: socket.socket) -> None:  # type: ignore[override]
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data and (more := conn.recv(65536)):
                    data += more
                conn.sendall(self.answer)
            except OSError:
                pass


@pytest.mark.parametrize("case", sorted(MALFORMED_ANSWERS))
def test_a_malformed_answer_is_forwarded_or_closed_and_the_proxy_serves_on(
        api: Api, llm: tuple[str, httpx.Client], case: str) -> None:
    answer = MALFORMED_ANSWERS[case]
    upstream = ScriptedUpstream(answer)
    try:
        status, body = api.call("POST", "/proxies", {"name": "broken", "listen": "127.0.0.1:0",
                                                     "upstream": upstream.address, "mode": "http"})
        assert status == 201, body
        status, body = api.call("POST", "/proxies/broken/toxics", {
            "name": "stall", "type": "stream_stall", "attributes": {"after": 1, "stall": 100}})
        assert status == 200, body
        _, proxy = api.call("GET", "/proxies/broken")
        port = int(proxy["listen"].rsplit(":", 1)[1])
        for _ in range(2):
            sock = connect(port)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 2\r\n\r\n{}")
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            sock.close()
            # Forwarded as it came (the head, re-framed, and what of the body could be
            # read), or nothing at all: never an answer the upstream did not give.
            assert received == b"" or received.split(b"\r\n", 1)[0] == answer.split(b"\r\n", 1)[0], (
                case, received[:200])
    finally:
        upstream.close()
    # The proxy process is alive and every other proxy still serves.
    assert api.call("GET", "/version")[0] == 200
    _, client = llm
    assert client.post("/v1/chat/completions", json=BODY).json()["choices"][0]["message"]["content"] == (
        "".join(EXPECTED))


def test_the_action_records_the_fault_and_the_rollback_reports_its_evidence(
        api: Api, llm: tuple[str, httpx.Client], proxy_server: str,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("CHAOSLLM_STATE_DIR", str(tmp_path))
    _, client = llm
    result = actions.inject_http_status(proxy="llm", status=429, retry_after="2s",
                                        path_prefix="/v1/chat", duration="20s",
                                        proxy_api_url=proxy_server)
    assert result["effect"] == "unknown"
    assert (tmp_path / "ledger.json").read_text().count("http_status-llm") >= 1
    assert client.post("/v1/chat/completions", json=BODY).status_code == 429
    assert client.get("/v1/models").status_code == 200
    ended = actions.remove_toxic("llm", "http_status-llm", proxy_api_url=proxy_server)
    assert ended["effect"] == "observed" and ended["evidence"]["requests"] == 1
    again = actions.remove_toxic("llm", "http_status-llm", proxy_api_url=proxy_server)
    assert again["removed"] is False
    assert client.post("/v1/chat/completions", json=BODY).status_code == 200


@pytest.mark.parametrize("call", [
    lambda url: actions.inject_http_status(proxy="llm", status=700, proxy_api_url=url),
    lambda url: actions.inject_stream_cut(proxy="llm", after_events=-1, proxy_api_url=url),
    lambda url: actions.inject_stream_stall(proxy="llm", every="no", proxy_api_url=url),
    lambda url: actions.inject_http_status(proxy="llm", toxicity=1.5, proxy_api_url=url),
    lambda url: actions.inject_slow_stream(proxy="llm", delay="-1s", proxy_api_url=url),
    lambda url: actions.inject_first_byte_delay(proxy="llm", header=["X-Tenant"], proxy_api_url=url),
])
def test_bad_arguments_are_refused_before_any_change(
        api: Api, llm: tuple[str, httpx.Client], proxy_server: str, call: Any) -> None:
    with pytest.raises(ChaosLLMError):
        call(proxy_server)
    _, listed = api.call("GET", "/proxies/llm")
    assert listed["toxics"] == []


def test_an_http_fault_on_a_tcp_proxy_is_an_error_that_changes_nothing(
        api: Api, make_proxy: Any, proxy_server: str) -> None:
    tcp, _ = make_proxy()
    with pytest.raises(ChaosLLMError, match="TCP mode"):
        actions.inject_first_byte_delay(proxy=tcp, proxy_api_url=proxy_server)
    _, listed = api.call("GET", f"/proxies/{tcp}")
    assert listed["toxics"] == []


def test_a_stall_in_progress_when_its_fault_is_removed_still_counts(
        api: Api, llm: tuple[str, httpx.Client]) -> None:
    _, client = llm
    add(api, "stream_stall", after=2, stall=600)
    done = threading.Event()
    threading.Thread(target=lambda: (events(client), done.set()), daemon=True).start()
    time.sleep(0.3)
    api.call("DELETE", "/proxies/llm/toxics/stream_stall")
    assert done.wait(5)
    assert stats(api, "stream_stall")["events"] == 1
