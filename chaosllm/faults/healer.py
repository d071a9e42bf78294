"""The detached healer process: how it is started, recognised and stopped.

A healer restores one ledger entry when its duration ends, even when the
``chaos`` process that recorded it was killed. It runs as
``python -m chaosllm.faults heal ID SECONDS LEDGER`` (its body is
``chaosllm/faults/__main__.py``); every version has used that command line,
so a healer started by an older version is still recognised and stopped.
This module knows processes only, not the ledger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["HEALER_MODULE", "spawn_healer", "is_healer", "stop_healer"]

# The module the healer runs as; also how a healer's command line is recognised.
HEALER_MODULE = "chaosllm.faults"
# How long stopping a healer waits for it to exit after SIGTERM.
STOP_WAIT = 2.0


def spawn_healer(entry_id: str, duration: float, ledger_path: Path) -> int:
    """Start a detached healer for ``entry_id``, due in ``duration`` seconds; its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", HEALER_MODULE, "heal", entry_id, str(duration), str(ledger_path)],
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
    return HEALER_MODULE.encode() in cmdline and entry_id.encode() in cmdline


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
