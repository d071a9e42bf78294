"""What a toxic or a partition did to the traffic, counted by the proxy itself.

Every toxic carries a :class:`ToxicStats`: the connections it was applied to
(after the toxicity roll), the bytes that entered it, how long the chunks that
passed it were held between read and write, and the connections its timer
cut. A partition counts the connections it dropped. The API shows them as a
``stats`` field beside the toxic (Toxiproxy clients ignore it) and keeps the
final figures of a toxic after it is removed or expires, so that a rollback
that comes later can still read the totals of the whole window.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ToxicStats", "PartitionStats"]


class ToxicStats:
    """Counters of one toxic, updated on the event loop (no locking needed)."""

    __slots__ = ("connections", "bytes", "chunks_held", "held_total", "held_max", "cut")

    def __init__(self) -> None:
        self.connections = 0
        self.bytes = 0
        self.chunks_held = 0
        self.held_total = 0.0
        self.held_max = 0.0
        self.cut = 0

    def held(self, seconds: float) -> None:
        """A chunk that passed the toxic was written ``seconds`` after it was read."""
        self.chunks_held += 1
        self.held_total += seconds
        if seconds > self.held_max:
            self.held_max = seconds

    def to_json(self) -> dict[str, Any]:
        mean = self.held_total / self.chunks_held if self.chunks_held else 0.0
        return {
            "connections": self.connections,
            "bytes": self.bytes,
            "chunks": self.chunks_held,
            "held_mean_ms": round(mean * 1000.0, 3),
            "held_max_ms": round(self.held_max * 1000.0, 3),
            "connections_cut": self.cut,
        }


class PartitionStats:
    """One disable of a proxy: when, how many connections it dropped, and its end."""

    def __init__(self, connections_closed: int) -> None:
        self.disabled_at = time.time()
        self.connections_closed = connections_closed
        self.enabled_at: float | None = None
        self.expired = False

    def ended(self, expired: bool) -> None:
        if self.enabled_at is None:
            self.enabled_at = time.time()
            self.expired = expired

    def to_json(self) -> dict[str, Any]:
        return {
            "disabled_at": self.disabled_at,
            "connections_closed": self.connections_closed,
            "enabled_at": self.enabled_at,
            "expired": self.expired,
        }
