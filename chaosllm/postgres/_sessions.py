"""The client sessions ``terminate_backends`` ends: its filters, the sessions they
match (found the same way for the action and its preview), and ending them."""

from __future__ import annotations

from typing import Any

from chaosllm._clients.postgres import describe_error
from chaosllm.errors import InvalidArgument


def check_filters(application_name: Any, user: Any, database: Any) -> dict[str, str | None]:
    """The filters by name; at least one is required, so that a missing
    argument never ends every session on the server."""
    filters = {"application_name": application_name, "user": user, "database": database}
    for key, value in filters.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidArgument(f"{key} must be a non-empty string, got {value!r}")
    if all(value is None for value in filters.values()):
        raise InvalidArgument(
            "terminate_backends needs at least one of application_name, user or database"
        )
    return filters


def matching_sessions(
    conn: Any, application_name: str | None, user: str | None, database: str | None
) -> list[tuple[int, str, str, str]]:
    """(pid, user, application_name, database) of every client session matching every filter.

    The asking session and chaosllm's own sessions are spared, unless the
    application name asked for is chaosllm's.
    """
    rows = conn.execute(
        "select pid, usename, application_name, datname from pg_stat_activity"
        " where backend_type = 'client backend' and pid <> pg_backend_pid()"
        " and (%(app)s::text is null or application_name = %(app)s)"
        " and (%(user)s::text is null or usename = %(user)s)"
        " and (%(db)s::text is null or datname = %(db)s)"
        " and (application_name not like 'chaosllm%%' or application_name = %(app)s)",
        {"app": application_name, "user": user, "db": database},
    ).fetchall()
    return [tuple(row) for row in rows]


def end_sessions(
    conn: Any, dsn: str, application_name: str | None, user: str | None, database: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """End the matching sessions (pg_terminate_backend): those ended, and those
    the connecting role may not end, each with the reason."""
    from psycopg import errors as pgerrors

    terminated: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    # From PostgreSQL 14 the call can wait until the session has gone.
    wait = conn.info.server_version >= 140000
    for pid, usename, app, datname in matching_sessions(conn, application_name, user, database):
        session = {"pid": pid, "user": usename, "application_name": app, "database": datname}
        try:
            if wait:
                ended = conn.execute("select pg_terminate_backend(%s, 2000)", (pid,)).fetchone()
            else:
                ended = conn.execute("select pg_terminate_backend(%s)", (pid,)).fetchone()
        except pgerrors.InsufficientPrivilege as exc:
            refused.append({**session, "reason": describe_error(exc, dsn)})
            continue
        if ended and ended[0]:  # false: gone already, or not gone within 2 s
            terminated.append(session)
    return terminated, refused
