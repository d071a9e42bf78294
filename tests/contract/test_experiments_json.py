"""Every shipped experiment is plain JSON that reads one way, rolls back on interruption
and keeps secrets out of its journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").rglob("*.json"))


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"key(s) {repeated} appear more than once; a JSON reader keeps only the last")
    return dict(pairs)


def test_there_are_shipped_experiments() -> None:
    assert len(SHIPPED) >= 15


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_key_is_written_twice(path: Path) -> None:
    json.loads(path.read_text(), object_pairs_hook=_refuse_duplicates)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_experiment_rolls_back_on_interruption(path: Path) -> None:
    controls = json.loads(path.read_text()).get("controls", [])
    modules = [c["provider"]["module"] for c in controls]
    assert "chaosllm.controls.rollbacks" in modules, f"{path.name} lacks the rollbacks control"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_experiment_redacts_its_journal_last(path: Path) -> None:
    controls = json.loads(path.read_text()).get("controls", [])
    modules = [c["provider"]["module"] for c in controls]
    assert modules[-1:] == ["chaosllm.controls.redact"], f"{path.name}: the redact control is not last"
