"""One sandbox for the whole module that needs it, in a private run dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosllm.sandbox.app import launcher, stack
from tests.conftest import IN_CI


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = Path(tmp_path_factory.mktemp("sandbox"))
    try:
        state = stack.up(directory)
    except launcher.MissingBinary as exc:
        if IN_CI:
            pytest.fail(f"CI=true and a server binary is missing: {exc}")
        pytest.skip(str(exc))
    yield state
    stack.down(directory)


@pytest.fixture
def config(sandbox: dict[str, Any]) -> dict[str, Any]:
    """Chaos Toolkit configuration pointing activities at the sandbox."""
    return dict(sandbox["settings"])
