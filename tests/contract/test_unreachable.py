"""Targets that accept a connection and never answer fail fast, naming the
timeout that ran out."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chaosllm.errors import TargetUnreachable
from chaosllm.postgres import actions as postgres
from chaosllm.proxy import actions as proxy
from chaosllm.rabbitmq import actions as rabbitmq
from chaosllm.redis import actions as redis

# These tests wait out connect timeouts against silent servers.
pytestmark = pytest.mark.integration


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback listener that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


CASES: dict[str, tuple[Callable[[int], Any], str, float]] = {
    "redis": (lambda p: redis.flush_keys("x:*", redis_url=f"redis://127.0.0.1:{p}/0"),
              "read timeout 5.0 s", 5.0),
    "postgres": (lambda p: postgres.terminate_backends(
        application_name="x", postgres_dsn=f"postgresql://u@127.0.0.1:{p}/db"),
        "connect timeout 2.0 s", 2.0),
    "rabbitmq": (lambda p: rabbitmq.purge_queue("q", rabbitmq_url=f"amqp://u:p@127.0.0.1:{p}/%2F"),
                 "connect timeout 2.0 s", 2.0),
    "proxy": (lambda p: proxy.inject_latency("p", proxy_api_url=f"http://127.0.0.1:{p}"),
              "timeout 2.0 s", 2.0),
}  # fmt: skip


@pytest.mark.parametrize("backend", sorted(CASES))
def test_silent_target_fails_naming_its_timeout(backend: str, silent_port: int) -> None:
    call, named, limit = CASES[backend]
    started = time.monotonic()
    with pytest.raises(TargetUnreachable, match=f"127.0.0.1:{silent_port}") as info:
        call(silent_port)
    # Generous: the machine is shared. What matters is one attempt, no retries.
    assert time.monotonic() - started < limit * 2 + 3
    assert named in str(info.value)
