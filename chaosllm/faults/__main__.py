"""The detached healer's body: ``python -m chaosllm.faults heal ID SECONDS LEDGER``.

It waits until the entry's deadline, then restores it, retrying while the
target is down. It leaves early when the entry is gone (rolled back, or
cleaned up). :mod:`chaosllm.faults.healer` starts and stops it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.faults.ledger import Ledger, restore_fault

# How the healer retries a restore that fails: first after 0.2 s, doubling up
# to every 30 s, for a day.
HEAL_FIRST_RETRY = 0.2
HEAL_MAX_RETRY = 30.0
HEAL_GIVE_UP = 86400.0


def heal(entry_id: str, duration: float, ledger_path: str) -> None:
    """Restore ``entry_id`` when it is due; give up only after a day of failures."""
    ledger = Ledger(Path(ledger_path))
    entry: dict[str, Any] | None = {}
    with contextlib.suppress(ConfigurationError):
        entry = ledger.get(entry_id)
    deadline = (entry or {}).get("deadline") or time.time() + duration
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        time.sleep(min(remaining, 1.0))
        with contextlib.suppress(ConfigurationError):  # unreadable for now: keep waiting
            if ledger.get(entry_id) is None:
                return
    # The target may be down when the fault ends (a restarted database, say):
    # keep trying, backing off, for as long as the entry is there to restore.
    give_up = time.time() + HEAL_GIVE_UP
    delay = HEAL_FIRST_RETRY
    while True:
        try:
            restore_fault(entry_id, ledger)
            return
        except Exception:
            if time.time() + delay > give_up:
                return  # left in the ledger for `chaosllm cleanup`
            time.sleep(delay)
            delay = min(delay * 2, HEAL_MAX_RETRY)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "heal":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        heal(sys.argv[2], float(sys.argv[3]), sys.argv[4])
