"""Guard conditions are checked when the run loads them, after their placeholders
are filled in: a bad one stops ``chaos run`` before the first activity, naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaosllm.controls._conditions import parse_conditions
from chaosllm.errors import InvalidArgument
from chaosllm.thresholds import parse_threshold
from tests.chaos_run import run_experiment

pytestmark = pytest.mark.integration


def _experiment(workdir: Path, conditions: Any, configuration: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "guarded", "description": "a guard whose conditions are read at load",
        "configuration": configuration,
        "method": [{"type": "action", "name": "touch-marker",
                    "provider": {"type": "process", "path": "touch",
                                 "arguments": str(workdir / "ran")}}],
        "controls": [{"name": "chaosllm-guard", "provider": {
            "type": "python", "module": "chaosllm.controls.guard",
            "arguments": {"conditions": conditions, "prometheus_base_url": "http://127.0.0.1:9"}}}],
    }  # fmt: skip


LATENCY = {"metric": "http_request_duration_seconds"}
CASES: list[tuple[str, Any, dict[str, Any], str]] = [
    ("quantile-p95", [{"name": "p95 latency", "latency_quantile": {**LATENCY, "quantile": "${q}"},
                       "above": 1}], {"q": "p95"}, "latency_quantile.quantile"),
    ("quantile-out-of-range-scrape", [{"name": "scraped p99", "scrape": "http://127.0.0.1:9/metrics",
                                       "latency_quantile": {**LATENCY, "quantile": "${q}"},
                                       "above": 1}], {"q": 2}, "latency_quantile.quantile"),
    ("threshold-nan", [{"name": "errors", "query": "up", "above": "${t}"}], {"t": "nan"},
     "must be a finite number"),
    ("threshold-infinite", [{"name": "errors", "query": "up", "below": "${t}"}], {"t": "-inf"},
     "must be a finite number"),
    ("threshold-huge-integer", [{"name": "errors", "query": "up", "above": "${t}"}], {"t": 10**400},
     "must be a finite number"),
    ("unknown-kind", "${conditions}",
     {"conditions": [{"name": "odd", "latency": LATENCY, "above": 1}]}, "unknown field(s) 'latency'"),
    ("no-kind", "${conditions}", {"conditions": [{"name": "odd", "above": 1}]}, "guard condition 1"),
]


@pytest.mark.parametrize("case, conditions, configuration, reason", CASES, ids=[c[0] for c in CASES])
def test_a_bad_condition_behind_a_placeholder_stops_the_run_and_is_named(
    tmp_path: Path, case: str, conditions: Any, configuration: dict[str, Any], reason: str
) -> None:
    log = tmp_path / "audit.jsonl"
    proc, journal = run_experiment(_experiment(tmp_path, conditions, configuration), tmp_path,
                                   env={"CHAOSLLM_AUDIT_LOG": str(log)}, timeout=120)  # fmt: skip
    assert not (tmp_path / "ran").exists(), proc.stderr
    assert journal["status"] == "interrupted" and journal["run"] == [], proc.stderr
    name = "guard condition 1 ('odd')" if "kind" in case else "guard condition 1"
    assert name in proc.stderr and reason in proc.stderr
    assert "Traceback" not in proc.stderr
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["event"] == "control-refused" and entry["control"] == "chaosllm-guard"
    assert name in entry["error"] and reason in entry["error"]


WRITTEN: list[tuple[str, dict[str, Any], str]] = [
    ("quantile-p95", {"name": "p95 latency", "latency_quantile": {**LATENCY, "quantile": "p95"}, "above": 1},
     "guard condition 1 ('p95 latency'): field 'latency_quantile.quantile' must be a number between 0 "
     "and 1, got 'p95'"),
    ("threshold-nan-float", {"name": "errors", "query": "up", "above": float("nan")},
     "guard condition 1 ('errors'): field 'above' must be a finite number"),
    ("threshold-nan-string", {"name": "errors", "query": "up", "above": "nan"},
     "guard condition 1 ('errors'): field 'above' must be a finite number"),
    ("threshold-infinite-string", {"name": "errors", "query": "up", "below": "-inf"},
     "guard condition 1 ('errors'): field 'below' must be a finite number"),
    ("unknown-kind", {"name": "odd", "latency": LATENCY, "above": 1},
     "guard condition 1 ('odd'): unknown field(s) 'latency'"),
]


@pytest.mark.parametrize("case, condition, reason", WRITTEN, ids=[c[0] for c in WRITTEN])
def test_a_bad_condition_written_in_the_experiment_is_refused_by_validation(
    tmp_path: Path, case: str, condition: dict[str, Any], reason: str
) -> None:
    proc, journal = run_experiment(_experiment(tmp_path, [condition], {}), tmp_path, timeout=120)
    assert not (tmp_path / "ran").exists() and journal == {}
    assert proc.returncode != 0
    assert reason in proc.stderr
    assert "Traceback" not in proc.stderr + (tmp_path / "chaostoolkit.log").read_text()


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999", "nan%", float("nan"),
                                   float("inf"), 10**400],
                         ids=["nan", "NaN", "inf", "-inf", "1e999", "nan%", "float-nan", "float-inf",
                              "10**400"])  # fmt: skip
def test_a_threshold_is_a_finite_number(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="must be a finite number"):
        parse_threshold(value, "threshold")
    with pytest.raises(InvalidArgument, match="guard condition 1"):
        parse_conditions([{"query": "up", "above": value}], 0.0, 1)
