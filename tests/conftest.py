"""Shared fixtures: private servers on free loopback ports, stopped by PID.

Under ``CI=true`` a missing server binary fails the run; elsewhere the test
is skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosllm.sandbox.app import launcher
from tests.target import Target, Traffic

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Fixtures that start a server process. A test that uses one, directly or
# through another fixture, is marked ``integration``, so that ``make unit``
# can run the fast tests alone; modules that start processes in other ways
# carry ``pytestmark = pytest.mark.integration`` themselves.
SERVER_FIXTURES = frozenset(
    ("redis_server", "postgres_server", "rabbitmq_server", "prometheus_factory", "proxy_server", "sandbox")
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _start(factory: Callable[..., launcher.Server], *args: Any, **kwargs: Any) -> launcher.Server:
    try:
        return factory(*args, **kwargs)
    except launcher.MissingBinary as exc:
        if IN_CI:
            pytest.fail(f"CI=true and a server binary is missing: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own fault ledger, never the user's; held faults end with it."""
    from chaosllm.faults import Ledger, held_faults, release_held
    from chaosllm.faults.healer import stop_healer

    monkeypatch.setenv("CHAOSLLM_STATE_DIR", str(tmp_path / "state"))
    # Nor the cluster's copy of a ledger the developer's shell or pod may name.
    monkeypatch.delenv("CHAOSLLM_LEDGER_NAMESPACE", raising=False)
    monkeypatch.delenv("CHAOSTOOLKIT_IN_POD", raising=False)
    # Nor the SLO file the developer's shell names ('chaosllm sandbox env' exports one): with a
    # 'guard' list, it would make the blast-radius control refuse every run without a guard.
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    yield
    for entry_id in held_faults():
        release_held(entry_id)
    # A test that failed before its rollback leaves no healer retrying for long after.
    for entry_id, entry in Ledger().entries().items():
        stop_healer(entry_id, entry)
    # A control refused in this test must not refuse the next test's run.
    from chaosllm.controls._failclosed import forget_runs

    forget_runs()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launcher.Server]:
    server = _start(launcher.start_redis, tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: launcher.Server) -> Iterator[str]:
    """A clean database on the private server; config reset after each test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.config_set("maxmemory", "0")
    client.config_set("maxmemory-policy", "noeviction")
    yield redis_server.url
    client.config_set("maxmemory", "0")
    client.config_set("maxmemory-policy", "noeviction")
    client.close()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launcher.Server]:
    if os.geteuid() != 0:
        server = _start(launcher.start_postgres, tmp_path_factory.mktemp("postgres"))
        yield server
        server.stop()
        return
    # As root the server runs as the postgres user, which cannot enter
    # pytest's private (0700) temporary directory.
    import shutil
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="chaosllm-test-pg-"))
    outside.chmod(0o755)
    try:
        server = _start(launcher.start_postgres, outside / "postgres")
        yield server
        server.stop()
    finally:
        shutil.rmtree(outside, ignore_errors=True)


@pytest.fixture(scope="session")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launcher.Server]:
    server = _start(launcher.start_rabbitmq, tmp_path_factory.mktemp("rabbitmq"))
    yield server
    server.stop()


@pytest.fixture
def prometheus_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., launcher.Server]]:
    """Start Prometheus with given scrape targets; stopped after the test."""
    started: list[launcher.Server] = []

    def factory(**kwargs: Any) -> launcher.Server:
        server = _start(launcher.start_prometheus, tmp_path_factory.mktemp("prometheus"), **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def target() -> Iterator[Target]:
    """A /metrics target whose traffic the test controls."""
    server = Target()
    yield server
    server.close()


@pytest.fixture
def traffic(target: Target) -> Iterator[Traffic]:
    load = Traffic(target)
    yield load
    load.stop()
