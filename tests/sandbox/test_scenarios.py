"""The scenario experiments: both variants of all six, and every activity they
name exists and accepts the arguments given (so a renamed parameter elsewhere
breaks here, not in the middle of a demo)."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
FILES = sorted(SCENARIOS.glob("*/*.json"))


def _providers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    activities = [*doc["steady-state-hypothesis"]["probes"], *doc["method"], *doc["rollbacks"]]
    found = [a["provider"] for a in activities]
    found += [a["tolerance"]["provider"] for a in activities
              if isinstance(a.get("tolerance"), dict)]  # fmt: skip
    return [p for p in found if p.get("type") == "python"]


def test_six_scenarios_in_two_variants() -> None:
    local = sorted(p.name for p in (SCENARIOS / "local").glob("*.json"))
    assert len(local) == 6
    assert local == sorted(p.name for p in (SCENARIOS / "k8s").glob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_activity_exists_with_its_arguments(path: Path) -> None:
    doc = json.loads(path.read_text())
    for provider in _providers(doc):
        func = getattr(importlib.import_module(provider["module"]), provider["func"])
        params = inspect.signature(func).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        unknown = set(provider.get("arguments", {})) - set(params)
        assert not unknown, f"{path.name}: {provider['func']} has no parameter {unknown}"
    controls = {c["provider"]["module"] for c in doc["controls"]}
    assert {"chaosllm.controls.guard", "chaosllm.controls.metrics"} <= controls
    if path.parent.name == "local":
        assert "chaosllm.sandbox.control" in controls
        # Criteria are judged with the SLO tolerances or plain values, never by eye.
        assert all("tolerance" in probe for probe in doc["steady-state-hypothesis"]["probes"])
