"""The detached healer's body: ``python -m chaosllm.faults heal ref:SHA SECONDS LEDGER``.

It finds its entry in the ledger by the SHA-256 of its id (an older healer
gives the id itself), waits until the entry's deadline, then restores it,
retrying while the target is down. It leaves early when the entry is gone
(rolled back, or cleaned up). :mod:`chaosllm.faults.healer` starts and stops it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.faults.healer import entry_ref
from chaosllm.faults.ledger import Ledger, restore_fault

# How the healer retries a restore that fails: first after 0.2 s, doubling up
# to every 30 s, for a day.
HEAL_FIRST_RETRY = 0.2
HEAL_MAX_RETRY = 30.0
HEAL_GIVE_UP = 86400.0


def find_entry(ledger: Ledger, ref: str) -> tuple[str, dict[str, Any]] | None:
    """The id and entry that ``ref`` (``ref:SHA``, or an id) names; None when it is gone."""
    entries = ledger.entries()
    if not ref.startswith("ref:"):
        return (ref, entries[ref]) if ref in entries else None
    for entry_id, entry in entries.items():
        if entry_ref(entry_id) == ref:
            return entry_id, entry
    return None


def heal(ref: str, duration: float, ledger_path: str) -> None:
    """Restore the entry ``ref`` names when it is due; give up only after a day of failures."""
    ledger = Ledger(Path(ledger_path))
    entry_id: str | None = None
    entry: dict[str, Any] = {}
    with contextlib.suppress(ConfigurationError):
        found = find_entry(ledger, ref)
        if found is None:
            return
        entry_id, entry = found
    deadline = (entry if isinstance(entry, dict) else {}).get("deadline") or time.time() + duration
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        time.sleep(min(remaining, 1.0))
        with contextlib.suppress(ConfigurationError):  # unreadable for now: keep waiting
            found = find_entry(ledger, ref)
            if found is None:
                return
            entry_id = found[0]
    # The target may be down when the fault ends (a restarted database, say):
    # keep trying, backing off, for as long as the entry is there to restore.
    give_up = time.time() + HEAL_GIVE_UP
    delay = HEAL_FIRST_RETRY
    while True:
        try:
            if entry_id is None:  # the ledger has not been readable so far
                found = find_entry(ledger, ref)
                if found is None:
                    return
                entry_id = found[0]
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
