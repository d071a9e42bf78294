"""Journals for the report tests: the committed samples, and variants built from them."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "journals" / "samples"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def journal_file(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Write a journal dict to a file and return its path."""

    def write(data: dict[str, Any], name: str = "journal") -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    return write


def slo_journal() -> dict[str, Any]:
    """The redis-pause sample with chaosllm.slo tolerances on its steady-state probes."""
    data = copy.deepcopy(sample("redis-pause"))
    tolerances = [
        ("below", {"threshold": "500ms", "inclusive": True}, 0.2, True),
        ("above", {"threshold": "99%"}, 0.95, False),
        ("between", {"lower": 10, "upper": 20}, 15, True),
        ("slo_met", {"max_burn_rate": 10}, {"value": 0.999, "met": True, "burn_rate": 2.0}, True),
    ]
    probes = []
    for i, (func, args, value, met) in enumerate(tolerances):
        activity = {
            "type": "probe", "name": f"slo-{func}",
            "tolerance": {"type": "probe", "name": f"{func}-check", "provider": {
                "type": "python", "module": "chaosllm.slo.tolerances", "func": func,
                "arguments": args}},
            "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "query_value",
                         "arguments": {"query": "up"}},
        }  # fmt: skip
        probes.append({
            "activity": activity, "output": value, "status": "succeeded",
            "start": f"2026-01-01T00:00:0{i}+00:00", "end": f"2026-01-01T00:00:0{i}.5+00:00",
            "duration": 0.5, "tolerance_met": met,
        })  # fmt: skip
    data["steady_states"]["after"]["probes"] = probes
    data["experiment"]["steady-state-hypothesis"]["probes"] = [p["activity"] for p in probes]
    data["steady_states"]["before"]["probes"] = copy.deepcopy(probes[:1])
    data["deviated"] = True
    return data
