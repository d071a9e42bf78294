"""The metrics control's window: from the run's start to its end, never earlier."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chaosllm.controls import metrics

SERIES = [{"name": "up", "query": "up", "threshold": "1"}]
# Nothing listens on port 1: each query fails at once and is recorded with its error.
UNREACHABLE = "http://127.0.0.1:1"


def timestamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_control(**arguments: Any) -> tuple[float, dict[str, Any]]:
    state: dict[str, Any] = {}
    started = time.time()
    metrics.before_experiment_control(None, **arguments)
    metrics.after_experiment_control(None, state=state, **arguments)
    [entry] = state["extensions"]
    return started, entry


def test_window_starts_at_the_run_start() -> None:
    started, entry = run_control(series=SERIES, prometheus_base_url=UNREACHABLE)
    start, end = timestamp(entry["window"]["start"]), timestamp(entry["window"]["end"])
    assert started - 0.01 <= start <= end <= time.time()
    [series] = entry["series"]
    assert series["points"] == [] and series["error"]


def test_before_no_longer_widens_the_window() -> None:
    # Older experiments ask for 15 s before the run: the window still starts at the run.
    started, entry = run_control(series=SERIES, prometheus_base_url=UNREACHABLE, before="15s")
    start = timestamp(entry["window"]["start"])
    assert start >= started - 0.01
