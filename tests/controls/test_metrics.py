"""The metrics control's window: from the run's start to its end, never earlier."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution, InvalidActivity

from chaosllm.controls import metrics

SERIES = [{"name": "up", "query": "up", "threshold": "1"}]
# Nothing listens on port 1: each query fails at once and is recorded with its error.
UNREACHABLE = "http://127.0.0.1:1"


def timestamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_control(state: dict[str, Any] | None = None, **arguments: Any) -> tuple[float, dict[str, Any]]:
    state = {} if state is None else state
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


def test_after_keeps_recording_after_a_completed_run() -> None:
    started, entry = run_control({"status": "completed"}, series=SERIES,
                                 prometheus_base_url=UNREACHABLE, after="600ms")
    assert timestamp(entry["window"]["end"]) - started >= 0.55  # the window's times keep milliseconds


@pytest.mark.parametrize("status", ["interrupted", "aborted"])
def test_after_is_skipped_when_the_run_was_cut_short(status: str) -> None:
    started, entry = run_control({"status": status}, series=SERIES,
                                 prometheus_base_url=UNREACHABLE, after="30s")
    assert timestamp(entry["window"]["end"]) - started < 5


def test_ctrl_c_during_after_ends_the_wait_and_still_records(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(metrics.time, "sleep", interrupted)
    _, entry = run_control({"status": "completed"}, series=SERIES,
                           prometheus_base_url=UNREACHABLE, after="30s")
    assert entry["series"][0]["name"] == "up"


@pytest.mark.parametrize("after", ["11m", "-1s", "soon"])
def test_a_bad_after_is_refused_before_the_run(after: str) -> None:
    control = {"name": "m", "provider": {"type": "python", "module": "chaosllm.controls.metrics",
                                         "arguments": {"series": SERIES, "after": after}}}
    with pytest.raises(InvalidActivity, match="after"):
        metrics.validate_control(control)
    # At run time the refusal stops the run at its start (the fail-closed rule of every control).
    metrics.configure_control(configuration={"prometheus_base_url": UNREACHABLE}, series=SERIES, after=after)
    with pytest.raises(InterruptExecution, match="'after'"):
        metrics.before_experiment_control(None, series=SERIES, after=after)
