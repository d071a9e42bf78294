"""The fault handle every fault action returns, and the timestamps in it.

A handle is ``kind, name, target, spec, started_at, expires_at``; the report
recognises one in a journal by :data:`chaosllm.journal_keys.FAULT_HANDLE_KEYS`,
so that both sides share one definition.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from chaosllm.journal_keys import FAULT_HANDLE_KEYS

__all__ = ["fault_handle", "utcnow_iso"]


def utcnow_iso(offset: float = 0.0) -> str:
    """Now plus ``offset`` seconds, in UTC, ISO 8601 to the millisecond."""
    return datetime.fromtimestamp(time.time() + offset, tz=timezone.utc).isoformat(
        timespec="milliseconds"
    )


def fault_handle(
    kind: str, name: str, target: str, spec: dict[str, Any], duration: float | None
) -> dict[str, Any]:
    """The JSON-serialisable handle every fault action returns."""
    handle = {
        "kind": kind,
        "name": name,
        "target": target,
        "spec": spec,
        "started_at": utcnow_iso(),
        "expires_at": utcnow_iso(duration) if duration is not None else None,
    }
    assert FAULT_HANDLE_KEYS <= handle.keys()  # what chaosllm.report reads a handle by
    return handle
