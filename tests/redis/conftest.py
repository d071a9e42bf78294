"""Fixtures of the Redis tests."""

from __future__ import annotations

import pytest

ALLOW_MAXMEMORY = '{"redis": {"allow_maxmemory": true}}'


@pytest.fixture
def allow_maxmemory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy that lets a fault change the whole instance's maxmemory."""
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", ALLOW_MAXMEMORY)
