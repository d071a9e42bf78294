"""Load runs: starting and stopping the load generator, where its results live,
and the statistics probes compute from them.

A run named ``load`` writes ``<run dir>/load/load.jsonl`` (one line per
finished request, see :mod:`chaosllm.sandbox.app.loadgen`), its start time to
``load.start`` and its PID to ``load.pid``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chaosllm.errors import InvalidArgument, TargetNotFound
from chaosllm.faults import parse_duration
from chaosllm.sandbox.app import launcher

__all__ = ["start", "stop", "results_path", "pid_path", "read_results", "summarise", "quantile",
           "throughput", "degradation", "check_name", "started_at", "since", "accepted_orders"]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgument(f"load name {name!r} must be letters, digits, '-' or '_'")
    return name


def results_path(directory: Path, name: str) -> Path:
    return directory / "load" / f"{check_name(name)}.jsonl"


def pid_path(directory: Path, name: str) -> Path:
    return directory / "load" / f"{check_name(name)}.pid"


def start(directory: Path, name: str, url: str, rate: float, seconds: float, target: str,
          mix: str | None = None, max_requests: int | None = None) -> int:
    """Start load run ``name`` against ``url`` (its results start empty); its PID."""
    out = results_path(directory, name)
    out.parent.mkdir(exist_ok=True)
    out.write_text("")
    out.with_suffix(".start").write_text(f"{time.time():.3f}\n")
    cmd = [sys.executable, "-m", "chaosllm.sandbox.app.loadgen", "--url", url,
           "--out", str(out), "--rate", str(rate), "--duration", str(seconds),
           "--target", target]  # fmt: skip
    if mix:
        cmd += ["--mix", mix]
    if max_requests:
        cmd += ["--max-requests", str(int(max_requests))]
    proc = launcher.spawn(cmd, out.with_suffix(".log"))
    pid_path(directory, name).write_text(f"{proc.pid}\n")
    return int(proc.pid)


def stop(directory: Path, name: str) -> bool:
    """Stop load run ``name``, letting requests in flight finish; false when it had ended."""
    pidfile = pid_path(directory, name)
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text())
    stopped = False
    if launcher.alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while launcher.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        launcher.stop_pid(pid, 0.5)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        stopped = True
    pidfile.unlink()
    return stopped


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


def throughput(rows: list[dict[str, Any]], seconds: float) -> float:
    """Successful requests per second among ``rows``, the last ``seconds`` of a run."""
    # The last second's requests may still be in flight; leave it out.
    recent = [r for r in rows if r["t"] < time.time() - 1.0]
    return round(sum(1 for r in recent if r.get("ok")) / max(seconds - 1.0, 1.0), 2)


def degradation(rows: list[dict[str, Any]], q: float, baseline: str, window: str,
                floor: str) -> float | None:  # fmt: skip
    """Latency quantile ``q`` of the last ``window`` over that of the run's first
    ``baseline``, the baseline raised to at least ``floor``; None without both."""
    if not rows:
        return None
    start = min(r["t"] for r in rows)
    first = [float(r["lat"]) for r in rows if r["t"] < start + parse_duration(baseline)]
    recent_from = time.time() - parse_duration(window, "window")
    last = [float(r["lat"]) for r in rows if r["t"] >= recent_from]
    before, now = quantile(first, q), quantile(last, q)
    if before is None or now is None:
        return None
    return round(now / max(before, parse_duration(floor, "floor")), 3)


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


def answered_completions(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Request id -> the provider that answered, for each completion answered during a run."""
    return {str(r["request"]): str(r.get("provider")) for r in rows if r.get("request")}


def accepted_orders(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The order ids the gateway accepted (the broker confirmed them) during a run."""
    return [str(r["order"]) for r in rows if r.get("order")]
