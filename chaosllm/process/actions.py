"""Kill, suspend and resume local processes: the local analogue of Chaos
Mesh's pod-kill and pod-failure.

A suspension (SIGSTOP) is written to the fault ledger before it is applied,
and a detached healer sends SIGCONT when its duration ends, even if the
``chaos`` process was killed meanwhile; ``chaosllm cleanup`` resumes whatever
is left. A resumed PID is checked against its start time, so that a PID
reused by another process is never signalled.
"""

from __future__ import annotations

import os
import random
import signal as signals
from typing import Any

from chaosllm.arguments import strict
from chaosllm.dry_run import Planned
from chaosllm.errors import FaultFailed, InvalidArgument, TargetNotFound
from chaosllm.faults import Ledger, fault_handle, fault_lock, fault_seconds, record_fault, restore_fault
from chaosllm.faults.effects import counted, ended, measured
from chaosllm.process._effects import kill_effect, suspend_effect
from chaosllm.process._guard import before_fault
from chaosllm.process.procs import Proc, describe, find, read_proc, shown_cmdline

__all__ = ["kill_processes", "suspend_processes", "resume_processes"]

ROLLBACKS = {"suspend_processes": "resume_processes"}


# Signals that stop a process rather than end it: a stop needs a recorded,
# bounded suspension (suspend_processes), never a bare signal.
STOP_SIGNALS = frozenset((signals.SIGSTOP, signals.SIGTSTP, signals.SIGTTIN, signals.SIGTTOU))


def _signal_number(name: str) -> signals.Signals:
    text = name.strip().upper()
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        signum = signals.Signals[text]
    except KeyError:
        raise InvalidArgument(
            f"signal must be a name such as SIGKILL or SIGTERM, got {name!r}"
        ) from None
    if signum in STOP_SIGNALS:
        raise InvalidArgument(
            f"kill_processes refuses {signum.name}: it stops the process until something resumes "
            "it; use suspend_processes, which records the suspension and resumes it after its duration"
        )
    return signum


def _check_count(count: int | None) -> None:
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise InvalidArgument(f"count must be a positive integer or null (all), got {count!r}")


def _choose(pattern: str | None, pidfile: str | None, count: int | None, what: str) -> list[Proc]:
    _check_count(count)
    found = find(pattern, pidfile)
    if not found:
        raise TargetNotFound(f"could not {what}: no process matches {describe(pattern, pidfile)}")
    if count is not None and count < len(found):
        found = sorted(random.sample(found, count), key=lambda p: p.pid)
    return found


def _send(proc: Proc, signum: signals.Signals, what: str) -> bool:
    """Signal ``proc`` if it is still the process we found; False if gone."""
    current = read_proc(proc.pid)
    if current is None or current.start != proc.start:
        return False
    try:
        os.kill(proc.pid, signum)
    except ProcessLookupError:
        return False
    except PermissionError as exc:
        raise FaultFailed(f"could not {what} PID {proc.pid} ({shown_cmdline(proc, 60)}): {exc}") from exc
    return True


@strict
def kill_processes(
    pattern: str | None = None,
    pidfile: str | None = None,
    signal: str = "SIGKILL",
    count: int | None = 1,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send `signal` to `count` processes (chosen at random; null for all)
    whose command line matches the regular expression `pattern`, or to the
    PID in `pidfile`. A pattern matches only the processes of the user that
    runs chaos (name another user's process by its pidfile). PID 1, the
    caller and its ancestors are never targets.

    ```json
    {"type": "action", "name": "kill-a-gateway-replica",
     "provider": {"type": "python", "module": "chaosllm.process.actions",
                  "func": "kill_processes",
                  "arguments": {"pattern": "chaosllm.sandbox.app.gateway", "count": 1}}}
    ```
    """
    signum = _signal_number(signal)
    target = describe(pattern, pidfile)
    planned = Planned("process-kill", f"kill-{target}", target, {"signal": signum.name, "count": count})
    chosen, early = before_fault("kill_processes", planned, pattern,
                                 lambda: _choose(pattern, pidfile, count, f"send {signum.name}"),
                                 (configuration, secrets))  # fmt: skip
    if early is not None:
        return early
    started = fault_handle(planned.kind, planned.name, planned.target, planned.spec, 0.0)
    signalled = [p for p in chosen if _send(p, signum, f"send {signum.name} to")]
    result = {
        **started,
        "signal": signum.name,
        "target": describe(pattern, pidfile),
        "pids": [p.pid for p in signalled],
        "commands": [shown_cmdline(p) for p in signalled],
    }
    return measured(result, lambda: kill_effect(signalled, signum), "the signalled processes")


def _entry_id(pattern: str | None, pidfile: str | None) -> str:
    return f"process-suspend:{describe(pattern, pidfile)}"


def _resume_entry(entry: dict[str, Any]) -> list[int]:
    resumed = []
    for item in entry["state"]["processes"]:
        proc = Proc(item["pid"], item["start"], "T", item["cmdline"])
        if _send(proc, signals.SIGCONT, "resume"):
            resumed.append(proc.pid)
    return resumed


@strict
def suspend_processes(
    pattern: str | None = None,
    pidfile: str | None = None,
    count: int | None = 1,
    duration: str | None = "30s",
    name: str | None = None,
    allow_unbounded: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Freeze matching processes with SIGSTOP for `duration`, then SIGCONT.

    The process keeps its sockets open but answers nothing: the local
    analogue of a hung pod. The resume happens even if `chaos` is killed.
    Suspending the same target again while it is suspended does not stack.

    ```json
    {"type": "action", "name": "freeze-recommendations",
     "provider": {"type": "python", "module": "chaosllm.process.actions",
                  "func": "suspend_processes",
                  "arguments": {"pattern": "chaosllm.sandbox.app.recs", "duration": "20s"}}}
    ```
    """
    seconds = fault_seconds(duration, allow_unbounded, "suspension")
    target = describe(pattern, pidfile)
    planned = Planned("process-suspend", name or f"suspend-{target}", target,
                      {"count": count, "duration": duration})
    chosen, early = before_fault("suspend_processes", planned, pattern,
                                 lambda: _choose(pattern, pidfile, count, "suspend"),
                                 (configuration, secrets))  # fmt: skip
    if early is not None:
        return early
    entry_id = _entry_id(pattern, pidfile)
    state = {"processes": [{"pid": p.pid, "start": p.start, "cmdline": shown_cmdline(p)}
                           for p in chosen]}
    with fault_lock(entry_id):  # a resume in progress finishes first
        if not record_fault(entry_id, "process.suspension", state, seconds,
                            f"SIGSTOP {', '.join(str(p.pid) for p in chosen)} ({target})"):
            current = Ledger().get(entry_id) or {}
            pids = [p["pid"] for p in current.get("state", {}).get("processes", [])]
            handle = fault_handle("process-suspend", name or f"suspend-{target}", target,
                                  {"pids": pids, "already_present": True}, seconds)
            return measured(handle, lambda: suspend_effect(pids), "the suspended processes")
        try:
            stopped = [p.pid for p in chosen if _send(p, signals.SIGSTOP, "suspend")]
        except Exception:
            restore_fault(entry_id)
            raise
    handle = fault_handle("process-suspend", name or f"suspend-{target}", target,
                          {"pids": stopped, "duration": duration}, seconds)
    return measured(handle, lambda: suspend_effect(stopped), "the suspended processes")


@strict
def resume_processes(
    pattern: str | None = None,
    pidfile: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Resume (SIGCONT) what `suspend_processes` froze for the same target,
    and any other stopped process that matches. `removed: false` when
    nothing was suspended.

    ```json
    {"type": "action", "name": "thaw-recommendations",
     "provider": {"type": "python", "module": "chaosllm.process.actions",
                  "func": "resume_processes",
                  "arguments": {"pattern": "chaosllm.sandbox.app.recs"}}}
    ```
    """
    find(pattern, pidfile)  # validates the selector before anything changes
    result = restore_fault(_entry_id(pattern, pidfile))
    resumed = set(result.get("result") or [])
    for proc in find(pattern, pidfile, state="T"):
        if _send(proc, signals.SIGCONT, "resume"):
            resumed.add(proc.pid)
    out: dict[str, Any] = {"target": describe(pattern, pidfile), "pids": sorted(resumed)}
    if resumed:  # else its healer resumed it already: the action's effect stands
        counted(out, len(resumed), {"processes_resumed": len(resumed)})
    return ended(out, "process-suspend", f"suspend-{describe(pattern, pidfile)}", bool(resumed))
