"""Faults that live in this process: held connections, held locks, a client pause.

They die with the process, so they need no ledger; a timer releases each when
its duration ends. Registering the same id twice does not stack the fault.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["hold_fault", "release_held", "held_faults"]

_held: dict[str, tuple[Callable[[], Any], threading.Timer | None]] = {}
_held_lock = threading.Lock()


def hold_fault(entry_id: str, release: Callable[[], Any], duration: float | None) -> bool:
    """Register an in-process fault and release it after ``duration`` seconds.

    Returns False (and registers nothing) when ``entry_id`` is already held,
    so that a second injection does not stack.
    """
    with _held_lock:
        if entry_id in _held:
            return False
        timer = None
        if duration is not None:
            timer = threading.Timer(duration, release_held, args=(entry_id,))
            timer.daemon = True
        _held[entry_id] = (release, timer)
    if timer is not None:
        timer.start()
    return True


def release_held(entry_id: str) -> bool:
    """Release an in-process fault now. False when it was not held (idempotent)."""
    with _held_lock:
        item = _held.pop(entry_id, None)
    if item is None:
        return False
    release, timer = item
    if timer is not None and timer is not threading.current_thread():
        timer.cancel()
    release()
    return True


def held_faults() -> list[str]:
    """The ids of the faults this process holds, sorted."""
    with _held_lock:
        return sorted(_held)
