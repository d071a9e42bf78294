"""Process checks shared by the tests."""

from __future__ import annotations

import time
from pathlib import Path


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited and been reaped (no zombie left in /proc)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
