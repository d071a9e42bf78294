"""Table locks that this process holds for ``lock_table`` and ``unlock_table``.

A lock is LOCK TABLE in a transaction left open on its own connection, so it
lives in the ``chaos`` process: a timer releases it when its duration ends,
and it goes with the session if the process dies. Held locks are kept by
fault id, so that ``unlock_table("orders")`` finds the lock that
``lock_table("public.orders")`` took.

PostgreSQL keeps no count of lock waits, so while a lock holds, a watch
(:mod:`chaosllm.faults.watch`) samples on its own connection the sessions
that ``pg_blocking_pids`` says the lock blocks: each session that starts
waiting is one lock wait. Its totals are the rollback's evidence.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from chaosllm.errors import FaultFailed, InvalidArgument
from chaosllm.faults import format_duration, hold_fault, release_held
from chaosllm.postgres._catalog import Table
from chaosllm.postgres._slots import close_quietly

WATCH_APPLICATION = "chaosllm-lock-watch"

LOCK_MODES = (
    "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
    "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE",
)  # fmt: skip
LOCK_APPLICATION = "chaosllm-lock"
# How long lock_table waits for a conflicting lock before giving up.
LOCK_WAIT = 5.0

_locks: dict[str, dict[str, str]] = {}
# Every lock taken in this process, by fault id: a rollback after the lock expired
# still finds its handle name and its watch.
_taken: dict[str, dict[str, str]] = {}


class LockWaits:
    """A watch sampler: the sessions waiting behind the backend that holds the lock."""

    def __init__(self, dsn: str, holder_pid: int, what: str) -> None:
        self.dsn, self.holder, self.what = dsn, holder_pid, what
        self.conn: Any = None
        self.waiting: dict[int, float] = {}
        self.waits = self.most = 0
        self.longest = 0.0
        self.last = time.monotonic()

    def open(self) -> None:
        from chaosllm._clients.postgres import open_connection

        self.conn = open_connection(f"watch lock waits on {self.what}", self.dsn,
                                    application_name=WATCH_APPLICATION)  # fmt: skip

    def sample(self) -> None:
        rows = self.conn.execute(
            "select pid from pg_stat_activity where %s = any(pg_blocking_pids(pid))", (self.holder,)
        ).fetchall()
        now = self.last = time.monotonic()
        current = {int(row[0]) for row in rows}
        for pid in current - self.waiting.keys():
            self.waits += 1
            self.waiting[pid] = now
        for pid in set(self.waiting) - current:
            self.longest = max(self.longest, now - self.waiting.pop(pid))
        self.most = max(self.most, len(current))

    def close(self) -> None:
        close_quietly(self.conn)

    def outcome(self) -> tuple[str, dict[str, Any]]:
        longest = max([self.longest, *(self.last - t for t in self.waiting.values())])
        evidence: dict[str, Any] = {"lock_waits": self.waits, "most_waiting_at_once": self.most,
                                    "longest_wait_seconds": round(longest, 2)}  # fmt: skip
        if self.waits:
            return "observed", evidence
        return "none", {**evidence, "reason": "no session waited for the lock while it held"}


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
    fault_id: str, conn: Any, requested: str, table: Table, target: str, seconds: float, handle: str
) -> bool:
    """Keep the locked connection until ``seconds`` pass or it is unlocked.

    False (and the connection closed) when another call holds this lock already.
    """

    def release() -> None:
        _locks.pop(fault_id, None)
        with contextlib.suppress(Exception):
            conn.rollback()
        close_quietly(conn)

    info = {"target": target, "requested": requested, "qualified": table.qualified, "name": table.name,
            "handle": handle}
    _locks.setdefault(fault_id, info)  # a lock taken meanwhile by another thread keeps its entry
    if hold_fault(fault_id, release, seconds):
        _taken[fault_id] = info
        return True
    if _locks.get(fault_id) is info:
        _locks.pop(fault_id, None)
    close_quietly(conn)
    return False


def _named(lock: dict[str, str], target: str, table: str) -> bool:
    names = {lock["requested"].lower(), lock["qualified"].lower(), lock["name"].lower()}
    return lock["target"] == target and table.strip().lower() in names


def release_locks(target: str, table: str) -> list[str]:
    """Release the held locks on ``table`` (as requested, qualified or bare) at ``target``;
    their fault ids."""
    return [fault_id for fault_id, lock in list(_locks.items())
            if _named(lock, target, table) and release_held(fault_id)]  # fmt: skip


def held_locks(target: str, table: str) -> list[str]:
    """The fault ids of the locks held now on ``table`` at ``target``."""
    return [fault_id for fault_id, lock in list(_locks.items()) if _named(lock, target, table)]


def taken_locks(target: str, table: str) -> dict[str, dict[str, str]]:
    """Every lock this process took on ``table`` at ``target``, held or not, by fault id."""
    return {fault_id: lock for fault_id, lock in _taken.items() if _named(lock, target, table)}
