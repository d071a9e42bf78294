"""The sandbox's criterion probes for scale-out, latency degradation and throughput judge
the same numbers as the plain probes do, with the same strictness as the below/above
tolerances the scenarios used to apply to them; their tolerance is ``["met"]``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from chaoslib.hypothesis import within_tolerance

from chaosllm.sandbox import probes
from chaosllm.slo.tolerances import above, below


def _config(directory: Path) -> dict[str, Any]:
    return {"sandbox_dir": str(directory)}


def _events(directory: Path, *events: dict[str, Any]) -> None:
    (directory / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def _results(directory: Path, rows: list[dict[str, Any]]) -> None:
    (directory / "load").mkdir(exist_ok=True)
    (directory / "load" / "load.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(("events", "seconds", "met"), [
    ([], 0.0, True),  # no sustained pressure: nothing to scale for
    ([{"event": "cpu_pressure", "since": 100.0, "t": 105.0},
      {"event": "scale_up", "t": 110.0}], 10.0, True),
    ([{"event": "cpu_pressure", "since": 100.0, "t": 105.0},
      {"event": "scale_up", "t": 160.0}], 60.0, False),  # 60 s is not within 60 s, as "below"
    ([{"event": "cpu_pressure", "since": 100.0, "t": 105.0}], None, False),  # never scaled
])  # fmt: skip
def test_scale_out_within(tmp_path: Path, events: list[dict[str, Any]], seconds: float | None,
                          met: bool) -> None:  # fmt: skip
    _events(tmp_path, *events)
    config = _config(tmp_path)
    assert probes.scale_out_seconds(configuration=config) == seconds
    result = probes.scale_out_within("60s", configuration=config)
    assert result["seconds"] == seconds and result["met"] is met
    assert below(seconds, "60s") is met
    assert within_tolerance(["met"], result) is met


def _row(t: float, lat: float, ok: bool = True) -> dict[str, Any]:
    return {"t": t, "lat": lat, "ok": ok, "op": "catalog"}


@pytest.mark.parametrize(("recent", "met"), [(0.1, True), (0.2, False), (0.3, False)])
def test_latency_degrades_less_than(tmp_path: Path, recent: float, met: bool) -> None:
    now = time.time()
    # Baseline 0.1 s in the run's first 8 s; `recent` in its last 20 s.
    _results(tmp_path, [_row(now - 60 + i, 0.1) for i in range(5)]
             + [_row(now - 10 + i, recent) for i in range(5)])  # fmt: skip
    config = _config(tmp_path)
    ratio = probes.latency_degradation(baseline="8s", window="20s", configuration=config)
    assert ratio == pytest.approx(recent / 0.1)
    result = probes.latency_degrades_less_than(2.0, baseline="8s", window="20s", configuration=config)
    assert result["degradation"] == ratio and result["met"] is met is below(ratio, 2.0)
    assert within_tolerance(["met"], result) is met


def test_latency_degradation_without_data_is_not_met(tmp_path: Path) -> None:
    _results(tmp_path, [])
    result = probes.latency_degrades_less_than(2.0, configuration=_config(tmp_path))
    assert result["degradation"] is None and result["met"] is False
    assert below(None, 2.0) is False


def test_requests_flow(tmp_path: Path) -> None:
    now = time.time()
    # 18 successful requests and a failed one due in the last 10 s (the last second is left
    # out, its requests may be in flight): 2 a second.
    _results(tmp_path, [_row(now - 9.5 + i / 2, 0.01) for i in range(18)]
             + [_row(now - 5, 0.01, ok=False)])  # fmt: skip
    config = _config(tmp_path)
    rate = probes.load_throughput(window="10s", configuration=config)
    assert rate == 2.0
    for limit, met in ((1.5, True), (2.0, False), (3.0, False)):  # above 2 is strictly above
        result = probes.requests_flow(limit, window="10s", configuration=config)
        assert result["per_second"] == rate and result["met"] is met is above(rate, limit)
        assert within_tolerance(["met"], result) is met
