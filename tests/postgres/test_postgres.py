"""PostgreSQL faults and probes against a private server (max_connections=40)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chaosllm.errors import (
    ConfigurationError,
    FaultFailed,
    InvalidArgument,
    TargetNotFound,
    TargetUnreachable,
)
from chaosllm.faults import Ledger, cleanup, held_faults, release_held
from chaosllm.postgres import actions, probes
from chaosllm.sandbox.app import launcher
from chaosllm.sandbox.app.launcher import free_port, wait_until
from tests.chaos_run import run_experiment, validate

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "application" / "db-failure.json"
DATABASE = "chaosllm_pg_test"
# Trust authentication ignores the password; it is there to prove it never leaks.
PASSWORD = "pg-s3cret-value"


class Db:
    def __init__(self, server: launcher.Server) -> None:
        base = f"127.0.0.1:{server.port}/{DATABASE}"
        self.dsn = f"postgresql://postgres:{PASSWORD}@{base}"
        self.app_dsn = f"postgresql://app@{base}"
        self.catalog_dsn = f"postgresql://catalog@{base}"
        self.monitor_dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"

    def admin(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, autocommit=True, **kwargs)

    def monitor(self) -> psycopg.Connection[Any]:
        """A session in another database, untouched by this one's settings."""
        return psycopg.connect(self.monitor_dsn, autocommit=True)

    def role_setting(self, role: str) -> list[str]:
        with self.admin() as conn:
            row = conn.execute(
                "select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole"
                " where r.rolname = %s and s.setdatabase = 0", (role,),
            ).fetchone()  # fmt: skip
        return list(row[0]) if row else []


@pytest.fixture(scope="module")
def db(postgres_server: launcher.Server) -> Iterator[Db]:
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {DATABASE} with (force)")
        conn.execute(f"create database {DATABASE}")
        for role in ("app", "catalog"):
            conn.execute(f"drop role if exists {role}")
            conn.execute(f"create role {role} login")
    database = Db(postgres_server)
    with database.admin() as conn:
        conn.execute(
            "create table orders (id int primary key, tenant text not null, tokens int not null);"
            "insert into orders select g, 'tenant-' || (g % 7), g * 10 from generate_series(1, 500) g;"
            "create table models (id text primary key, price double precision);"
            "insert into models values ('llama', 0.9), ('mistral', 8.0);"
            "grant select, update on orders, models to app, catalog;"
            'create schema "Sales"; create table "Sales"."Price List" (sku text primary key);'
            """insert into "Sales"."Price List" values ('a'), ('b'), ('c');"""
        )
        conn.execute('drop role if exists "Tenant ""Admin"""')
        conn.execute('create role "Tenant ""Admin"""')
    yield database
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {DATABASE} with (force)")
        conn.execute("drop role if exists app")
        conn.execute("drop role if exists catalog")
        conn.execute('drop role if exists "Tenant ""Admin"""')


@pytest.fixture(autouse=True)
def _no_fault_survives(db: Db) -> Iterator[None]:
    yield
    for fault in held_faults():  # some tests leave a fault to this teardown
        release_held(fault)
    cleanup()


def _settle(monitor: psycopg.Connection[Any]) -> int:
    """Wait until sessions closed earlier have left the server; their number.

    ``monitor`` is a session that stays open, so watching adds no session
    that would itself take a moment to leave.
    """
    counts = [-1]

    def steady() -> bool:
        counts.append(_client_backends(monitor))
        if counts[-1] == counts[-2]:
            return True
        time.sleep(0.2)
        return False

    wait_until(steady, 10, "a steady number of sessions")
    return counts[-1]


def _client_backends(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "select count(*) from pg_stat_activity where backend_type = 'client backend'"
    ).fetchone()
    return int(row[0]) if row else 0


def _refusal(dsn: str) -> str:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn, connect_timeout=2).close()
    return str(info.value)


def test_exhaust_connections_refuses_clients_beyond_leave_free(db: Db) -> None:
    # Each probe opens and closes a session, whose backend takes a moment to
    # exit; a session opened before the fault watches for that.
    monitor = db.monitor()
    before = _settle(monitor)
    handle = actions.exhaust_connections(duration="30s", leave_free=2, postgres_dsn=db.dsn)
    sessions = _client_backends(monitor)

    def probe(func: Callable[..., Any], *args: Any) -> Any:
        value = func(*args, postgres_dsn=db.dsn)
        wait_until(lambda: _client_backends(monitor) == sessions, 5, "probe session exit")
        return value

    spec = handle["spec"]
    assert handle["kind"] == "postgres-connections" and PASSWORD not in json.dumps(handle)
    assert spec["max_connections"] == 40 and spec["reserved"] == 3 and spec["free"] == 2
    # The server's slot count shows the pool full but the two slots left free.
    assert handle["effect"] == "observed"
    assert handle["evidence"]["slots_taken"] == spec["opened"]
    assert handle["evidence"]["free_slots_left"] == 2
    assert probe(probes.connection_headroom) == 2
    assert probe(probes.connection_count) == sessions == spec["opened"] + 1
    assert probe(probes.connection_count, "idle") == spec["opened"] + 1  # the monitor is idle too
    # Injecting again does not stack.
    again = actions.exhaust_connections(duration="30s", leave_free=0, postgres_dsn=db.dsn)
    assert again["spec"]["already_active"] is True
    assert probe(probes.connection_headroom) == 2

    clients = [psycopg.connect(db.app_dsn) for _ in range(2)]  # the two left free
    assert "remaining connection slots are reserved" in _refusal(db.app_dsn)
    sessions += 2
    assert probe(probes.connection_headroom) == 0
    # Only the superuser slots are left; once they are used, nobody gets in.
    clients += [psycopg.connect(db.dsn) for _ in range(3)]
    assert "too many clients" in _refusal(db.dsn)
    assert probes.is_available(postgres_dsn=db.dsn) is False
    assert probes.connection_headroom(postgres_dsn=db.dsn) == 0  # refused, yet an answer
    for conn in clients:
        conn.close()

    assert actions.release_connections(postgres_dsn=db.dsn)["removed"] is True
    wait_until(lambda: _client_backends(monitor) <= before, 5, "released sessions to exit")
    with psycopg.connect(db.app_dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert probes.connection_headroom(postgres_dsn=db.dsn) == 40 - 3 - before
    assert actions.release_connections(postgres_dsn=db.dsn)["removed"] is False
    monitor.close()


def test_exhausted_connections_outlast_idle_timeout_and_end_with_duration(db: Db) -> None:
    # A server that ends idle sessions must not end the fault early.
    with db.admin() as conn:
        conn.execute(f"alter database {DATABASE} set idle_session_timeout = '300ms'")
    monitor = db.monitor()

    def app_can_connect() -> bool:
        psycopg.connect(db.app_dsn, connect_timeout=2).close()
        return True

    try:
        _settle(monitor)
        actions.exhaust_connections(duration="1500ms", postgres_dsn=db.dsn)
        time.sleep(0.7)
        assert "remaining connection slots are reserved" in _refusal(db.app_dsn)
        wait_until(app_can_connect, 10, "connections after the duration")
        assert held_faults() == []
    finally:
        monitor.close()
        with db.admin() as conn:
            conn.execute(f"alter database {DATABASE} reset idle_session_timeout")


def _query_in_thread(dsn: str, query: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    conn = psycopg.connect(dsn, autocommit=True, application_name="blocked-reader")
    result["pid"] = conn.info.backend_pid

    def run() -> None:
        try:
            result["rows"] = conn.execute(query).fetchall()
        except psycopg.Error as exc:
            result["error"] = exc
        finally:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_lock_table_blocks_queries_until_unlocked(db: Db) -> None:
    handle = actions.lock_table("orders", duration="30s", postgres_dsn=db.dsn)
    assert handle["spec"]["table"] == "public.orders"
    assert handle["spec"]["mode"] == "ACCESS EXCLUSIVE"
    again = actions.lock_table("public.orders", duration="30s", postgres_dsn=db.dsn)
    assert again["spec"]["already_active"] is True

    thread, result = _query_in_thread(db.app_dsn, "select count(*) from orders")
    thread.join(0.8)
    assert thread.is_alive() and not result.get("rows"), "query ran although the table was locked"
    blocked = probes.blocked_queries(postgres_dsn=db.dsn)
    mine = [b for b in blocked if b["pid"] == result["pid"]]
    assert mine and mine[0]["blocked_by"] == [handle["spec"]["backend_pid"]]
    assert mine[0]["query"] == "select count(*) from orders"

    unlocked = actions.unlock_table("orders", postgres_dsn=db.dsn)
    assert unlocked["removed"] is True and unlocked["released"] == ["public.orders"]
    # The watch saw the one session that waited, for about as long as the test held it.
    assert handle["effect"] == "unknown" and "measured when removed" in handle["evidence"]["reason"]
    assert unlocked["effect"] == "observed", unlocked
    assert unlocked["evidence"]["lock_waits"] == 1 and unlocked["evidence"]["most_waiting_at_once"] == 1
    assert unlocked["evidence"]["longest_wait_seconds"] >= 0.5
    assert (unlocked["kind"], unlocked["name"]) == ("postgres-lock", handle["name"])
    thread.join(5)
    assert result.get("rows") == [(500,)]
    assert probes.blocked_queries(postgres_dsn=db.dsn) == []
    assert actions.unlock_table("orders", postgres_dsn=db.dsn)["removed"] is False


def test_a_lock_nobody_waited_for_has_no_effect_even_when_it_expired(db: Db) -> None:
    actions.lock_table("models", duration="1s", postgres_dsn=db.dsn)
    wait_until(lambda: held_faults() == [], 10, "the lock to expire")
    late = actions.unlock_table("models", postgres_dsn=db.dsn)
    assert late["removed"] is False and late["effect"] == "none"
    assert late["evidence"]["lock_waits"] == 0 and late["evidence"]["samples"] >= 2
    assert late["evidence"]["reason"] == "no session waited for the lock while it held"
    # Its watch's connection is gone with it.
    with db.admin() as conn:
        wait_until(lambda: conn.execute("select count(*) from pg_stat_activity where application_name"
                                        " = 'chaosllm-lock-watch'").fetchone() == (0,),
                   5, "the watch's session to end")


def test_share_lock_lets_reads_through_and_ends_with_its_duration(db: Db) -> None:
    actions.lock_table("Orders", mode="share", duration="1s", postgres_dsn=db.dsn)
    assert probes.row_count("orders", postgres_dsn=db.dsn) == 500
    thread, result = _query_in_thread(
        db.app_dsn, "update orders set tokens = tokens where id = 1 returning id"
    )
    thread.join(0.4)
    assert thread.is_alive(), "a write went through a SHARE lock"
    thread.join(10)  # the lock ends with its duration, then the write proceeds
    assert result.get("rows") == [(1,)]
    assert held_faults() == []


def test_locked_table_makes_row_count_fail_after_its_timeout(db: Db) -> None:
    actions.lock_table("models", duration="30s", postgres_dsn=db.dsn)
    with pytest.raises(FaultFailed) as info:
        probes.row_count("models", timeout="300ms", postgres_dsn=db.dsn)
    assert "statement timeout" in str(info.value) and PASSWORD not in str(info.value)


def test_terminate_backends_ends_only_matching_sessions(db: Db) -> None:
    victims = [psycopg.connect(db.app_dsn, autocommit=True, application_name="model-catalog")
               for _ in range(2)]  # fmt: skip
    bystander = psycopg.connect(db.app_dsn, autocommit=True, application_name="gateway")
    actions.lock_table("models", duration="30s", postgres_dsn=db.dsn)

    result = actions.terminate_backends(application_name="model-catalog", postgres_dsn=db.dsn)
    assert result["terminated"] == 2 and result["effect"] == "observed"
    assert result["evidence"] == {"sessions_terminated": 2, "sessions_refused": 0}
    nobody = actions.terminate_backends(application_name="nobody", postgres_dsn=db.dsn)
    assert nobody["effect"] == "none" and nobody["kind"] == "postgres-terminate"
    assert {s["pid"] for s in result["sessions"]} == {v.info.backend_pid for v in victims}
    for victim in victims:
        with pytest.raises(psycopg.OperationalError):
            victim.execute("select 1")
    assert bystander.execute("select 1").fetchone() == (1,)
    # chaosllm's own lock session is spared unless named.
    by_user = actions.terminate_backends(user="postgres", database=DATABASE, postgres_dsn=db.dsn)
    assert all(not s["application_name"].startswith("chaosllm") for s in by_user["sessions"])
    assert probes.row_count("orders", postgres_dsn=db.dsn) == 500
    thread, blocked = _query_in_thread(db.app_dsn, "select count(*) from models")
    thread.join(0.4)
    assert thread.is_alive(), "the held lock was ended by terminate_backends"
    actions.unlock_table("models", postgres_dsn=db.dsn)
    thread.join(5)
    assert blocked.get("rows") == [(2,)]
    bystander.close()


def test_table_checksum_tracks_data_not_faults_or_order(db: Db) -> None:
    before = probes.table_checksum("orders", "id", postgres_dsn=db.dsn)
    assert before == probes.table_checksum("orders", ["id"], postgres_dsn=db.dsn)
    # A fault that loses nothing: sessions killed, table locked and released.
    victim = psycopg.connect(db.app_dsn, application_name="victim")
    actions.terminate_backends(application_name="victim", postgres_dsn=db.dsn)
    victim.close()
    actions.lock_table("orders", duration="30s", postgres_dsn=db.dsn)
    actions.unlock_table("orders", postgres_dsn=db.dsn)
    assert probes.table_checksum("orders", "id", postgres_dsn=db.dsn) == before
    assert probes.row_count("orders", postgres_dsn=db.dsn) == 500

    with db.admin() as conn:
        conn.execute("update orders set tokens = tokens + 1 where id = 250")
        changed = probes.table_checksum("orders", "id", postgres_dsn=db.dsn)
        conn.execute("update orders set tokens = tokens - 1 where id = 250")
    assert changed != before
    assert probes.table_checksum("orders", "id", postgres_dsn=db.dsn) == before

    # The same rows written in another order give the same digest; ties on
    # a non-unique key do not make it depend on the scan order.
    with db.admin() as conn:
        conn.execute("drop table if exists orders_copy")
        conn.execute("create table orders_copy (like orders)")
        conn.execute("insert into orders_copy select * from orders order by id desc")
    copy = probes.table_checksum("orders_copy", "id", postgres_dsn=db.dsn)
    assert copy == before
    by_tenant = probes.table_checksum("orders", "tenant", postgres_dsn=db.dsn)
    assert by_tenant == probes.table_checksum("orders_copy", "tenant", postgres_dsn=db.dsn)


def test_set_statement_timeout_changes_new_sessions_and_reset_restores_original(db: Db) -> None:
    with db.admin() as conn:
        conn.execute("alter role catalog set statement_timeout = '5s'")
    handle = actions.set_statement_timeout("catalog", timeout="150ms", duration="5m",
                                           postgres_dsn=db.dsn)  # fmt: skip
    assert handle["spec"]["original"] == "5s" and PASSWORD not in json.dumps(handle)
    assert db.role_setting("catalog") == ["statement_timeout=150ms"]
    with psycopg.connect(db.catalog_dsn, autocommit=True) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("150ms",)
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("select pg_sleep(1)")
    # chaosllm's own sessions keep their own timeout: a lock taken as the
    # role still waits out a conflicting lock held for longer than 150ms.
    holder = psycopg.connect(db.dsn)
    holder.execute("lock table models in access exclusive mode")
    threading.Timer(0.6, holder.commit).start()
    started = time.monotonic()
    actions.lock_table("models", duration="30s", postgres_dsn=db.catalog_dsn)
    assert time.monotonic() - started >= 0.4
    assert actions.unlock_table("models", postgres_dsn=db.catalog_dsn)["removed"] is True
    holder.close()
    # A second injection changes the timeout but keeps the first original.
    again = actions.set_statement_timeout("catalog", timeout="200ms", duration="5m",
                                          postgres_dsn=db.dsn)  # fmt: skip
    assert again["spec"]["already_active"] is True and again["spec"]["original"] == "5s"
    assert db.role_setting("catalog") == ["statement_timeout=200ms"]

    still_open = psycopg.connect(db.catalog_dsn, autocommit=True)
    reset = actions.reset_statement_timeout("catalog", postgres_dsn=db.dsn)
    still_open.close()
    assert reset["removed"] is True and reset["restored"] == "5s"
    # PostgreSQL counts no cancelled statement: unknown, with the sessions it did reach.
    assert reset["effect"] == "unknown" and "counts no statements cancelled" in reset["evidence"]["reason"]
    assert reset["evidence"]["role_sessions_started"] == 1, reset
    assert reset["evidence"]["server_sessions_opened"] >= 2, reset
    assert (reset["kind"], reset["name"]) == ("postgres-statement-timeout", "statement-timeout-catalog")
    assert db.role_setting("catalog") == ["statement_timeout=5s"]
    with psycopg.connect(db.catalog_dsn) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("5s",)
    assert actions.reset_statement_timeout("catalog", postgres_dsn=db.dsn)["removed"] is False
    assert Ledger().entries() == {}
    with db.admin() as conn:
        conn.execute("alter role catalog reset statement_timeout")


def test_a_statement_timeout_no_session_met_has_no_effect(db: Db) -> None:
    handle = actions.set_statement_timeout("app", timeout="100ms", duration="1m", name="tight",
                                           postgres_dsn=db.dsn)  # fmt: skip
    assert handle["effect"] == "unknown" and "measured when removed" in handle["evidence"]["reason"]
    reset = actions.reset_statement_timeout("app", postgres_dsn=db.dsn)
    assert reset["name"] == "tight" and reset["effect"] == "none", reset
    assert reset["evidence"] == {
        "role_sessions_started": 0, "server_sessions_opened": 0,
        "reason": "no session was opened while it held, so the timeout reached no statement"}


def test_statement_timeout_of_a_role_without_one_heals_to_none(db: Db) -> None:
    assert db.role_setting("app") == []
    actions.set_statement_timeout("app", timeout="100ms", duration="1s", postgres_dsn=db.dsn)
    assert db.role_setting("app") == ["statement_timeout=100ms"]
    entry = next(iter(Ledger().entries().values()))
    assert entry["healer_pid"] and entry["state"]["original"] is None
    # The detached healer, not this process, restores it.
    wait_until(lambda: db.role_setting("app") == [], 15, "healer restoring statement_timeout")
    with psycopg.connect(db.app_dsn) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("0",)
    wait_until(lambda: Ledger().entries() == {}, 5, "ledger entry removed")


def test_names_needing_quotes_are_used_safely(db: Db) -> None:
    handle = actions.lock_table("Sales.Price List", duration="30s", postgres_dsn=db.dsn)
    assert handle["spec"]["table"] == "Sales.Price List"
    with pytest.raises(FaultFailed, match="statement timeout"):
        probes.row_count("Sales.Price List", timeout="200ms", postgres_dsn=db.dsn)
    assert actions.unlock_table("Sales.Price List", postgres_dsn=db.dsn)["removed"] is True
    assert probes.row_count("Sales.Price List", postgres_dsn=db.dsn) == 3
    assert len(probes.table_checksum("Sales.Price List", "sku", postgres_dsn=db.dsn)) == 64
    with pytest.raises(TargetNotFound):  # a whole name is one identifier, not SQL
        probes.row_count("orders; drop table orders", postgres_dsn=db.dsn)
    role = 'Tenant "Admin"'
    actions.set_statement_timeout(role, "2s", "5m", postgres_dsn=db.dsn)
    assert db.role_setting(role) == ["statement_timeout=2000ms"]
    assert actions.reset_statement_timeout(role, postgres_dsn=db.dsn)["removed"] is True
    assert db.role_setting(role) == []
    assert probes.row_count("orders", postgres_dsn=db.dsn) == 500


BAD_CALLS: list[tuple[str, Callable[[str], Any], type[Exception]]] = [
    ("negative duration", lambda d: actions.exhaust_connections("-1s", postgres_dsn=d),
     InvalidArgument),
    ("malformed duration", lambda d: actions.lock_table("orders", duration="soon",
                                                        postgres_dsn=d), InvalidArgument),
    ("zero duration", lambda d: actions.set_statement_timeout("app", "1s", "0s", postgres_dsn=d),
     InvalidArgument),
    ("negative leave_free", lambda d: actions.exhaust_connections("5s", -1, postgres_dsn=d),
     InvalidArgument),
    ("unknown table", lambda d: actions.lock_table("no_such_table", postgres_dsn=d),
     TargetNotFound),
    ("bad table name", lambda d: actions.lock_table("a.b.c", postgres_dsn=d), InvalidArgument),
    ("bad lock mode", lambda d: actions.lock_table("orders", mode="TOTAL", postgres_dsn=d),
     InvalidArgument),
    ("unknown role", lambda d: actions.set_statement_timeout("nobody", "1s", postgres_dsn=d),
     TargetNotFound),
    ("zero timeout", lambda d: actions.set_statement_timeout("app", "0ms", postgres_dsn=d),
     InvalidArgument),
    ("no filter", lambda d: actions.terminate_backends(postgres_dsn=d), InvalidArgument),
    ("unknown key column", lambda d: probes.table_checksum("orders", "nope", postgres_dsn=d),
     TargetNotFound),
    ("bad state", lambda d: probes.connection_count("sleeping", postgres_dsn=d), InvalidArgument),
]  # fmt: skip


@pytest.mark.parametrize("call,error", [(c, e) for _, c, e in BAD_CALLS],
                         ids=[name for name, _, _ in BAD_CALLS])  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(
    db: Db, call: Callable[[str], Any], error: type[Exception]
) -> None:
    sessions = probes.connection_count(postgres_dsn=db.dsn)
    with pytest.raises(error) as info:
        call(db.dsn)
    assert PASSWORD not in str(info.value)
    assert held_faults() == [] and Ledger().entries() == {}
    assert db.role_setting("app") == []
    # A refused call closes what it opened (the server may take a moment to notice).
    wait_until(lambda: probes.connection_count(postgres_dsn=db.dsn) <= sessions, 5,
               "sessions back to the count before the call")  # fmt: skip
    assert probes.blocked_queries(postgres_dsn=db.dsn) == []


def test_unreachable_server_fails_fast_naming_target_without_password() -> None:
    port = free_port()
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/shop"
    for call in (
        lambda: actions.exhaust_connections("5s", postgres_dsn=dsn),
        lambda: actions.lock_table("orders", postgres_dsn=dsn),
        lambda: actions.set_statement_timeout("app", "1s", postgres_dsn=dsn),
        lambda: probes.row_count("orders", postgres_dsn=dsn),
    ):
        started = time.monotonic()
        with pytest.raises(TargetUnreachable) as info:
            call()
        assert time.monotonic() - started < 2.5
        message = str(info.value)
        assert f"127.0.0.1:{port}/shop" in message and PASSWORD not in message
    assert probes.is_available(postgres_dsn=dsn) is False
    assert actions.release_connections(postgres_dsn=dsn)["removed"] is False
    malformed = f"host=127.0.0.1 password={PASSWORD} port"
    for call in (lambda: probes.is_available(postgres_dsn=malformed),
                 lambda: actions.lock_table("orders", postgres_dsn=malformed)):  # fmt: skip
        with pytest.raises(ConfigurationError) as config_error:
            call()
        assert PASSWORD not in str(config_error.value)
    assert actions.reset_statement_timeout("app", postgres_dsn=dsn)["removed"] is False


def test_db_failure_experiment_validates(tmp_path: Path) -> None:
    proc = validate(EXPERIMENT, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_db_failure_experiment_runs_and_rolls_back(db: Db, tmp_path: Path) -> None:
    with db.admin() as conn:
        conn.execute("alter role catalog set statement_timeout = '7s'")
    with db.monitor() as monitor:
        _settle(monitor)
    victim = psycopg.connect(db.app_dsn, application_name="model-catalog")
    env = {
        "CHAOSLLM_POSTGRES_DSN": db.dsn,
        "CHAOSLLM_DB_TABLE": "models",
        "CHAOSLLM_DB_ROLE": "catalog",
        "CHAOSLLM_DB_SERVICE": "model-catalog",
        "CHAOSLLM_FAULT_DURATION": "1s",
        "CHAOSLLM_RECOVERY_WAIT": "1.5",
    }
    proc, journal = run_experiment(EXPERIMENT, tmp_path, env)
    victim.close()
    assert journal.get("status") == "completed", proc.stdout + proc.stderr
    assert journal["deviated"] is False
    runs = {run["activity"]["name"]: run for run in journal["run"]}
    assert all(run["status"] == "succeeded" for run in runs.values()), runs
    assert runs["exhaust-connection-pool"]["output"]["spec"]["free"] == 2
    # Sessions that closed just before may still have been leaving.
    assert 2 <= runs["headroom-while-exhausted"]["output"] <= 4
    assert runs["lock-model-table"]["output"]["spec"]["table"] == "public.models"
    assert runs["kill-service-sessions"]["output"]["terminated"] == 1
    assert runs["model-rows-after-faults"]["output"] == 2
    rollbacks = {run["activity"]["name"]: run for run in journal["rollbacks"]}
    assert set(rollbacks) == {"release-connection-pool", "unlock-model-table",
                              "restore-query-timeout"}  # fmt: skip
    assert all(run["status"] == "succeeded" for run in rollbacks.values())
    # The held faults had ended with their duration; the role setting had not.
    assert rollbacks["release-connection-pool"]["output"]["removed"] is False
    restored = rollbacks["restore-query-timeout"]["output"]
    assert {key: restored[key] for key in ("removed", "target", "role", "restored", "kind")} == {
        "removed": True, "target": f"postgres 127.0.0.1:{db.dsn.split(':')[3]}",
        "role": "catalog", "restored": "7s", "kind": "postgres-statement-timeout",
    }
    assert restored["effect"] in ("unknown", "none") and "role_sessions_started" in restored["evidence"]
    # The lock expired before its rollback: the rollback still reports what its watch saw.
    unlocked = rollbacks["unlock-model-table"]["output"]
    assert unlocked["removed"] is False and unlocked["effect"] in ("observed", "none"), unlocked
    assert db.role_setting("catalog") == ["statement_timeout=7s"]
    assert Ledger().entries() == {}
    assert PASSWORD not in json.dumps(journal)
    with db.admin() as conn:
        conn.execute("alter role catalog reset statement_timeout")


def test_statement_timeout_experiment_takes_dsn_from_configuration(db: Db, tmp_path: Path) -> None:
    experiment = {
        "title": "catalog queries time out",
        "description": "set_statement_timeout with its DSN from the configuration",
        "configuration": {"postgres_dsn": {"type": "env", "key": "TEST_CATALOG_DB"}},
        "method": [{
            "type": "action", "name": "tight-timeout",
            "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                         "func": "set_statement_timeout",
                         "arguments": {"role": "catalog", "timeout": "300ms", "duration": "2m"}},
        }],
        "rollbacks": [{
            "type": "action", "name": "restore-timeout",
            "provider": {"type": "python", "module": "chaosllm.postgres.actions",
                         "func": "reset_statement_timeout", "arguments": {"role": "catalog"}},
        }],
    }  # fmt: skip
    # The configuration wins over the environment setting, which points nowhere.
    env = {
        "TEST_CATALOG_DB": db.dsn,
        "CHAOSLLM_POSTGRES_DSN": f"postgresql://nobody@127.0.0.1:{free_port()}/none",
    }
    proc, journal = run_experiment(experiment, tmp_path, env)
    assert journal.get("status") == "completed", proc.stdout + proc.stderr
    (action,) = journal["run"]
    assert action["status"] == "succeeded"
    assert action["output"]["spec"] == {"role": "catalog", "timeout": "300ms", "duration": "2m",
                                        "original": None}  # fmt: skip
    (rollback,) = journal["rollbacks"]
    assert rollback["output"]["removed"] is True and rollback["output"]["restored"] is None
    assert db.role_setting("catalog") == []
    assert Ledger().entries() == {}
    assert PASSWORD not in json.dumps(journal)
    assert PASSWORD not in (tmp_path / "chaostoolkit.log").read_text()
