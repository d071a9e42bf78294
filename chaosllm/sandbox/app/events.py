"""The supervisor's event log, and what the probes compute from it.

The supervisor appends one JSON object a line to ``<run dir>/events.jsonl``:
``{"t": epoch, "event": kind, ...}`` where kind is ``replica_exited``,
``replica_ready``, ``cpu_pressure`` (with ``since``), ``scale_up``,
``scale_up_blocked`` or ``scale_down``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["EVENTS_FILE", "read_events", "count", "longest_recovery", "scale_out_delay"]

EVENTS_FILE = "events.jsonl"


def read_events(directory: Path, start: float = 0.0) -> list[dict[str, Any]]:
    """Events at or after epoch ``start``, oldest first; none before the supervisor wrote any."""
    path = directory / EVENTS_FILE
    if not path.exists():
        return []
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in events if e["t"] >= start]


def count(events: list[dict[str, Any]], kind: str) -> int:
    return sum(1 for e in events if e["event"] == kind)


def longest_recovery(events: list[dict[str, Any]]) -> float:
    """Longest time from a replica's exit to its replacement being ready; a
    replica not ready yet counts the time since its exit."""
    pending: dict[int, float] = {}
    worst = 0.0
    for event in events:
        if event["event"] == "replica_exited":
            pending.setdefault(event["replica"], event["t"])
        elif event["event"] == "replica_ready" and event["replica"] in pending:
            worst = max(worst, event["t"] - pending.pop(event["replica"]))
    for exited_at in pending.values():
        worst = max(worst, time.time() - exited_at)
    return round(worst, 3)


def scale_out_delay(events: list[dict[str, Any]]) -> float | None:
    """Seconds from the first sustained CPU pressure to the next scale-up: 0
    without pressure or at the maximum of replicas, None with no answer."""
    pressure = next((e for e in events if e["event"] == "cpu_pressure"), None)
    if pressure is None:
        return 0.0
    since = float(pressure["since"])
    answer = next((e for e in events if e["event"] in ("scale_up", "scale_up_blocked")
                   and e["t"] >= since), None)  # fmt: skip
    if answer is None:
        return None
    # Already at the maximum: the autoscaler had scaled out before this pressure.
    return 0.0 if answer["event"] == "scale_up_blocked" else round(answer["t"] - since, 3)
