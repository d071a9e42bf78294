"""Table locks that this process holds for ``lock_table`` and ``unlock_table``.

A lock is LOCK TABLE in a transaction left open on its own connection, so it
lives in the ``chaos`` process: a timer releases it when its duration ends,
and it goes with the session if the process dies. Held locks are kept by
fault id, so that ``unlock_table("orders")`` finds the lock that
``lock_table("public.orders")`` took.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chaosllm.errors import FaultFailed, InvalidArgument
from chaosllm.faults import format_duration, hold_fault, release_held
from chaosllm.postgres._catalog import Table
from chaosllm.postgres._slots import close_quietly

LOCK_MODES = (
    "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
    "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE",
)  # fmt: skip
LOCK_APPLICATION = "chaosllm-lock"
# How long lock_table waits for a conflicting lock before giving up.
LOCK_WAIT = 5.0

_locks: dict[str, dict[str, str]] = {}


def lock_mode(mode: str) -> str:
    """``mode`` as PostgreSQL spells it ("access_exclusive" -> "ACCESS EXCLUSIVE")."""
    normal = " ".join(str(mode).replace("_", " ").upper().split())
    if normal not in LOCK_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(LOCK_MODES)}, got {mode!r}")
    return normal


def lock_id(target: str, table: Table) -> str:
    return f"postgres-lock@{target}:{table.qualified}"


def take_lock(conn: Any, table: Table, mode: str, failure: str) -> None:
    """LOCK TABLE in a transaction left open; fails after :data:`LOCK_WAIT` behind another lock.

    ``failure`` starts the error message ("could not lock table t on db").
    """
    from psycopg import errors as pgerrors
    from psycopg import sql

    conn.autocommit = False
    conn.execute("select set_config('lock_timeout', %s, true), "
                 "set_config('idle_in_transaction_session_timeout', '0', true)",
                 (f"{int(LOCK_WAIT * 1000)}ms",))
    try:
        conn.execute(sql.SQL("lock table {} in {} mode").format(table.identifier(), sql.SQL(mode)))
    except pgerrors.LockNotAvailable as exc:
        raise FaultFailed(
            f"{failure}: another session held a conflicting lock "
            f"for more than {format_duration(LOCK_WAIT)}"
        ) from exc


def hold_lock(
    fault_id: str, conn: Any, requested: str, table: Table, target: str, seconds: float
) -> bool:
    """Keep the locked connection until ``seconds`` pass or it is unlocked.

    False (and the connection closed) when another call holds this lock already.
    """

    def release() -> None:
        _locks.pop(fault_id, None)
        with contextlib.suppress(Exception):
            conn.rollback()
        close_quietly(conn)

    info = {"target": target, "requested": requested, "qualified": table.qualified, "name": table.name}
    _locks.setdefault(fault_id, info)  # a lock taken meanwhile by another thread keeps its entry
    if hold_fault(fault_id, release, seconds):
        return True
    if _locks.get(fault_id) is info:
        _locks.pop(fault_id, None)
    close_quietly(conn)
    return False


def release_locks(target: str, table: str) -> list[str]:
    """Release the held locks on ``table`` (as requested, qualified or bare) at ``target``."""
    wanted = table.strip().lower()
    released = []
    for fault_id, lock in list(_locks.items()):
        names = {lock["requested"].lower(), lock["qualified"].lower(), lock["name"].lower()}
        if lock["target"] == target and wanted in names and release_held(fault_id):
            released.append(lock["qualified"])
    return released
