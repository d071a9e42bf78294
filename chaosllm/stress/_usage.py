"""What a stress-ng run really took: CPU time and peak memory of its workers.

A run may be stopped by ``stop_stress``, by its detached healer or by its own
timeout; whoever stops it keeps the outcome in ``$CHAOSLLM_STATE_DIR``, so
that ``stop_stress`` reports it even when the run had already ended.

The CPU time comes from stress-ng itself (``--times`` prints the user and
system time of all its workers when the run ends, whether it ran out or was
stopped) and the peak memory from ``/proc/<pid>/status`` (``VmHWM``) of the
run's process group, read just before it is stopped.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chaosllm.faults.effects import ended, with_effect
from chaosllm.faults.ledger import state_dir

_TIMES = re.compile(r"\[(\d+)\]\s+([\d.]+)s (user|system|total) time")
_RUN = re.compile(r"\[(\d+)\] for a ([\d.]+)s run time")


def group_peak_rss(leader: int) -> dict[str, int]:
    """Peak resident memory (bytes) summed over the processes of ``leader``'s group."""
    peak, workers = 0, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != leader:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, ProcessLookupError):
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if match:
            peak += int(match.group(1)) * 1024
            workers += 1
    return {"peak_rss_bytes": peak, "processes": workers}


def logged_times(log: str | None, pid: int) -> dict[str, float] | None:
    """The CPU times stress-ng printed for run ``pid`` at its end, if it printed them."""
    if not log:
        return None
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return None
    times: dict[str, float] = {}
    for found_pid, seconds, kind in _TIMES.findall(text):
        if int(found_pid) == pid:
            times[f"cpu_{kind}_seconds"] = float(seconds)
    for found_pid, seconds in _RUN.findall(text):
        if int(found_pid) == pid:
            times["run_seconds"] = float(seconds)
    return times or None


def stress_effect(kind: str, spec: dict[str, Any], usage: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(effect, evidence)`` of one run from what it took."""
    evidence: dict[str, Any] = {key: usage[key] for key in ("pid", "cpu_total_seconds", "cpu_user_seconds",
                                            "cpu_system_seconds", "run_seconds",
                                            "peak_rss_bytes", "processes") if key in usage}
    if kind == "memory":
        if "peak_rss_bytes" not in usage:
            evidence["reason"] = "the run had ended before it was stopped: its memory was not read"
            return "unknown", evidence
        evidence["requested_bytes"] = spec.get("bytes")
        # Half the requested size resident counts as held: the kernel may reclaim some.
        bit = usage["peak_rss_bytes"] >= 0.5 * float(spec.get("bytes") or 0)
        return ("observed" if bit else "none"), evidence
    if "cpu_total_seconds" not in usage:
        evidence["reason"] = "stress-ng printed no CPU times for this run"
        return "unknown", evidence
    if usage.get("run_seconds"):
        evidence["cores_used"] = round(usage["cpu_total_seconds"] / usage["run_seconds"], 3)
    return ("observed" if usage["cpu_total_seconds"] > 0 else "none"), evidence


def _outcomes_dir() -> Path:
    return state_dir() / "stress-outcomes"


def keep_outcome(outcome: dict[str, Any]) -> None:
    folder = _outcomes_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(outcome.get("name")))
    (folder / f"{name}-{outcome['usage']['pid']}.json").write_text(json.dumps(outcome))


def take_outcomes(name: str | None, pid: int | None) -> list[dict[str, Any]]:
    """The kept outcomes of the runs ``stop_stress`` was asked about; each is reported once."""
    taken = []
    folder = _outcomes_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            outcome = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (name is None or outcome.get("name") == name) and (
                pid is None or outcome["usage"]["pid"] == pid):
            taken.append(outcome)
            path.unlink(missing_ok=True)
    return taken


def outcome_result(outcome: dict[str, Any]) -> dict[str, Any]:
    """One stopped run as a rollback reports it: its effect and when it really ended."""
    kind = str(outcome.get("kind"))
    effect, evidence = stress_effect(kind, outcome.get("spec") or {}, outcome["usage"])
    result = with_effect({}, effect, evidence, evidence.pop("reason", None))
    ended_at = outcome.get("ended_at")
    run = outcome["usage"].get("run_seconds")
    if not outcome.get("stopped") and run and outcome.get("created_at"):
        # It ran out before it was stopped: it ended when its run time did.
        ended_at = (datetime.fromisoformat(outcome["created_at"]) + timedelta(seconds=run)).isoformat(
            timespec="milliseconds")
    return ended(result, f"stress-{kind}", str(outcome.get("name")), bool(outcome.get("stopped")),
                 ended_at)


def stress_outcome(result: dict[str, Any], name: str | None, pid: int | None) -> dict[str, Any]:
    """``stop_stress``' result: ``faults``, one entry per run it reports; with one run,
    that run's effect, name and end are also the result's own."""
    faults = [outcome_result(outcome) for outcome in take_outcomes(name, pid)]
    result["faults"] = faults
    if len(faults) == 1:
        removed = result["removed"]
        result.update(faults[0])
        result["removed"] = removed
    elif not faults:
        with_effect(result, "unknown", {}, "no stress run of chaosllm was left to stop or measure")
    return result
