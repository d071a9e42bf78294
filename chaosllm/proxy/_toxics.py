"""Toxics: one small object per fault, applied to the bytes of one direction.

A toxic turns a list of scheduled chunks ``(due, data)`` into another list:
latency pushes ``due`` later, bandwidth spaces chunks out, slicer cuts them,
limit_data truncates and appends a close, timeout swallows them. Toxics that
act on the connection rather than on its bytes (timeout, reset_peer) arm a
timer in :meth:`Toxic.attach`. Attributes, names and defaults are Toxiproxy's,
so its clients can create them::

    {"name": "latency_downstream", "type": "latency", "stream": "downstream",
     "toxicity": 1.0, "attributes": {"latency": 500, "jitter": 0}}
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, ClassVar

from chaosllm.proxy._stats import ToxicStats

if TYPE_CHECKING:
    from chaosllm.proxy._link import Direction

__all__ = ["Toxic", "TOXIC_TYPES", "STREAMS", "CLOSE", "RESET", "EOF", "make_toxic", "ToxicError"]

STREAMS = ("upstream", "downstream")

# Markers travel through the schedule with the data, so that a close ordered by
# a toxic happens only after the bytes before it were written.
CLOSE = object()
RESET = object()
EOF = object()

Item = tuple[float, Any]


class ToxicError(ValueError):
    """A toxic definition is malformed (HTTP 400)."""


class Toxic:
    """Base toxic: passes data through unchanged.

    ``attributes`` are integers, as in Toxiproxy; unknown ones are ignored
    and missing ones take the class default.
    """

    type: ClassVar[str] = "noop"
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, name: str, stream: str, toxicity: float, attributes: dict[str, Any]) -> None:
        self.name = name
        self.stream = stream
        self.toxicity = 1.0
        self.attributes: dict[str, Any] = dict(self.defaults)
        self.expires_at: float | None = None
        self.stats = ToxicStats()
        self.update(toxicity, attributes)

    def update(self, toxicity: Any, attributes: Any) -> None:
        if toxicity is not None:
            if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
                raise ToxicError(f"toxicity must be a number between 0 and 1, got {toxicity!r}")
            if not 0.0 <= float(toxicity) <= 1.0:
                raise ToxicError(f"toxicity must be between 0 and 1, got {toxicity!r}")
            self.toxicity = float(toxicity)
        if attributes is None:
            return
        if not isinstance(attributes, dict):
            raise ToxicError("attributes must be an object")
        merged = dict(self.attributes)
        for key, value in attributes.items():
            if key in self.defaults:
                merged[key] = self.attribute(key, value)
        self.check(merged)
        self.attributes = merged

    def attribute(self, key: str, value: Any) -> Any:
        """One attribute's value, checked: a non-negative integer, as in Toxiproxy."""
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ToxicError(f"{self.type} attribute {key} must be a non-negative integer")
        return int(value)

    def check(self, attributes: dict[str, Any]) -> None:
        """Refuse attributes that are wrong together or out of range."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }
        if self.expires_at is not None:
            data["expires_at"] = self.expires_at
        data["stats"] = self.stats.to_json()
        return data

    def new_state(self) -> Any:
        return None

    def on_data(self, state: Any, items: list[Item]) -> list[Item]:
        return items

    def attach(self, state: Any, direction: Direction) -> None:
        """Called when the toxic starts acting on a connection's direction."""

    def detach(self, state: Any, direction: Direction) -> None:
        """Called when the toxic is removed from a live connection."""

    @property
    def close_delay(self) -> float:
        return 0.0


class Latency(Toxic):
    type = "latency"
    defaults = {"latency": 0, "jitter": 0}

    def on_data(self, state: Any, items: list[Item]) -> list[Item]:
        latency, jitter = self.attributes["latency"], self.attributes["jitter"]
        out = []
        for due, data in items:
            delay = latency + (random.uniform(-jitter, jitter) if jitter else 0)
            out.append((due + max(delay, 0) / 1000.0, data))
        return out


class Bandwidth(Toxic):
    """``rate`` in KB/s (1 KB = 1000 bytes); 0 means no limit."""

    type = "bandwidth"
    defaults = {"rate": 0}

    def new_state(self) -> Any:
        return [0.0]  # when the link is free again

    def on_data(self, state: Any, items: list[Item]) -> list[Item]:
        rate = self.attributes["rate"] * 1000.0
        if rate <= 0:
            return items
        piece = max(1, int(rate / 10))  # 100 ms worth, so that pacing is smooth
        out = []
        for due, data in items:
            if not isinstance(data, bytes):
                out.append((max(due, state[0]), data))
                continue
            for start in range(0, len(data), piece):
                chunk = data[start:start + piece]
                when = max(due, state[0])
                out.append((when, chunk))
                state[0] = when + len(chunk) / rate
        return out


class Slicer(Toxic):
    """Cut data into pieces of ``average_size`` ± ``size_variation`` bytes,
    ``delay`` microseconds apart."""

    type = "slicer"
    defaults = {"average_size": 0, "size_variation": 0, "delay": 0}

    def on_data(self, state: Any, items: list[Item]) -> list[Item]:
        average, variation = self.attributes["average_size"], self.attributes["size_variation"]
        if average <= 0:
            return items
        delay = self.attributes["delay"] / 1e6
        out: list[Item] = []
        for due, data in items:
            if not isinstance(data, bytes):
                out.append((due, data))
                continue
            pos = 0
            while pos < len(data):
                size = max(1, average + (random.randint(-variation, variation) if variation else 0))
                out.append((due, data[pos:pos + size]))
                pos += size
                due += delay
        return out


class LimitData(Toxic):
    """Close the connection once ``bytes`` bytes went through this direction."""

    type = "limit_data"
    defaults = {"bytes": 0}

    def new_state(self) -> Any:
        return [0, False]  # bytes passed, closed

    def on_data(self, state: Any, items: list[Item]) -> list[Item]:
        limit = self.attributes["bytes"]
        out: list[Item] = []
        for due, data in items:
            if state[1]:
                break
            if isinstance(data, bytes):
                room = limit - state[0]
                if len(data) >= room:
                    if room > 0:
                        out.append((due, data[:room]))
                    state[0] = limit
                    state[1] = True
                    out.append((due, CLOSE))
                    break
                state[0] += len(data)
            out.append((due, data))
        return out


class Timeout(Toxic):
    """A black hole: data is swallowed; after ``timeout`` ms (if not 0) the
    connection is closed."""

    type = "timeout"
    defaults = {"timeout": 0}

    def on_data(self, state: Any, items: list[Item]) -> list[Item]:
        return [(due, data) for due, data in items if data is EOF]

    def attach(self, state: Any, direction: Direction) -> None:
        if self.attributes["timeout"] > 0:
            direction.arm(self, self.attributes["timeout"] / 1000.0, reset=False)

    def detach(self, state: Any, direction: Direction) -> None:
        direction.disarm(self)


class ResetPeer(Toxic):
    """Reset the connection (TCP RST) after ``timeout`` ms, at once if 0."""

    type = "reset_peer"
    defaults = {"timeout": 0}

    def attach(self, state: Any, direction: Direction) -> None:
        direction.arm(self, self.attributes["timeout"] / 1000.0, reset=True)

    def detach(self, state: Any, direction: Direction) -> None:
        direction.disarm(self)


class SlowClose(Toxic):
    """Delay the close of the connection by ``delay`` ms."""

    type = "slow_close"
    defaults = {"delay": 0}

    @property
    def close_delay(self) -> float:
        return self.attributes["delay"] / 1000.0


TOXIC_TYPES: dict[str, type[Toxic]] = {
    cls.type: cls for cls in (Latency, Bandwidth, Slicer, LimitData, Timeout, ResetPeer, SlowClose)
}


def make_toxic(body: Any, types: dict[str, type[Toxic]] = TOXIC_TYPES) -> Toxic:
    """Build a toxic from a Toxiproxy create body; defaults as Toxiproxy's."""
    if not isinstance(body, dict):
        raise ToxicError("toxic must be a JSON object")
    kind = body.get("type")
    if kind not in types:
        raise ToxicError(f"unknown toxic type {kind!r}: use one of {', '.join(types)}")
    stream = body.get("stream") or "downstream"
    if stream not in STREAMS:
        raise ToxicError(f"stream must be upstream or downstream, got {stream!r}")
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise ToxicError("toxic name must be a string")
    toxicity = body.get("toxicity")
    return types[kind](name, stream, 1.0 if toxicity is None else toxicity,
                             body.get("attributes") or {})
