"""Every shipped experiment is plain JSON that reads one way, rolls back on interruption
and keeps secrets out of its journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").rglob("*.json"))


# Experiments run with a control file (their docs and the pipelines say so): its controls count.
K8S_CONTROLS = ROOT / "experiments" / "settings" / "k8s-controls.yaml"
CONTROL_FILE = {path: K8S_CONTROLS for path in SHIPPED
                if path.parent.name == "k8s" and path.name[:2] in ("01", "02", "03", "04", "05")}


def _modules(path: Path) -> list[str]:
    """The control modules of a run of the experiment: its own, then its control file's
    (a global redact masks what the experiment's controls write too)."""
    import yaml

    controls = json.loads(path.read_text()).get("controls", [])
    modules = [c["provider"]["module"] for c in controls]
    if path in CONTROL_FILE:
        declared = yaml.safe_load(CONTROL_FILE[path].read_text())
        modules += [c["provider"]["module"] for c in declared.values()]
    return modules


def test_the_experiments_run_with_the_control_file_declare_no_control_of_it() -> None:
    assert len(CONTROL_FILE) == 5
    for path in CONTROL_FILE:
        own = [c["provider"]["module"] for c in json.loads(path.read_text()).get("controls", [])]
        assert own == ["chaosllm.controls.blast_radius"], path.name


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
    modules = _modules(path)
    assert "chaosllm.controls.rollbacks" in modules, f"{path.name} lacks the rollbacks control"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_experiment_redacts_its_journal_last(path: Path) -> None:
    modules = _modules(path)
    assert modules[-1:] == ["chaosllm.controls.redact"], f"{path.name}: the redact control is not last"
