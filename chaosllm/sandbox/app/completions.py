"""The gateway's way to a model: a primary provider, retries, and a fallback.

A completion is streamed from the primary provider. A 429, 503 or 529 is
retried after its ``Retry-After``, or after a short backoff; a ``Retry-After``
longer than the gateway will wait sends the request to the fallback at once,
without asking the primary again before it said. A provider that refuses,
answers with another error, sends a malformed event, sends no first token
within the first-token deadline, or stalls between tokens longer than the
stall timeout is given up, and the request goes to the
fallback. Only the answer that completes counts: its usage is what the tenant
is billed, once.

    route = Completions(Provider("primary", url_a, "sandbox-primary"),
                        Provider("fallback", url_b, "sandbox-fallback"))
    answer = route.complete("hello", max_tokens=16)
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter, Histogram

from chaosllm.sandbox.app._resilience import Unavailable

__all__ = ["GOODPUT", "Answer", "Completions", "Provider", "ProviderFailed", "RetryLater"]

RETRYABLE = (429, 503, 529)
ATTEMPTS = Counter(
    "sandbox_llm_gateway_attempts_total",
    "Completion attempts by provider and outcome (ok, retry, failed, first_token_timeout, stalled)",
    ["provider", "outcome"],
)  # fmt: skip
FAILOVERS = Counter("sandbox_llm_failovers_total", "Completions served by the fallback provider")
GOODPUT = Counter(
    "sandbox_llm_goodput_total",
    "Completion requests by whether they met every SLO at once (good) or not (bad):"
    " answered, first token within its objective, no gap between tokens above its objective",
    ["result"],
)  # fmt: skip


TIME_TO_FIRST_TOKEN = Histogram(
    "sandbox_llm_gateway_time_to_first_token_seconds",
    "Time from a completion request to its answer's first token, as the gateway's caller"
    " sees it: across retries and fallback",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)  # fmt: skip


class RetryLater(Exception):
    def __init__(self, status: int, after: float) -> None:
        super().__init__(f"HTTP {status}, retry after {after:g} s")
        self.after = after


class ProviderFailed(Exception):
    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Provider:
    name: str
    url: str
    model: str


@dataclass
class Answer:
    text: str
    provider: str
    completion_tokens: int
    prompt_tokens: int
    attempts: list[str] = field(default_factory=list)
    time_to_first_token: float = 0.0  # from the request, across retries and fallback
    max_inter_token: float = 0.0

    @property
    def fell_back(self) -> bool:
        return self.provider != self.attempts[0].split(":", 1)[0]


@dataclass
class Completions:
    primary: Provider
    fallback: Provider | None = None
    first_token_deadline: float = 2.0
    stall_timeout: float = 0.5
    retries: int = 2
    max_retry_after: float = 1.0
    backoff: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    goodput_ttft: float = 2.0
    goodput_inter_token: float = 0.5

    def complete(self, prompt: str, max_tokens: int = 16) -> Answer:
        """The first complete answer; counts it as good or bad for goodput."""
        try:
            answer = self._complete(prompt, max_tokens)
        except Unavailable:
            GOODPUT.labels("bad").inc()
            raise
        TIME_TO_FIRST_TOKEN.observe(answer.time_to_first_token)
        good = (answer.time_to_first_token <= self.goodput_ttft
                and answer.max_inter_token <= self.goodput_inter_token)  # fmt: skip
        GOODPUT.labels("good" if good else "bad").inc()
        return answer

    def _complete(self, prompt: str, max_tokens: int) -> Answer:
        attempts: list[str] = []
        started = time.monotonic()
        providers = [self.primary] + ([self.fallback] if self.fallback else [])
        for provider in providers:
            tries = self.retries + 1 if provider is self.primary else 1
            for attempt in range(tries):
                try:
                    text, usage, first_at, max_gap = self._stream(provider, prompt, max_tokens)
                except RetryLater as exc:
                    attempts.append(f"{provider.name}:retry")
                    ATTEMPTS.labels(provider.name, "retry").inc()
                    if exc.after > self.max_retry_after:
                        break  # it asked for longer than a caller can wait: fall back now
                    if attempt + 1 < tries:
                        self.sleep(exc.after)
                    continue
                except ProviderFailed as exc:
                    attempts.append(f"{provider.name}:{exc.outcome}")
                    ATTEMPTS.labels(provider.name, exc.outcome).inc()
                    break
                attempts.append(f"{provider.name}:ok")
                ATTEMPTS.labels(provider.name, "ok").inc()
                if provider is not self.primary:
                    FAILOVERS.inc()
                return Answer(text, provider.name, usage.get("completion_tokens", 0),
                              usage.get("prompt_tokens", 0), attempts,
                              first_at - started, max_gap)  # fmt: skip
        raise Unavailable(f"no provider answered: {', '.join(attempts)}")

    def _retry_after(self, response: http.client.HTTPResponse, attempt_backoff: float) -> float:
        header = response.getheader("Retry-After")
        try:
            return max(0.0, float(header)) if header is not None else attempt_backoff
        except ValueError:
            return attempt_backoff

    def _stream(self, provider: Provider, prompt: str,
                max_tokens: int) -> tuple[str, dict[str, int], float, float]:  # fmt: skip
        parts = urlsplit(provider.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                          timeout=self.first_token_deadline)  # fmt: skip
        body = json.dumps({"model": provider.model, "stream": True, "max_tokens": max_tokens,
                           "stream_options": {"include_usage": True},
                           "messages": [{"role": "user", "content": prompt}]})  # fmt: skip
        started = time.monotonic()
        try:
            conn.request("POST", parts.path.rstrip("/") + "/v1/chat/completions", body,
                         {"Content-Type": "application/json"})  # fmt: skip
            response = conn.getresponse()
            if response.status in RETRYABLE:
                after = self._retry_after(response, self.backoff)
                response.read()
                raise RetryLater(response.status, after)
            if response.status != 200:
                raise ProviderFailed("failed", f"HTTP {response.status}")
            return self._read_events(response, started)
        except TimeoutError as exc:  # no answer at all within the deadline
            raise ProviderFailed("first_token_timeout", "no answer within the first-token deadline") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderFailed("failed", f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()

    def _read_events(self, response: http.client.HTTPResponse,
                     started: float) -> tuple[str, dict[str, int], float, float]:  # fmt: skip
        """(text, usage, when the first token came, the longest gap between two tokens)."""
        text: list[str] = []
        usage: dict[str, int] = {}
        first = True
        first_at = last_at = max_gap = 0.0
        while True:
            remaining = self.first_token_deadline - (time.monotonic() - started)
            if first and remaining <= 0:
                raise ProviderFailed("first_token_timeout", "no first token within the deadline")
            _set_timeout(response, remaining if first else self.stall_timeout)
            try:
                line = response.readline()
            except TimeoutError as exc:
                raise ProviderFailed("first_token_timeout" if first else "stalled",
                                     "no token in time") from exc  # fmt: skip
            if not line:
                raise ProviderFailed("failed", "the stream ended before [DONE]")
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return "".join(text), usage, first_at, max_gap
            try:
                chunk: Any = json.loads(data)
                for choice in chunk.get("choices", []):
                    content = choice.get("delta", {}).get("content")
                    if content:
                        now = time.monotonic()
                        if first:
                            first_at = now
                        else:
                            max_gap = max(max_gap, now - last_at)
                        last_at = now
                        text.append(str(content))
                        first = False
                if chunk.get("usage"):
                    usage = {k: int(v) for k, v in chunk["usage"].items() if isinstance(v, int)}
            except (ValueError, AttributeError, TypeError) as exc:
                raise ProviderFailed("failed", f"a malformed event: {data[:80]!r}") from exc


def _set_timeout(response: http.client.HTTPResponse, seconds: float) -> None:
    sock = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(sock, "_sock", None)
    if sock is not None:
        sock.settimeout(max(0.001, seconds))
