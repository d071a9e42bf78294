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
import yaml

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
FILES = sorted(SCENARIOS.glob("*/*.json"))


def _providers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    activities = [*doc["steady-state-hypothesis"]["probes"], *doc["method"], *doc.get("rollbacks", [])]
    found = [a["provider"] for a in activities if "ref" not in a]
    found += [a["tolerance"]["provider"] for a in activities
              if isinstance(a.get("tolerance"), dict) and "provider" in a["tolerance"]]  # fmt: skip
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
    if controls == {"chaosllm.controls.blast_radius"}:  # Kubernetes 01-05: run with their control file
        declared = yaml.safe_load((path.parents[2] / "settings" / "k8s-controls.yaml").read_text())
        controls |= {c["provider"]["module"] for c in declared.values()}
    assert {"chaosllm.controls.guard", "chaosllm.controls.metrics"} <= controls
    if path.parent.name == "local":
        assert "chaosllm.sandbox.control" in controls
        # Criteria are judged with the SLO tolerances or plain values, never by eye.
        assert all("tolerance" in probe for probe in doc["steady-state-hypothesis"]["probes"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_rollback_by_reference_names_an_action_of_the_method(path: Path) -> None:
    """Chaos Toolkit finds a ``{"ref": name}`` among the method and the hypothesis only."""
    doc = json.loads(path.read_text())
    actions = {a["name"]: a for a in doc["method"] if "ref" not in a}
    for rollback in doc.get("rollbacks", []):
        if "ref" in rollback:
            assert set(rollback) == {"ref"}, rollback
            assert actions[rollback["ref"]]["type"] == "action", rollback


# Lines (wc -l) of the local scenarios 01-05: strictly below half of what they were when they
# wrote each SLO check out in full (287, 256, 291, 288, 332).
HALF_LENGTH = {"01": 143, "02": 127, "03": 145, "04": 143, "05": 165}


@pytest.mark.parametrize("number", sorted(HALF_LENGTH))
def test_the_local_scenarios_stay_under_half_their_old_length(number: str) -> None:
    (path,) = (SCENARIOS / "local").glob(f"{number}-*.json")
    lines = len(path.read_text().splitlines())
    assert lines <= HALF_LENGTH[number], f"{path.name}: {lines} lines, at most {HALF_LENGTH[number]}"
