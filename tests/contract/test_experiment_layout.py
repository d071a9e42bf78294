"""The shipped experiments keep the one compact layout of scripts/format_experiments.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").rglob("*.json"))


def _formatter() -> ModuleType:
    script = ROOT / "scripts" / "format_experiments.py"
    spec = importlib.util.spec_from_file_location("format_experiments", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_experiments() -> None:
    assert len(EXPERIMENTS) >= 12


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_laid_out_compactly(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == _formatter().formatted(path), (
        f"run: python scripts/format_experiments.py {path.relative_to(ROOT)}")


def test_the_layout_keeps_the_content_and_the_width() -> None:
    formatter = _formatter()
    value = {"a": [1, 2, {"b": "x" * 120}], "c": {"d": True, "e": None}, "f": [], "g": {}}
    text = formatter.render(value)
    assert json.loads(text) == value
    assert '"c": {"d": true, "e": null}' in text
    long_lines = [line for line in text.splitlines() if len(line) > formatter.WIDTH]
    assert long_lines == [f'      "b": "{"x" * 120}"']  # a single long string cannot be split
