"""Fixtures of the SLO tests: a /metrics target whose traffic the test controls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.slo.target import Target, Traffic


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


@pytest.fixture
def traffic(target: Target) -> Iterator[Traffic]:
    load = Traffic(target)
    yield load
    load.stop()
