"""PostgreSQL fault actions.

Held connections and table locks live in the ``chaos`` process: a timer
releases them when their duration ends, and they die with the process. A
role's ``statement_timeout`` outlives the process, so its original setting is
written to the fault ledger first and a detached healer restores it.
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.postgres import (
    open_connection,
    postgres_connection,
    postgres_server,
    postgres_target,
    resolve_dsn,
)
from chaosllm.arguments import strict
from chaosllm.dry_run import Planned
from chaosllm.errors import TargetNotFound
from chaosllm.faults import (
    bounded_seconds,
    fault_handle,
    held_faults,
    hold_fault,
    recording,
    release_held,
    restore_fault,
)
from chaosllm.faults.effects import MEASURED_WHEN_REMOVED, counted, ended, unknown, with_effect
from chaosllm.faults.watch import start_watch, stop_watch
from chaosllm.postgres._catalog import find_table, split_table
from chaosllm.postgres._guard import before_fault, before_terminate, free_slots
from chaosllm.postgres._locks import (
    LOCK_APPLICATION,
    LockWaits,
    held_locks,
    hold_lock,
    lock_id,
    lock_mode,
    release_locks,
    take_lock,
    taken_locks,
)
from chaosllm.postgres._roles import (
    alter_statement_timeout,
    check_role,
    role_exists,
    role_statement_timeout,
    sessions_opened,
    statement_timeout_id,
    timeout_setting,
)
from chaosllm.postgres._sessions import check_filters, end_sessions
from chaosllm.postgres._slots import check_leave_free, close_quietly, take_slots

__all__ = [
    "exhaust_connections",
    "release_connections",
    "lock_table",
    "unlock_table",
    "terminate_backends",
    "set_statement_timeout",
    "reset_statement_timeout",
]

ROLLBACKS = {
    "exhaust_connections": "release_connections",
    "lock_table": "unlock_table",
    "set_statement_timeout": "reset_statement_timeout",
}

EXHAUST_APPLICATION = "chaosllm-exhaust"


@strict
def exhaust_connections(
    duration: str = "30s",
    leave_free: int = 0,
    name: str | None = None,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Take every free connection slot but `leave_free` for `duration`.

    Opens max_connections - reserved slots - connections in use - leave_free
    idle connections (application_name "chaosllm-exhaust"), so that the next
    ordinary client is refused. Slots reserved for superusers stay free. The
    connections close when the duration ends, on `release_connections`, or
    when the `chaos` process exits. Running it again while it holds does
    not open more.

    ```json
    {"type": "action", "name": "exhaust-db-connections",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "exhaust_connections",
                  "arguments": {"duration": "30s", "leave_free": 2}}}
    ```
    """
    seconds = bounded_seconds(duration)
    check_leave_free(leave_free)
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    target = postgres_target(dsn)
    fault_id = f"postgres-connections@{postgres_server(dsn)}"
    spec: dict[str, Any] = {"duration": duration, "leave_free": leave_free}
    handle_name = name or f"exhaust-connections-{postgres_server(dsn)}"
    planned = Planned("postgres-connections", handle_name, target, dict(spec))
    early = before_fault("exhaust_connections", planned, dsn, (configuration, secrets),
                         lambda conn: free_slots(conn, leave_free))
    if early is not None:
        return early
    if fault_id in held_faults():
        spec["already_active"] = True
        return fault_handle("postgres-connections", handle_name, target, spec, seconds)
    taken = take_slots("exhaust connections", dsn, leave_free, EXHAUST_APPLICATION)
    held = taken.connections

    def release() -> None:
        for conn in held:
            close_quietly(conn)

    if held and not hold_fault(fault_id, release, seconds):
        release()  # another call got there first; do not stack
        spec["already_active"] = True
        return fault_handle("postgres-connections", handle_name, target, spec, seconds)
    spec.update(taken.counts())
    handle = fault_handle("postgres-connections", handle_name, target, spec, seconds)
    # The server's own slot count says whether the pool is full; it keeps no
    # count of the connections it then refuses.
    evidence = {"slots_taken": len(held), "free_slots_left": spec["free"],
                "refusals": "not counted by PostgreSQL"}
    full = bool(held) and spec["free"] <= leave_free
    return with_effect(handle, "observed" if full else "none", evidence,
                       None if full else "no free slot was left to take")


@strict
def release_connections(
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Close the connections that `exhaust_connections` holds.

    Returns `{"removed": false}` when none are held.

    ```json
    {"type": "action", "name": "release-db-connections",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "release_connections"}}
    ```
    """
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    removed = release_held(f"postgres-connections@{postgres_server(dsn)}")
    return ended({"target": postgres_target(dsn)}, "postgres-connections",
                 f"exhaust-connections-{postgres_server(dsn)}", removed)


@strict
def lock_table(
    table: str,
    mode: str = "ACCESS EXCLUSIVE",
    duration: str = "30s",
    name: str | None = None,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Hold a table lock in `mode` for `duration` (LOCK TABLE in an open transaction).

    ACCESS EXCLUSIVE blocks every query on the table, EXCLUSIVE lets only
    reads through, SHARE blocks writes. `table` is "orders" (found on the
    search path) or "schema.orders". The lock is released when the duration
    ends, on `unlock_table`, or when the `chaos` process exits. If another
    session holds a conflicting lock for more than 5 s, the action fails.
    While it holds, the sessions it blocks are sampled every 250 ms
    (`pg_blocking_pids`); `unlock_table` reports them as the lock waits.

    ```json
    {"type": "action", "name": "lock-models",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "lock_table",
                  "arguments": {"table": "models", "mode": "ACCESS EXCLUSIVE",
                                "duration": "20s"}}}
    ```
    """
    seconds = bounded_seconds(duration)
    mode = lock_mode(mode)
    split_table(table)
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    target = postgres_target(dsn)
    planned = Planned("postgres-lock", name or f"lock-{table}", target,
                      {"table": table, "mode": mode, "duration": duration})
    early = before_fault(
        "lock_table", planned, dsn, (configuration, secrets),
        lambda conn: {"table": find_table(conn, table, target).qualified}, table=table,
    )  # fmt: skip
    if early is not None:
        return early
    action = f"lock table {table}"
    conn = open_connection(action, dsn, application_name=LOCK_APPLICATION)
    try:
        with postgres_connection(action, dsn, connection=conn):
            found = find_table(conn, table, target)
            fault_id = lock_id(target, found)
            spec: dict[str, Any] = {"table": found.qualified, "mode": mode, "duration": duration}
            handle_name = name or f"lock-{found.qualified}"
            if fault_id in held_faults():
                close_quietly(conn)
                spec["already_active"] = True
                return fault_handle("postgres-lock", handle_name, target, spec, seconds)
            take_lock(conn, found, mode, f"could not {action} on {target}")
    except BaseException:
        close_quietly(conn)
        raise
    if hold_lock(fault_id, conn, table, found, target, seconds, handle_name):
        spec["backend_pid"] = conn.info.backend_pid
        start_watch(fault_id, LockWaits(dsn, conn.info.backend_pid, f"table {found.qualified}"), seconds)
    else:
        spec["already_active"] = True
    return unknown(fault_handle("postgres-lock", handle_name, target, spec, seconds),
                   f"{MEASURED_WHEN_REMOVED}: the sessions the lock blocks are sampled while it holds")


@strict
def unlock_table(
    table: str,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Release the lock that `lock_table` holds on `table`.

    Needs no connection to the server: the lock goes with its session.
    Returns `{"removed": false}` when no lock is held. Its `effect` is
    "observed" when a session waited for the lock while it held ("none"
    when none did), with `lock_waits`, `most_waiting_at_once` and
    `longest_wait_seconds`, also for a lock that had already expired.

    ```json
    {"type": "action", "name": "unlock-models",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "unlock_table", "arguments": {"table": "models"}}}
    ```
    """
    split_table(table)
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    target = postgres_target(dsn)
    taken = taken_locks(target, table)
    # The watch of the lock held now (else of the last one, which expired) stops first,
    # while the lock still holds.
    watched = held_locks(target, table) or list(taken)[-1:]
    outcomes = {fault_id: stop_watch(fault_id) for fault_id in watched}
    released = release_locks(target, table)
    result: dict[str, Any] = {"removed": bool(released), "target": target, "table": table,
                              "released": [taken[fault_id]["qualified"] for fault_id in released]}
    for fault_id, outcome in outcomes.items():
        if fault_id in taken:
            ended(result, "postgres-lock", taken[fault_id]["handle"], bool(released))
        if outcome is not None:
            with_effect(result, outcome[0], outcome[1])
    return result


@strict
def terminate_backends(
    application_name: str | None = None,
    user: str | None = None,
    database: str | None = None,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """End the client sessions that match every filter given (pg_terminate_backend).

    At least one of `application_name`, `user` and `database` is required,
    so that a missing argument never ends every session on the server. The
    session doing it and chaosllm's own held sessions are spared. Sessions
    the connecting role may not end are listed under "refused".

    ```json
    {"type": "action", "name": "kill-catalog-sessions",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "terminate_backends",
                  "arguments": {"application_name": "model-catalog"}}}
    ```
    """
    filters = check_filters(application_name, user, database)
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    early = before_terminate(dsn, filters, configuration, secrets)
    if early is not None:
        return early
    with postgres_connection("terminate backends", dsn) as conn:
        terminated, refused = end_sessions(conn, dsn, application_name, user, database)
    result = {
        **fault_handle("postgres-terminate", f"terminate-{postgres_server(dsn)}", postgres_target(dsn),
                       {key: value for key, value in filters.items() if value is not None}, 0.0),
        "target": postgres_target(dsn),
        "terminated": len(terminated),
        "sessions": terminated,
        "refused": refused,
        **filters,
    }
    return counted(result, len(terminated), {"sessions_terminated": len(terminated),
                                             "sessions_refused": len(refused)})


@strict
def set_statement_timeout(
    role: str,
    timeout: str = "1s",
    duration: str = "60s",
    name: str | None = None,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Give `role` a short `statement_timeout` for `duration` (ALTER ROLE ... SET).

    New sessions of the role then have their slow queries cancelled; open
    sessions keep their setting. The role's original setting (or its
    absence) goes to the fault ledger first, and a detached healer restores
    exactly it when the duration ends, even if `chaos` is killed. Running it
    again while it holds changes the timeout but keeps the original. A
    setting made for the role in one database (ALTER ROLE ... IN DATABASE)
    takes precedence over this one.

    ```json
    {"type": "action", "name": "tight-query-timeout",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "set_statement_timeout",
                  "arguments": {"role": "catalog", "timeout": "200ms", "duration": "2m"}}}
    ```
    """
    check_role(role)
    value = timeout_setting(timeout)
    seconds = bounded_seconds(duration)
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    target = postgres_target(dsn)
    planned = Planned("postgres-statement-timeout", name or f"statement-timeout-{role}", target,
                      {"role": role, "timeout": value, "duration": duration})
    early = before_fault(
        "set_statement_timeout", planned, dsn, (configuration, secrets),
        lambda conn: {"role": role, "exists": role_exists(conn, role),
                      "statement_timeout": role_statement_timeout(conn, role)}, role=role,
    )  # fmt: skip
    if early is not None:
        return early
    fault_id = statement_timeout_id(dsn, role)
    with postgres_connection(f"set statement timeout of role {role}", dsn) as conn, \
            recording(fault_id) as rec:
        if not role_exists(conn, role):
            raise TargetNotFound(f"role {role!r} does not exist on {target}")
        original = role_statement_timeout(conn, role)
        # ALTER ROLE runs first, in a transaction, so that a refusal (no
        # privilege) leaves no ledger entry; the ledger is written before the
        # change is committed.
        with conn.transaction():
            alter_statement_timeout(conn, role, value)
            rec.record(
                "postgres.statement_timeout",
                {"postgres_dsn": dsn, "role": role, "original": original,
                 "handle": name or f"statement-timeout-{role}", "sessions_at_apply": sessions_opened(conn)},
                seconds,
                f"statement_timeout {value} for role {role} on {target} "
                f"(was {original if original is not None else 'not set'})",
            )  # fmt: skip
        original = rec.state["original"]
    spec: dict[str, Any] = {"role": role, "timeout": value, "duration": duration, "original": original}
    if not rec.fresh:
        spec["already_active"] = True
    return unknown(fault_handle(
        "postgres-statement-timeout", name or f"statement-timeout-{role}", target, spec, seconds
    ), f"{MEASURED_WHEN_REMOVED}: the sessions it reached are read when it is reset")


@strict
def reset_statement_timeout(
    role: str,
    postgres_dsn: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Put back the role's statement_timeout as it was before `set_statement_timeout`.

    A role that had no setting gets none again. Returns `{"removed": false}`
    when nothing is to be restored. PostgreSQL counts no statement that the
    timeout cancelled, so the `effect` is "unknown" with what the server
    does show: `role_sessions_started` (sessions of the role opened while it
    held and still connected) and `server_sessions_opened` (every session
    opened meanwhile, PostgreSQL 14+); "none" when no session at all was
    opened, so the timeout reached no statement.

    ```json
    {"type": "action", "name": "restore-query-timeout",
     "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                  "func": "reset_statement_timeout", "arguments": {"role": "catalog"}}}
    ```
    """
    check_role(role)
    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    result = restore_fault(statement_timeout_id(dsn, role))
    out: dict[str, Any] = {"removed": result["removed"], "target": postgres_target(dsn), "role": role}
    if not result["removed"]:
        return out
    reached = dict(result["result"] or {})
    handle = reached.pop("handle", None) or f"statement-timeout-{role}"
    out.update(reached)
    ended(out, "postgres-statement-timeout", handle, True)
    if "role_sessions_started" not in reached:
        problem = reached.get("evidence_error", "the role is gone")
        return unknown(out, f"could not read the sessions it reached: {problem}")
    evidence = {key: reached[key] for key in ("role_sessions_started", "server_sessions_opened")}
    if reached["server_sessions_opened"] == 0 and reached["role_sessions_started"] == 0:
        return with_effect(out, "none", evidence,
                           "no session was opened while it held, so the timeout reached no statement")
    return unknown(out, "PostgreSQL counts no statements cancelled by statement_timeout "
                        "(only its log names them)", evidence)
