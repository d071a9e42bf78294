"""Find the processes a fault targets, by command line or pidfile.

Matching reads ``/proc/<pid>/cmdline`` (arguments joined by spaces) with a
regular expression; nothing shells out to ``pgrep``. PID 1, this process, its
ancestors and chaosllm's own healers are never targets.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from chaosllm.errors import InvalidArgument
from chaosllm.redaction import redact_text

__all__ = ["Proc", "find", "describe", "read_proc", "protected_pids", "shown_cmdline"]

# Command lines often carry credentials (``--requirepass x``, ``amqp://u:pw@h``);
# what is shown in results, errors and the ledger has them masked: URLs and
# key=value pairs by the shared redaction, options given as separate words here.
_SECRET_OPTION = re.compile(
    r"((?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|auth)[\w.-]*(?:=|\s+))(?!-)\S+", re.I
)


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int  # start time in clock ticks: tells a reused PID apart
    state: str
    cmdline: str


def read_proc(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in stat may contain spaces and parentheses: split after it.
    fields = stat[stat.rfind(")") + 2:].split()
    cmdline = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    return Proc(pid, int(fields[19]), fields[0], cmdline)


def protected_pids() -> set[int]:
    """PID 1, this process and every ancestor of it."""
    protected = {1, os.getpid()}
    pid = os.getpid()
    while pid > 1:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        match = re.search(r"^PPid:\s+(\d+)", status, re.M)
        pid = int(match.group(1)) if match else 0
        protected.add(pid)
    return protected


def shown_cmdline(proc: Proc, limit: int = 200) -> str:
    """The command line to show, credentials masked, at most ``limit`` characters."""
    text = redact_text(proc.cmdline)
    return _SECRET_OPTION.sub(r"\1***", text)[:limit]


def describe(pattern: str | None, pidfile: str | None) -> str:
    return f"pattern {pattern!r}" if pattern is not None else f"pidfile {pidfile}"


def _check(pattern: str | None, pidfile: str | None) -> re.Pattern[str] | None:
    if (pattern is None) == (pidfile is None):
        raise InvalidArgument("give exactly one of pattern or pidfile")
    if pattern is None:
        return None
    if not str(pattern).strip():
        raise InvalidArgument("pattern must not be empty: it would match every process")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidArgument(f"pattern {pattern!r} is not a regular expression: {exc}") from None


def _pidfile_pid(pidfile: str) -> int | None:
    try:
        text = Path(pidfile).read_text().split()
    except OSError:
        return None
    if not text or not text[0].isdigit():
        raise InvalidArgument(f"pidfile {pidfile} does not start with a PID")
    return int(text[0])


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def find(pattern: str | None, pidfile: str | None, state: str | None = None) -> list[Proc]:
    """Matching processes, oldest PID first, protected ones left out.

    A pattern matches only processes of the user running chaosllm; another
    user's process is targeted by naming its pidfile. Raises
    :class:`InvalidArgument` for bad selectors, or when a pidfile names a
    protected process.
    """
    regex = _check(pattern, pidfile)
    protected = protected_pids()
    if pidfile is not None:
        pid = _pidfile_pid(pidfile)
        if pid is None:
            return []
        if pid in protected:
            raise InvalidArgument(
                f"pidfile {pidfile} names PID {pid}, which is PID 1, this process or one "
                f"of its ancestors: refusing to target it"
            )
        pids = [pid]
    else:
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    found = []
    for pid in pids:
        if pid in protected:
            continue
        proc = read_proc(pid)
        if proc is None or proc.state in ("Z", "X") or not proc.cmdline:
            continue
        if "chaosllm.faults heal" in proc.cmdline:
            continue
        if regex is not None and not regex.search(proc.cmdline):
            continue
        if pidfile is None and _owner(pid) != os.geteuid():
            continue
        if state is not None and proc.state != state:
            continue
        found.append(proc)
    return found
