"""The client sessions ``terminate_backends`` ends, found the same way for the action and its preview."""

from __future__ import annotations

from typing import Any


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
