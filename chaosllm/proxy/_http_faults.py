"""HTTP faults: what a proxy in HTTP mode does to the requests it matches.

They live beside the TCP toxics (same API, same ``name``, ``toxicity`` and
``ttl_ms``) but act on whole HTTP exchanges: toxicity is rolled per request,
and a fault hits only requests whose method, path prefix and header match its
``method``, ``path_prefix`` and ``header`` attributes (empty: any), as
Chaos Mesh's HTTPChaos selects its targets::

    {"name": "rate-limited", "type": "http_status", "toxicity": 0.3,
     "attributes": {"status": 429, "retry_after": 2, "path_prefix": "/v1/chat"}}

The stream faults act on server-sent events (a ``text/event-stream``
response); on any other response they do nothing and count it as
``not_streamed``.
"""

from __future__ import annotations

import http
import json
import random
from typing import Any, ClassVar

from chaosllm.proxy._http_wire import Head
from chaosllm.proxy._stats import ToxicStats
from chaosllm.proxy._toxics import TOXIC_TYPES, Toxic, ToxicError, make_toxic

__all__ = ["HttpFault", "HttpStatus", "HTTP_FAULT_TYPES", "make_fault", "CORRUPT_DATA"]

# What corrupt_event puts in place of an event's data: JSON cut off mid-object.
CORRUPT_DATA = b'data: {"id": "chaosllm-corrupt", "choices": [{"delta": {"content": "'
_ERRORS = {429: "rate_limit_exceeded", 500: "server_error", 502: "bad_gateway",
           503: "service_unavailable", 529: "overloaded_error"}


class HttpStats(ToxicStats):
    """A toxic's counters plus the requests it hit and the events it touched."""

    __slots__ = ("requests", "events", "not_streamed")

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self.events = 0
        self.not_streamed = 0

    def to_json(self) -> dict[str, Any]:
        held = super().to_json()
        return {"requests": self.requests, "events": self.events,
                "held_mean_ms": held["held_mean_ms"], "held_max_ms": held["held_max_ms"],
                "streams_cut": self.cut, "not_streamed": self.not_streamed}


class HttpFault(Toxic):
    """Base HTTP fault: request matching, a roll per request, string attributes."""

    streams: ClassVar[bool] = False
    match: ClassVar[dict[str, str]] = {"method": "", "path_prefix": "", "header": ""}

    def __init__(self, name: str, stream: str, toxicity: float, attributes: dict[str, Any]) -> None:
        super().__init__(name, "downstream", toxicity, attributes)
        self.stats: HttpStats = HttpStats()

    def attribute(self, key: str, value: Any) -> Any:
        if isinstance(self.defaults[key], str):
            if not isinstance(value, str):
                raise ToxicError(f"{self.type} attribute {key} must be a string, got {value!r}")
            return value
        return super().attribute(key, value)

    def hits(self, request: Head) -> bool:
        """Whether this request matches and the toxicity roll picks it."""
        method, prefix, header = (self.attributes[k] for k in ("method", "path_prefix", "header"))
        if method and request.start[0].upper() != method.upper():
            return False
        if prefix and not request.start[1].startswith(prefix):
            return False
        if header:
            name, _, value = header.partition(":")
            found = request.get(name.strip())
            if found is None or (value.strip() and found != value.strip()):
                return False
        return self.toxicity >= 1.0 or random.random() < self.toxicity

    # Stream faults: called once per server-sent event, numbered from 1.
    def delay_before(self, index: int) -> float:
        return 0.0

    def rewrite(self, index: int, event: bytes) -> bytes:
        return event

    def cut_after(self, index: int) -> str | None:
        return None


class HttpStatus(HttpFault):
    """Answer with ``status`` (and ``Retry-After``, and an OpenAI-shaped error) instead."""

    type = "http_status"
    defaults = {**HttpFault.match, "status": 503, "retry_after": 0, "body": ""}

    def check(self, attributes: dict[str, Any]) -> None:
        if not 100 <= attributes["status"] <= 599:
            raise ToxicError(f"http_status status must be between 100 and 599, "
                             f"got {attributes['status']}")

    def response(self) -> bytes:
        status = self.attributes["status"]
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Overloaded" if status == 529 else "Error"
        body = self.attributes["body"].encode() or json.dumps({"error": {
            "message": f"{reason} (injected by chaosllm fault {self.name})",
            "type": _ERRORS.get(status, "error"), "code": status}}).encode()
        headers = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
                   f"Content-Length: {len(body)}"]
        if self.attributes["retry_after"]:
            headers.append(f"Retry-After: {self.attributes['retry_after']}")
        return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


class FirstByteDelay(HttpFault):
    """Hold the response's first byte for ``delay`` ms."""

    type = "first_byte_delay"
    defaults = {**HttpFault.match, "delay": 500}


class StreamStall(HttpFault):
    """Pause a stream for ``stall`` ms after ``after`` events (every ``after`` with ``every``)."""

    type = "stream_stall"
    streams = True
    defaults = {**HttpFault.match, "after": 5, "stall": 10000, "every": 0}

    def check(self, attributes: dict[str, Any]) -> None:
        if attributes["after"] < 1:
            raise ToxicError("stream_stall after must be at least 1 event")

    def delay_before(self, index: int) -> float:
        after = self.attributes["after"]
        due = index == after + 1 or (self.attributes["every"] and index > 1
                                     and (index - 1) % after == 0)
        return self.attributes["stall"] / 1000.0 if due else 0.0


class StreamCut(HttpFault):
    """End a stream after ``after`` events: cleanly, or with a reset when ``reset`` is 1."""

    type = "stream_cut"
    streams = True
    defaults = {**HttpFault.match, "after": 5, "reset": 0}

    def check(self, attributes: dict[str, Any]) -> None:
        if attributes["after"] < 1:
            raise ToxicError("stream_cut after must be at least 1 event")

    def cut_after(self, index: int) -> str | None:
        if index != self.attributes["after"]:
            return None
        return "reset" if self.attributes["reset"] else "clean"


class CorruptEvent(HttpFault):
    """Replace the data of event number ``event`` with malformed JSON."""

    type = "corrupt_event"
    streams = True
    defaults = {**HttpFault.match, "event": 1}

    def check(self, attributes: dict[str, Any]) -> None:
        if attributes["event"] < 1:
            raise ToxicError("corrupt_event event must be at least 1")

    def rewrite(self, index: int, event: bytes) -> bytes:
        return CORRUPT_DATA + b"\n\n" if index == self.attributes["event"] else event


class SlowStream(HttpFault):
    """Add ``delay`` ms before every event."""

    type = "slow_stream"
    streams = True
    defaults = {**HttpFault.match, "delay": 100}

    def delay_before(self, index: int) -> float:
        return self.attributes["delay"] / 1000.0


HTTP_FAULT_TYPES: dict[str, type[Toxic]] = {
    cls.type: cls for cls in (HttpStatus, FirstByteDelay, StreamStall, StreamCut, CorruptEvent,
                              SlowStream)
}
_ALL_TYPES = {**TOXIC_TYPES, **HTTP_FAULT_TYPES}


def make_fault(body: Any) -> Toxic:
    """A TCP toxic or an HTTP fault from a create body."""
    return make_toxic(body, _ALL_TYPES)
