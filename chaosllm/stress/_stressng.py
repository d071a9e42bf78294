"""Start and stop stress-ng runs.

Every run is bounded twice: stress-ng's own ``--timeout`` ends it even if
nothing else does, and the fault ledger (with a detached healer) stops it by
PID at its deadline or on ``chaosllm cleanup``. A PID is signalled only if it
is still the stress-ng process that was started (same start time).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from typing import Any

from chaosllm.errors import FaultFailed, InvalidArgument
from chaosllm.faults import Ledger, fault_handle, record_fault, restore_fault, state_dir
from chaosllm.faults.effects import MEASURED_WHEN_REMOVED, unknown
from chaosllm.faults.halt import refuse_if_halted
from chaosllm.faults.handles import utcnow_iso
from chaosllm.process.procs import read_proc, shown_cmdline
from chaosllm.stress._usage import group_peak_rss, keep_outcome, logged_times

__all__ = ["parse_size", "start", "stop_pid", "ENTRY_PREFIX"]

ENTRY_PREFIX = "stress:"
# How long a new run is watched for an exit on bad arguments before it counts as started.
EARLY_EXIT_WINDOW = 0.2
_UNITS = {"": 1, "b": 1}
for _power, _letter in enumerate("kmgt", start=1):
    _UNITS.update(dict.fromkeys((_letter, _letter + "b", _letter + "ib"), 1024**_power))


def parse_size(value: str | int, what: str = "size") -> int:
    """``"256M"`` -> 268435456. Sizes are absolute: percentages are refused."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a size such as '256M', got {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise InvalidArgument(
                f"{what} must be an absolute size such as '256M' or '1G', got {value!r}"
            )
        size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise InvalidArgument(f"{what} must be positive, got {value!r}")
    return size


def _binary() -> str:
    found = shutil.which("stress-ng")
    if not found:
        raise FaultFailed("could not start stress: stress-ng is not installed")
    return found


def _reap(proc: subprocess.Popen[bytes]) -> None:
    # Wait in the background so that a finished run leaves no zombie behind.
    threading.Thread(target=proc.wait, daemon=True).start()


def _alive(pid: int, start_ticks: int) -> bool:
    proc = read_proc(pid)
    return proc is not None and proc.start == start_ticks and proc.state not in ("Z", "X")


def start(kind: str, name: str, args: list[str], seconds: float, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``stress-ng ARGS --timeout`` detached; returns the fault handle.

    A run of the same ``name`` that is still going is returned as it is,
    not stacked.
    """
    entry_id = ENTRY_PREFIX + name
    refuse_if_halted(f"stress-ng run {name!r}")  # before the process starts, not at its record
    ledger = Ledger()
    existing = ledger.get(entry_id)
    if existing is not None:
        state = existing["state"]
        if _alive(state["pid"], state["start"]):
            return fault_handle(f"stress-{kind}", name, "localhost",
                                {**state["spec"], "pid": state["pid"], "already_present": True},
                                max(0.0, (existing.get("deadline") or time.time()) - time.time()))
        restore_fault(entry_id, ledger)
    timeout = max(1, math.ceil(seconds))
    # --times: stress-ng prints the CPU time its workers took when the run ends.
    cmd = [_binary(), *args, "--timeout", f"{timeout}s", "--times"]
    log = state_dir() / f"stress-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    info = None
    for _ in range(100):
        info = read_proc(proc.pid)
        if info is None or "stress-ng" in info.cmdline:
            break
        time.sleep(0.01)  # until exec has replaced the forked child
    # stress-ng checks its arguments right after it starts: give it that moment,
    # before the reaper thread takes over waiting for it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(EARLY_EXIT_WINDOW)
    if info is None or proc.poll() is not None:
        raise FaultFailed(f"could not start stress-ng {' '.join(args)}: it exited at once "
                          f"(see {log})")
    _reap(proc)
    state = {"pid": proc.pid, "start": info.start, "spec": spec, "command": cmd,
             "kind": kind, "log": str(log), "name": name}
    record_fault(entry_id, "stress.run", state, seconds,
                 f"stress-ng {kind} PID {proc.pid}")
    handle = fault_handle(f"stress-{kind}", name, "localhost", {**spec, "pid": proc.pid}, seconds)
    return unknown(handle, MEASURED_WHEN_REMOVED)


def stop_pid(pid: int, start_ticks: int | None = None, grace: float = 3.0) -> bool:
    """Stop the stress-ng run whose leader is ``pid`` (and its workers).

    Returns False when it is no longer running. Refuses a PID that is not
    stress-ng."""
    proc = read_proc(pid)
    if proc is None or proc.state in ("Z", "X"):
        return False
    if start_ticks is not None and proc.start != start_ticks:
        return False
    if "stress-ng" not in proc.cmdline:
        raise InvalidArgument(f"PID {pid} is not a stress-ng process ({shown_cmdline(proc, 60)!r})")
    # The run has its own session, so its process group holds exactly the
    # leader and its workers.
    try:
        target_group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
    with contextlib.suppress(ProcessLookupError):
        if target_group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        current = read_proc(pid)
        if current is None or current.state in ("Z", "X") or current.start != proc.start:
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            if target_group:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
    return True


def _stop_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The ledger's restorer: stop the run, and say what it took (``stopped`` False: it had ended)."""
    state = entry["state"]
    usage: dict[str, Any] = {"pid": state["pid"]}
    if _alive(state["pid"], state["start"]):
        usage.update(group_peak_rss(state["pid"]))
    stopped = stop_pid(state["pid"], state["start"])
    usage.update(logged_times(state.get("log"), state["pid"]) or {})
    outcome = {"stopped": stopped, "usage": usage, "name": state.get("name"),
               "kind": state.get("kind"), "spec": state["spec"],
               "created_at": entry.get("created_at"), "ended_at": utcnow_iso()}
    keep_outcome(outcome)
    return outcome
