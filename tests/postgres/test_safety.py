"""No implicit target, the application blast-radius policy and the dry run, on a private PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chaosllm.errors import ConfigurationError, PolicyViolation
from chaosllm.faults import Ledger, held_faults
from chaosllm.postgres import actions, probes
from chaosllm.sandbox.app import launcher

DATABASE = "chaosllm_pg_safety"


@pytest.fixture(scope="module")
def dsn(postgres_server: launcher.Server) -> Iterator[str]:
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {DATABASE} with (force)")
        conn.execute(f"create database {DATABASE}")
        conn.execute("drop role if exists reporting")
        conn.execute("create role reporting login")
    url = f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{DATABASE}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table models (id text primary key); insert into models values ('a'), ('b')")
    yield url
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {DATABASE} with (force)")
        conn.execute("drop role if exists reporting")


@pytest.fixture
def victim(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A client session that terminate_backends could end."""
    conn = psycopg.connect(dsn, autocommit=True, application_name="safety-victim")
    pid = conn.info.backend_pid
    yield conn
    conn.close()
    # The server ends the backend after the client has gone; wait for that,
    # so that the next test's snapshot does not see it vanish.
    with psycopg.connect(dsn, autocommit=True) as watcher:
        deadline = time.monotonic() + 10
        while watcher.execute("select 1 from pg_stat_activity where pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} outlived its client"
            time.sleep(0.02)


def _state(dsn: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn, autocommit=True, application_name="chaosllm-test-state") as conn:
        sessions = conn.execute(
            "select pid from pg_stat_activity where application_name = 'safety-victim'").fetchall()
        settings = conn.execute(
            "select coalesce(array_agg(s.setconfig), '{}') from pg_db_role_setting s"
            " join pg_roles r on r.oid = s.setrole where r.rolname = 'reporting'").fetchone()
        locks = conn.execute("select count(*) from pg_locks l join pg_class c on c.oid = l.relation"
                             " where c.relname = 'models' and l.mode = 'AccessExclusiveLock'").fetchone()
    return sorted(sessions), settings, locks, sorted(held_faults()), Ledger().entries()


@pytest.mark.parametrize("call", [
    lambda: actions.exhaust_connections("1s"),
    lambda: actions.lock_table("models", duration="1s"),
    lambda: actions.terminate_backends(application_name="safety-victim"),
    lambda: actions.set_statement_timeout("reporting", "1s", "5s"),
    lambda: probes.is_available(),
    lambda: probes.row_count("models"),
])  # fmt: skip
def test_no_target_configured_is_refused_and_changes_nothing(
    dsn: str, victim: Any, monkeypatch: pytest.MonkeyPatch, call: Any
) -> None:
    monkeypatch.delenv("CHAOSLLM_POSTGRES_DSN", raising=False)
    for name in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER"):  # libpq's own defaults must not be used
        monkeypatch.delenv(name, raising=False)
    before = _state(dsn)
    with pytest.raises(ConfigurationError, match="postgres_dsn.*CHAOSLLM_POSTGRES_DSN"):
        call()
    assert _state(dsn) == before


@pytest.mark.parametrize(("policy", "call", "rule"), [
    ({"databases": ["shop"]}, lambda d, c: actions.lock_table("models", duration="5s", postgres_dsn=d,
                                                            configuration=c), "databases"),
    ({"tables": ["orders"]}, lambda d, c: actions.lock_table("models", duration="5s", postgres_dsn=d,
                                                            configuration=c), "tables"),
    ({"roles": ["catalog"]}, lambda d, c: actions.set_statement_timeout(
        "reporting", "1s", "5s", postgres_dsn=d, configuration=c), "roles"),
    ({"databases": [DATABASE]}, lambda d, c: actions.terminate_backends(
        application_name="safety-victim", postgres_dsn=d, configuration=c), "every database"),
    ({"max_sessions": 0}, lambda d, c: actions.terminate_backends(
        application_name="safety-victim", postgres_dsn=d, configuration=c), "max_sessions 0"),
    ({"forbidden_targets": ["127.0.0.1:*"]}, lambda d, c: actions.exhaust_connections(
        "5s", postgres_dsn=d, configuration=c), "forbidden_targets"),
])  # fmt: skip
def test_policy_refuses_before_any_change(dsn: str, victim: Any, policy: Any, call: Any, rule: str) -> None:
    before = _state(dsn)
    with pytest.raises(PolicyViolation, match=f"blast_radius.postgres.*{rule}|{rule}.*blast_radius"):
        call(dsn, {"blast_radius": {"postgres": policy}})
    assert _state(dsn) == before


def test_dry_run_previews_and_changes_nothing(dsn: str, victim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "true")
    before = _state(dsn)
    ended = actions.terminate_backends(application_name="safety-victim", postgres_dsn=dsn)
    assert ended["dry_run"] is True and ended["effect"] == "none"
    assert ended["would_touch"]["pids"] == [victim.info.backend_pid]
    lock = actions.lock_table("models", duration="5s", postgres_dsn=dsn)
    assert lock["would_touch"] == {"table": "public.models"}
    timeout = actions.set_statement_timeout("reporting", "1s", "5s", postgres_dsn=dsn)
    assert timeout["would_touch"] == {"role": "reporting", "exists": True, "statement_timeout": None}
    slots = actions.exhaust_connections("5s", leave_free=1, postgres_dsn=dsn)
    assert slots["would_touch"]["would_open"] == slots["would_touch"]["free"] - 1 > 0
    assert _state(dsn) == before
    assert victim.execute("select 1").fetchone() == (1,)


def test_the_controls_policy_argument_reaches_the_actions(dsn: str, victim: Any) -> None:
    from chaosllm.controls.blast_radius import configure_control

    configuration: dict[str, Any] = {"postgres_dsn": dsn}
    configure_control(policy={"postgres": {"max_sessions": 0, "tables": ["orders"]}},
                      configuration=configuration)  # fmt: skip
    before = _state(dsn)
    with pytest.raises(PolicyViolation, match="max_sessions 0.*the blast-radius control's policy argument"):
        actions.terminate_backends(application_name="safety-victim", configuration=dict(configuration))
    with pytest.raises(PolicyViolation, match="blast_radius.postgres.tables"):
        actions.lock_table("models", duration="5s", configuration=dict(configuration))
    assert _state(dsn) == before
