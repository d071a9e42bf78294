"""The detached healer process: how it is started, recognised and stopped.

A healer restores one ledger entry when its duration ends, even when the
``chaos`` process that recorded it was killed. It runs as
``python -m chaosllm.faults heal ref:SHA SECONDS LEDGER`` (its body is
``chaosllm/faults/__main__.py``). Its command line, which anyone on the
machine can read in ``ps``, names the entry only by ``ref:`` and a SHA-256 of
its id: what the healer needs to restore the fault (connection URLs and their
credentials among them) it reads from the ledger, a file private to its user
(mode 0600). A healer started by an older version, with the entry id itself
as its second word, is still recognised and stopped. This module knows
processes only, not the ledger.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["HEALER_MODULE", "entry_ref", "spawn_healer", "is_healer", "stop_healer"]

# The module the healer runs as; also how a healer's command line is recognised.
HEALER_MODULE = "chaosllm.faults"
# How long stopping a healer waits for it to exit after SIGTERM.
STOP_WAIT = 2.0


def entry_ref(entry_id: str) -> str:
    """How a healer's command line names a ledger entry: ``ref:`` and a SHA-256 of its id."""
    return "ref:" + hashlib.sha256(entry_id.encode()).hexdigest()


def spawn_healer(entry_id: str, duration: float, ledger_path: Path) -> int:
    """Start a detached healer for ``entry_id``, due in ``duration`` seconds; its pid."""
    ref = entry_ref(entry_id)
    proc = subprocess.Popen(
        [sys.executable, "-m", HEALER_MODULE, "heal", ref, str(duration), str(ledger_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    # Reap it when it exits before this process does, so that it leaves no zombie.
    threading.Thread(target=proc.wait, name=f"reap-healer-{proc.pid}", daemon=True).start()
    return proc.pid


def is_healer(pid: int, entry_id: str) -> bool:
    """Whether ``pid`` is a running healer of ``entry_id`` (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    names = (entry_ref(entry_id).encode(), entry_id.encode())  # this version's, an older one's
    return HEALER_MODULE.encode() in cmdline and any(name in cmdline for name in names)


def stop_healer(entry_id: str, entry: dict[str, Any]) -> None:
    """Stop the healer a ledger entry names, if it is still running."""
    pid = entry.get("healer_pid")
    if isinstance(pid, int) and pid > 0 and pid != os.getpid() and is_healer(pid, entry_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        # Reap it when it is our own child, so that no zombie is left behind.
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
        # The reaper thread may be the one that reaps it: wait until it is gone, so
        # that a rollback returns with nothing of the fault left running.
        deadline = time.monotonic() + STOP_WAIT
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
