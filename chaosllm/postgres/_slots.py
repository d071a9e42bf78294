"""Connection slots: how many a server has free, and opening many of them at once.

Ordinary clients may use ``max_connections`` minus the reserved slots
(``superuser_reserved_connections``, plus ``reserved_connections`` from
PostgreSQL 16). Replication, autovacuum and background workers have their own
slots, so only client backends count as used.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chaosllm._clients.postgres import (
    connect,
    describe_error,
    is_slot_refusal,
    open_connection,
    postgres_connection,
    postgres_target,
)
from chaosllm.errors import FaultFailed, InvalidArgument

_SLOTS_QUERY = """
select current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true), '0')::int,
       (select count(*) from pg_stat_activity where backend_type = 'client backend')::int
"""
_MAX_PARALLEL = 8


@dataclass(frozen=True)
class Slots:
    max_connections: int
    reserved: int
    used: int
    """Client backends, the asking session included."""

    @property
    def free(self) -> int:
        """Slots an ordinary client could still take."""
        return max(0, self.max_connections - self.reserved - self.used)


def check_leave_free(leave_free: Any) -> int:
    if isinstance(leave_free, bool) or not isinstance(leave_free, int) or leave_free < 0:
        raise InvalidArgument(f"leave_free must be a whole number >= 0, got {leave_free!r}")
    return leave_free


def close_quietly(conn: Any) -> None:
    """Close a connection that may already be broken (its session gone)."""
    with contextlib.suppress(Exception):
        conn.close()


def keep_idle(conn: Any) -> None:
    """Exempt a held session from the server's idle_session_timeout (PostgreSQL 14+),
    which would otherwise end the fault before its duration."""
    if conn.info.server_version >= 140000:
        conn.execute("select set_config('idle_session_timeout', '0', false)")


def read_slots(conn: Any) -> Slots:
    row = conn.execute(_SLOTS_QUERY).fetchone()
    return Slots(int(row[0]), int(row[1]), int(row[2]))


@dataclass
class Opened:
    """What :func:`open_many` achieved."""

    connections: list[Any] = field(default_factory=list)
    refused: bool = False
    """The server ran out of slots before all were open (someone else took some)."""
    error: BaseException | None = None
    timed_out: bool = False

    def close(self) -> None:
        for conn in self.connections:
            close_quietly(conn)
        self.connections.clear()


def open_many(dsn: str, count: int, budget: float, application_name: str) -> Opened:
    """Open up to ``count`` idle connections within ``budget`` seconds.

    A few threads open them side by side so that hundreds of slots fill in
    seconds; all stop at the first refusal, error or at the deadline.
    """
    result = Opened()
    if count <= 0:
        return result
    deadline = time.monotonic() + budget
    lock = threading.Lock()
    claimed = [0]
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.timed_out = True
                stop.set()
                return
            with lock:
                if claimed[0] >= count:
                    return
                claimed[0] += 1
            conn = None
            try:
                conn = connect(dsn, min(2.0, remaining), None, application_name)
                keep_idle(conn)
            except Exception as exc:
                if conn is not None:
                    conn.close()
                with lock:
                    if is_slot_refusal(exc):
                        result.refused = True
                    elif result.error is None:
                        result.error = exc
                stop.set()
                return
            with lock:
                result.connections.append(conn)

    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL, count)) as pool:
        for _ in range(min(_MAX_PARALLEL, count)):
            pool.submit(worker)
    return result


@dataclass
class Taken:
    """What :func:`take_free_slots` holds, and the slots before and after."""

    connections: list[Any]
    before: Slots
    after: Slots
    error: BaseException | None = None
    shortfall: str | None = None

    def counts(self) -> dict[str, int]:
        """The slots as a fault handle reports them: opened, and free afterwards."""
        return {
            "opened": len(self.connections),
            "max_connections": self.before.max_connections,
            "reserved": self.before.reserved,
            "in_use_before": self.before.used - 1,
            # Nothing held: the asking session has closed, so its slot is free again.
            "free": self.after.free if self.connections else self.before.free + 1,
        }


def take_free_slots(first: Any, dsn: str, leave_free: int, application_name: str) -> Taken:
    """Open connections until only ``leave_free`` ordinary slots are left.

    ``first`` is an open session that counts the slots and is held too, so
    that its own slot is not miscounted. A second pass takes the slots that
    sessions closed just before were still occupying while their backends
    exited. On failure everything is closed and ``error`` or ``shortfall``
    says why.
    """
    keep_idle(first)
    before = read_slots(first)
    if before.free < leave_free:
        # Fewer than leave_free are free already: holding even ``first``
        # would break the promise.
        first.close()
        return Taken([], before, before)
    held = [first]
    slots = before
    try:
        for _ in range(2):
            to_open = slots.free - leave_free
            if to_open <= 0:
                break
            budget = 2.0 + 0.05 * to_open
            opened = open_many(dsn, to_open, budget, application_name)
            held.extend(opened.connections)
            if opened.error is not None or (opened.timed_out and not opened.refused):
                shortfall = (
                    None if opened.error is not None else
                    f"only {len(opened.connections)} of {to_open} connections opened within {budget:.1f} s"
                )  # fmt: skip
                Opened(held).close()
                return Taken([], before, slots, opened.error, shortfall)
            slots = read_slots(first)
            if opened.refused:
                break
    except BaseException:
        Opened(held).close()
        raise
    return Taken(held, before, slots)


def take_slots(action: str, dsn: str, leave_free: int, application_name: str) -> Taken:
    """:func:`take_free_slots` from a first session it opens; a failure closes
    every connection opened and raises ``FaultFailed`` naming ``action``."""
    first = open_connection(action, dsn, application_name=application_name)
    try:
        with postgres_connection(action, dsn, connection=first):
            taken = take_free_slots(first, dsn, leave_free, application_name)
    except BaseException:
        close_quietly(first)
        raise
    if taken.error is not None or taken.shortfall is not None:
        why = describe_error(taken.error, dsn) if taken.error is not None else taken.shortfall
        raise FaultFailed(f"could not {action} on {postgres_target(dsn)}: {why}; released them")
    return taken
