"""Roles and their own settings (ALTER ROLE ... SET), for set_statement_timeout.

A role's setting outlives the ``chaos`` process, so the fault goes through
the fault ledger; :func:`restore_statement_timeout` is its restorer, run by
the rollback, the detached healer or ``chaosllm cleanup``.
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.postgres import postgres_connection, postgres_server
from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration


def role_exists(conn: Any, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None


def check_role(role: str) -> str:
    if not isinstance(role, str) or not role or "\x00" in role:
        raise InvalidArgument(f"role must be a role name such as 'app', got {role!r}")
    return role


def timeout_setting(timeout: str) -> str:
    """``timeout`` ("200ms", "1s") as the setting ALTER ROLE gets, in whole milliseconds."""
    milliseconds = round(parse_duration(timeout, "timeout") * 1000)
    if milliseconds <= 0:
        raise InvalidArgument(f"timeout must be at least 1ms (0 would disable it), got {timeout!r}")
    return f"{milliseconds}ms"


def statement_timeout_id(dsn: str, role: str) -> str:
    # Roles are cluster-wide, so the fault is keyed by server, not database.
    return f"postgres-statement-timeout@{postgres_server(dsn)}:{role}"


def role_statement_timeout(conn: Any, role: str) -> str | None:
    """The role's own statement_timeout (ALTER ROLE ... SET), or None when unset."""
    row = conn.execute(
        "select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole"
        " where r.rolname = %s and s.setdatabase = 0",
        (role,),
    ).fetchone()
    for item in (row[0] if row and row[0] else []):
        key, _, value = item.partition("=")
        if key == "statement_timeout":
            return str(value)
    return None


def alter_statement_timeout(conn: Any, role: str, value: str | None) -> None:
    from psycopg import sql

    if value is None:
        conn.execute(sql.SQL("alter role {} reset statement_timeout").format(sql.Identifier(role)))
    else:
        conn.execute(sql.SQL("alter role {} set statement_timeout = {}").format(
            sql.Identifier(role), sql.Literal(value)))


def sessions_opened(conn: Any) -> int | None:
    """Sessions the server has opened so far, over every database (PostgreSQL 14+), else None."""
    row = conn.execute(
        "select case when current_setting('server_version_num')::int >= 140000"
        " then (select sum(sessions)::bigint from pg_stat_database) end"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def sessions_under_timeout(
    conn: Any, role: str, since: str | None, opened_before: int | None
) -> dict[str, Any]:
    """What the server tells of the sessions the role's timeout reached.

    PostgreSQL counts no statement cancelled by statement_timeout, but it
    shows the sessions of the role that started while the setting held (the
    ones still connected) and, from version 14, how many sessions it opened
    in all (``pg_stat_database.sessions``), less the restore's own."""
    started = conn.execute(
        "select count(*) from pg_stat_activity where usename = %s and backend_type = 'client backend'"
        " and backend_start >= coalesce(%s::timestamptz, '-infinity')", (role, since),
    ).fetchone()[0]  # fmt: skip
    now = sessions_opened(conn)
    # Less the one this restore opened (PostgreSQL counts a session when it connects).
    opened = max(0, now - opened_before - 1) if now is not None and opened_before is not None else None
    return {"role_sessions_started": int(started), "server_sessions_opened": opened}


def restore_statement_timeout(entry: dict[str, Any]) -> dict[str, Any]:
    """The fault ledger's restorer: put back exactly the recorded setting, and read
    which sessions the setting reached (never failing the restore for it)."""
    state = entry["state"]
    role, original = state["role"], state["original"]
    with postgres_connection(f"reset statement timeout of role {role}", state["postgres_dsn"]) as conn:
        if not role_exists(conn, role):
            return {"role": role, "restored": None, "role_missing": True}
        alter_statement_timeout(conn, role, original)
        try:
            reached = sessions_under_timeout(conn, role, entry.get("created_at"),
                                             state.get("sessions_at_apply"))
        except Exception as exc:  # the setting is restored; only its evidence is missing
            reached = {"evidence_error": f"{type(exc).__name__}: {exc}"}
    return {"role": role, "restored": original, "handle": state.get("handle"), **reached}
