"""What a process fault did, read back from ``/proc`` after the signal.

A kill counts the processes signalled and, for a signal that ends a process
by default, those that really exited (a handler may catch SIGTERM); a
suspension counts the processes the kernel shows stopped.
"""

from __future__ import annotations

import signal as signals
import time
from typing import Any

from chaosllm.process.procs import Proc, read_proc

# Signals whose default action ends the process; others only count as sent.
_ENDING = {signals.SIGKILL, signals.SIGTERM, signals.SIGINT, signals.SIGQUIT, signals.SIGHUP,
           signals.SIGABRT, signals.SIGUSR1, signals.SIGUSR2}
EXIT_WAIT = 1.0


def _gone(proc: Proc) -> bool:
    now = read_proc(proc.pid)
    return now is None or now.start != proc.start or now.state in ("Z", "X")


def kill_effect(signalled: list[Proc], signum: signals.Signals) -> tuple[str, dict[str, Any]]:
    evidence: dict[str, Any] = {"processes_signalled": len(signalled),
                                "pids": [p.pid for p in signalled]}
    if not signalled:
        evidence["reason"] = "no matching process was signalled"
        return "none", evidence
    if signum not in _ENDING:
        return "observed", evidence
    deadline = time.monotonic() + EXIT_WAIT
    while not all(_gone(p) for p in signalled) and time.monotonic() < deadline:
        time.sleep(0.02)
    exited = sum(1 for p in signalled if _gone(p))
    evidence["processes_exited"] = exited
    if exited:
        return "observed", evidence
    evidence["reason"] = f"the signalled processes were still running {EXIT_WAIT:.0f} s after {signum.name}"
    return "none", evidence


def _stopped(pids: list[int]) -> list[int]:
    return [pid for pid in pids if (proc := read_proc(pid)) is not None and proc.state == "T"]


def suspend_effect(pids: list[int]) -> tuple[str, dict[str, Any]]:
    # SIGSTOP is delivered asynchronously: give the kernel a moment to show it.
    deadline = time.monotonic() + EXIT_WAIT
    while len(stopped := _stopped(pids)) < len(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    evidence: dict[str, Any] = {"processes_stopped": len(stopped), "pids": stopped}
    if stopped:
        return "observed", evidence
    evidence["reason"] = "no process was seen stopped"
    return "none", evidence
