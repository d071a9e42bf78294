"""What every PostgreSQL fault does before its first change: the policy check and the dry run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaosllm._clients.postgres import (
    postgres_connection,
    postgres_database,
    postgres_server,
    postgres_target,
)
from chaosllm.app_policy import check_target
from chaosllm.dry_run import Planned, Settings, dry_run_requested, preview, preview_if_dry
from chaosllm.postgres._sessions import matching_sessions
from chaosllm.postgres._slots import read_slots

# Reads, on an open connection, what the fault would touch.
Reader = Callable[[Any], Mapping[str, Any]]


def before_fault(
    action: str, planned: Planned, dsn: str, settings: Settings, read: Reader, **touches: Any
) -> dict[str, Any] | None:
    """Refuse what the policy forbids; in a dry run, the preview to return (else None)."""
    touches.setdefault("database", postgres_database(dsn))
    check_target("postgres", action, postgres_server(dsn), configuration=settings[0], secrets=settings[1],
                 **touches)  # fmt: skip

    def would() -> Mapping[str, Any]:
        with postgres_connection(f"preview {action}", dsn) as conn:
            return read(conn)

    return preview_if_dry(planned, *settings, would)


def before_terminate(
    dsn: str,
    filters: dict[str, str | None],
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """:func:`before_fault` for ``terminate_backends``, with the sessions counted before acting."""
    action, server = "terminate_backends", postgres_server(dsn)
    database, user = filters["database"], filters["user"]
    scope: dict[str, Any] = {"database": database, "every_database": database is None, "role": user}
    policy = check_target("postgres", action, server, configuration=configuration, secrets=secrets,
                          **scope)  # fmt: skip
    dry = dry_run_requested(None, configuration, secrets)
    if not dry and policy.rules("postgres").get("max_sessions") is None:
        return None
    with postgres_connection(f"count the sessions for {action}", dsn) as conn:
        sessions = matching_sessions(conn, filters["application_name"], user, database)
    check_target("postgres", action, server, policy=policy, sessions=len(sessions), **scope)
    if not dry:
        return None
    listed = [{"pid": pid, "user": usename, "application_name": app, "database": datname}
              for pid, usename, app, datname in sessions]  # fmt: skip
    return preview("postgres-terminate", f"terminate-{server}", postgres_target(dsn), dict(filters),
                   {"sessions": len(listed), "pids": [s["pid"] for s in listed], "listed": listed})


def free_slots(conn: Any, leave_free: int) -> dict[str, Any]:
    """The connection slots ``exhaust_connections`` would take, as its preview shows them."""
    slots = read_slots(conn)
    free = slots.free + 1  # the slot the preview itself takes
    return {"max_connections": slots.max_connections, "reserved": slots.reserved,
            "in_use": slots.used - 1, "free": free, "would_open": max(0, free - leave_free)}
