"""Load runs: where their results live, and the statistics probes compute.

A run named ``load`` writes ``<run dir>/load/load.jsonl`` (one line per
finished request, see :mod:`chaosllm.sandbox.loadgen`) and its PID to
``load.pid``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chaosllm.errors import InvalidArgument, TargetNotFound
from chaosllm.faults import parse_duration

__all__ = ["results_path", "pid_path", "read_results", "summarise", "quantile", "check_name",
           "started_at", "since"]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgument(f"load name {name!r} must be letters, digits, '-' or '_'")
    return name


def results_path(directory: Path, name: str) -> Path:
    return directory / "load" / f"{check_name(name)}.jsonl"


def pid_path(directory: Path, name: str) -> Path:
    return directory / "load" / f"{check_name(name)}.pid"


def started_at(directory: Path, name: str = "load") -> float | None:
    """When load run ``name`` started (the start of the current experiment), if known."""
    try:
        return float(results_path(directory, name).with_suffix(".start").read_text())
    except (OSError, ValueError):
        return None


def since(directory: Path, window: str | None) -> float:
    """The epoch a probe's ``window`` starts at: ``window`` ago, or, when it is
    null, the start of the current load run (else the beginning of time)."""
    if window:
        return time.time() - parse_duration(window, "window")
    return started_at(directory) or 0.0


def read_results(directory: Path, name: str, window: str | None = None,
                 ops: Iterable[str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Finished requests of run ``name``, those due in the last ``window`` only if given."""
    path = results_path(directory, name)
    if not path.exists():
        raise TargetNotFound(f"could not read load run {name!r}: no results at {path}")
    since = time.time() - parse_duration(window, "window") if window else 0.0
    wanted = set(ops) if ops else None
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line being written
        if row["t"] >= since and (wanted is None or row["op"] in wanted):
            rows.append(row)
    return rows


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile; None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [float(r["lat"]) for r in rows]
    failed = [r for r in rows if not r.get("ok")]
    by_op: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = by_op.setdefault(row["op"], {"requests": 0, "failed": 0})
        entry["requests"] += 1
        entry["failed"] += 0 if row.get("ok") else 1
    span = (max(r["t"] for r in rows) - min(r["t"] for r in rows)) if len(rows) > 1 else 0.0
    return {
        "requests": len(rows),
        "failed": len(failed),
        "error_ratio": (len(failed) / len(rows)) if rows else None,
        "throughput": round((len(rows) - len(failed)) / span, 2) if span else None,
        "p50": quantile(latencies, 0.5),
        "p95": quantile(latencies, 0.95),
        "p99": quantile(latencies, 0.99),
        "max": max(latencies) if latencies else None,
        "by_op": by_op,
        "errors": sorted({str(r.get("error", ""))[:120] for r in failed})[:5],
    }


def accepted_orders(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(r["order"]) for r in rows if r.get("order")]
