"""PostgreSQL probes: availability, connection slots, blocked queries and data consistency."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from chaosllm._clients.postgres import (
    is_slot_refusal,
    postgres_connection,
    postgres_target,
    resolve_dsn,
)
from chaosllm.arguments import strict
from chaosllm.errors import ChaosLLMError, ConfigurationError, InvalidArgument, TargetUnreachable
from chaosllm.faults import parse_duration
from chaosllm.postgres._catalog import find_columns, find_table
from chaosllm.postgres._slots import read_slots

__all__ = [
    "is_available",
    "connection_count",
    "connection_headroom",
    "blocked_queries",
    "row_count",
    "table_checksum",
]

STATES = (
    "active", "idle", "idle in transaction", "idle in transaction (aborted)",
    "fastpath function call", "disabled",
)  # fmt: skip
# Session settings that change how a row prints; fixed so that a checksum
# does not depend on who computes it.
_STABLE_OUTPUT = (
    ("DateStyle", "ISO, YMD"), ("IntervalStyle", "postgres"), ("TimeZone", "UTC"),
    ("extra_float_digits", "3"), ("bytea_output", "hex"),
)  # fmt: skip
_PASSWORD_LITERAL = re.compile(r"(password\s+)'(?:[^']|'')*'", re.IGNORECASE)
_QUERY_CHARS = 200


@strict
def is_available(
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when the server accepts a connection and answers a query within the timeout.

    ```json
    {"type": "probe", "name": "db-up", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.postgres.probes",
                  "func": "is_available"}}
    ```
    """
    try:
        with postgres_connection("check availability", postgres_dsn, configuration, secrets) as conn:
            conn.execute("select 1").fetchone()
            return True
    except ConfigurationError:
        raise  # a malformed DSN is a mistake in the experiment, not an outage
    except ChaosLLMError:
        return False


@strict
def connection_count(
    state: str | None = None,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Number of client sessions on the server, this probe's own excluded.

    `state` limits the count to one pg_stat_activity state, such as "active"
    or "idle in transaction". The state of other roles' sessions is visible
    only to superusers and members of pg_read_all_stats.

    ```json
    {"type": "probe", "name": "db-sessions-waiting-in-transactions",
     "provider": {"type": "python", "module": "chaosllm.postgres.probes",
                  "func": "connection_count", "arguments": {"state": "idle in transaction"}}}
    ```
    """
    if state is not None and state not in STATES:
        raise InvalidArgument(f"state must be one of {', '.join(STATES)}, got {state!r}")
    with postgres_connection("count connections", postgres_dsn, configuration, secrets) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where backend_type = 'client backend'"
            " and pid <> pg_backend_pid() and (%(state)s::text is null or state = %(state)s)",
            {"state": state},
        ).fetchone()
    return int(row[0])


@strict
def connection_headroom(
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many more ordinary clients could connect now.

    max_connections minus reserved slots minus sessions in use (this probe's
    own excluded). When the server refuses the probe for lack of slots, the
    headroom is 0.

    ```json
    {"type": "probe", "name": "db-headroom",
     "tolerance": {"type": "range", "range": [5, 100000]},
     "provider": {"type": "python", "module": "chaosllm.postgres.probes",
                  "func": "connection_headroom"}}
    ```
    """
    try:
        with postgres_connection("read connection slots", postgres_dsn, configuration,
                                 secrets) as conn:
            slots = read_slots(conn)
    except TargetUnreachable as exc:
        if is_slot_refusal(exc):
            return 0
        raise
    return max(0, slots.max_connections - slots.reserved - (slots.used - 1))


def _redact_query(query: str | None) -> str | None:
    if query is None:
        return None
    return _PASSWORD_LITERAL.sub(r"\1'***'", query)[:_QUERY_CHARS]


@strict
def blocked_queries(
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Sessions waiting for a lock that another session holds, oldest first.

    Each item has `pid`, `user`, `application_name`, `database`,
    `blocked_by` (the PIDs holding the lock), `wait_event`, `running_seconds`
    and the first 200 characters of `query`, with password literals masked.

    ```json
    {"type": "probe", "name": "queries-stuck-on-locks",
     "provider": {"type": "python", "module": "chaosllm.postgres.probes",
                  "func": "blocked_queries"}}
    ```
    """
    with postgres_connection("list blocked queries", postgres_dsn, configuration, secrets) as conn:
        rows = conn.execute(
            "select pid, usename, application_name, datname, pg_blocking_pids(pid),"
            " wait_event_type, wait_event,"
            " extract(epoch from clock_timestamp() - query_start)::float8, query"
            " from pg_stat_activity where cardinality(pg_blocking_pids(pid)) > 0"
            " order by query_start"
        ).fetchall()
    return [
        {
            "pid": pid,
            "user": user,
            "application_name": app,
            "database": database,
            "blocked_by": list(blockers),
            "wait_event": f"{event_type}:{event}" if event_type else None,
            "running_seconds": round(seconds, 3) if seconds is not None else None,
            "query": _redact_query(query),
        }
        for pid, user, app, database, blockers, event_type, event, seconds, query in rows
    ]


@strict
def row_count(
    table: str,
    timeout: str = "10s",
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Exact number of rows in `table` ("orders" or "schema.orders").

    The count fails after `timeout`, for instance while the table is locked.

    ```json
    {"type": "probe", "name": "orders-rows",
     "provider": {"type": "python", "module": "chaosllm.postgres.probes",
                  "func": "row_count", "arguments": {"table": "orders"}}}
    ```
    """
    from psycopg import sql

    seconds = parse_duration(timeout, "timeout")
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    with postgres_connection(f"count rows of {table}", dsn, statement_timeout=seconds) as conn:
        found = find_table(conn, table, postgres_target(dsn))
        row = conn.execute(sql.SQL("select count(*) from {}").format(found.identifier())).fetchone()
    return int(row[0])


@strict
def table_checksum(
    table: str,
    key: str | list[str],
    timeout: str = "30s",
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> str:
    """SHA-256 over every row of `table` in `key` order: equal digests, equal data.

    Take it before and after a fault: a fault that loses or changes no row
    leaves it unchanged, while one changed value changes it. `key` is a
    column or a list of columns; rows that tie on it are ordered by their
    whole text, so the digest does not depend on the scan order. Rows are
    streamed, so the table may be large; the read fails after `timeout`.

    ```json
    {"type": "probe", "name": "orders-checksum",
     "provider": {"type": "python", "module": "chaosllm.postgres.probes",
                  "func": "table_checksum", "arguments": {"table": "orders", "key": "id"}}}
    ```
    """
    from psycopg import sql

    keys = [key] if isinstance(key, str) else key
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise InvalidArgument(f"key must be a column name or a list of them, got {key!r}")
    seconds = parse_duration(timeout, "timeout")
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    digest = hashlib.sha256()
    with postgres_connection(f"checksum table {table}", dsn, statement_timeout=seconds) as conn:
        found = find_table(conn, table, postgres_target(dsn))
        columns = find_columns(conn, found, keys, postgres_target(dsn))
        with conn.transaction():
            for setting, value in _STABLE_OUTPUT:
                conn.execute("select set_config(%s, %s, true)", (setting, value))
            cursor = conn.cursor(name="chaosllm_checksum")
            cursor.itersize = 2000
            cursor.execute(
                sql.SQL("select row(r.*)::text from {} r order by {}, 1").format(
                    found.identifier(),
                    sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in columns),
                )
            )
            for (text,) in cursor:
                digest.update(text.encode("utf-8"))
                digest.update(b"\n")
            cursor.close()
    return digest.hexdigest()

