"""A model provider for the sandbox: an OpenAI-compatible chat completions service.

``python -m chaosllm.sandbox.app.provider --port N --model NAME``. It answers
``POST /v1/chat/completions`` (whole, or streamed as server-sent events in
OpenAI's chunk format when the body says ``"stream": true``) and
``GET /v1/models``. Tokens are words drawn deterministically from the prompt,
so that the same request always gets the same answer, produced after
``--ttft`` seconds and then at ``--tokens-per-second``. It exports Prometheus
histograms for the time to first token, the inter-token latency and the
tokens per second, and a counter of request outcomes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from chaosllm.sandbox.app._http import _Server
from chaosllm.sandbox.app._service import exit_on_sigterm

__all__ = ["Generation", "completion", "chunks", "main", "parse_request", "tokens_for"]

MAX_TOKENS_CAP = 1024
DEFAULT_MAX_TOKENS = 16
WORDS = ("the", "model", "answers", "with", "tokens", "that", "flow", "through", "gateway",
         "cache", "queue", "tenant", "latency", "budget", "fallback", "stream")  # fmt: skip

TTFT = Histogram(
    "sandbox_llm_time_to_first_token_seconds", "Time from request to the first token",
    ["model"], buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)  # fmt: skip
INTER_TOKEN = Histogram(
    "sandbox_llm_inter_token_latency_seconds", "Time between two tokens of one answer",
    ["model"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)  # fmt: skip
TOKENS_PER_SECOND = Histogram(
    "sandbox_llm_tokens_per_second", "Completion tokens per second of generation, per answer",
    ["model"], buckets=(1, 5, 10, 20, 50, 100, 200, 500, 1000),
)  # fmt: skip
OUTCOMES = Counter(
    "sandbox_llm_requests_total", "Chat completion requests by outcome (ok, bad_request, cancelled)",
    ["model", "outcome"],
)  # fmt: skip


class BadRequest(ValueError):
    """The request is not a chat completion this service can answer."""


class Generation:
    """One answer's tokens, with the timing rule: first after ``ttft``, then at a rate."""

    def __init__(self, model: str, prompt: str, max_tokens: int, ttft: float, rate: float) -> None:
        self.model = model
        self.tokens = tokens_for(model, prompt, max_tokens)
        self.prompt_tokens = len(prompt.split())
        self.ttft = ttft
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())

    def usage(self) -> dict[str, int]:
        completion_tokens = len(self.tokens)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": self.prompt_tokens + completion_tokens}  # fmt: skip

    def timed(self, sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
        """Yield the tokens at their times and record the latency histograms."""
        started = time.perf_counter()
        sleep(self.ttft)
        previous = started
        for index, token in enumerate(self.tokens):
            if index:
                sleep(self.interval)
            now = time.perf_counter()
            if index == 0:
                TTFT.labels(self.model).observe(now - started)
            else:
                INTER_TOKEN.labels(self.model).observe(now - previous)
            previous = now
            yield token
        generating = previous - started - self.ttft
        if len(self.tokens) > 1 and generating > 0:
            TOKENS_PER_SECOND.labels(self.model).observe((len(self.tokens) - 1) / generating)


def tokens_for(model: str, prompt: str, max_tokens: int) -> list[str]:
    """The same model and prompt always give the same words."""
    digest = hashlib.sha256(f"{model}\0{prompt}".encode()).digest()
    count = max(1, min(max_tokens, 4 + digest[0] % 60))
    return [WORDS[digest[i % len(digest)] % len(WORDS)] + " " for i in range(count)]


def parse_request(body: Any, model: str) -> tuple[str, int, bool, bool]:
    """(prompt, max_tokens, stream, include_usage) from a chat completion request."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    parts = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise BadRequest("each message needs a string 'content'")
        parts.append(message["content"])
    if body.get("model") not in (None, model):
        raise BadRequest(f"this provider serves the model {model!r}, not {body.get('model')!r}")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens", DEFAULT_MAX_TOKENS))
    if type(max_tokens) is not int or not 1 <= max_tokens <= MAX_TOKENS_CAP:
        raise BadRequest(f"'max_tokens' must be an integer from 1 to {MAX_TOKENS_CAP}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false")
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage") is True)
    return "\n".join(parts), max_tokens, stream, include_usage


def completion(generation: Generation, text: str) -> dict[str, Any]:
    return {
        "id": generation.id, "object": "chat.completion", "created": generation.created,
        "model": generation.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": generation.usage(),
    }  # fmt: skip


def chunks(generation: Generation, include_usage: bool,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The chunks of a streamed answer, in OpenAI's ``chat.completion.chunk`` shape."""
    head = {"id": generation.id, "object": "chat.completion.chunk",
            "created": generation.created, "model": generation.model}  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    first = True
    for token in generation.timed(sleep):
        yield chunk({"role": "assistant", "content": token} if first else {"content": token}, None)
        first = False
    yield chunk({}, "stop")
    if include_usage:
        yield {**head, "choices": [], "usage": generation.usage()}


def _error(message: str, kind: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The sandbox's OpenAI-compatible model provider")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True, help="the model name this provider serves")
    parser.add_argument("--ttft", type=float, default=0.1, help="seconds before the first token")
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    args = parser.parse_args(argv)
    if args.ttft < 0 or args.tokens_per_second <= 0:
        parser.error("--ttft must be 0 or more and --tokens-per-second above 0")
    exit_on_sigterm()
    serve(args.port, args.model, args.ttft, args.tokens_per_second)


def serve(port: int, model: str, ttft: float, rate: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b'{"status": "ok"}')
            elif path == "/v1/models":
                listing = {"object": "list", "data": [
                    {"id": model, "object": "model", "created": 0, "owned_by": "sandbox"}]}
                self._send(200, json.dumps(listing).encode())
            else:
                self._send(404, _error(f"no route {path}", "not_found_error"))

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?", 1)[0] != "/v1/chat/completions":
                self._send(404, _error(f"no route {self.path}", "not_found_error"))
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                prompt, max_tokens, stream, include_usage = parse_request(json.loads(raw or b"null"), model)
            except (ValueError, RecursionError) as exc:
                OUTCOMES.labels(model, "bad_request").inc()
                self._send(400, _error(str(exc) if isinstance(exc, BadRequest) else "the body is not JSON"))
                return
            generation = Generation(model, prompt, max_tokens, ttft, rate)
            try:
                if stream:
                    self._stream(generation, include_usage)
                else:
                    self._send(200, json.dumps(completion(generation, "".join(generation.timed()))).encode())
            except (BrokenPipeError, ConnectionResetError):
                OUTCOMES.labels(model, "cancelled").inc()
                self.close_connection = True
                return
            OUTCOMES.labels(model, "ok").inc()

        def _stream(self, generation: Generation, include_usage: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in chunks(generation, include_usage):  # each is sent when its token is due
                self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, *args: Any) -> None:
            pass

    with _Server(("127.0.0.1", port), Handler) as server:
        server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
