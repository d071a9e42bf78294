"""Sandbox parts that need no server: breaker, bulkhead, load statistics, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chaosllm.sandbox.app._resilience import CircuitBreaker, Dependency, Unavailable
from chaosllm.sandbox.app.demo import judged, summary_table, verdict
from chaosllm.sandbox.app.loadrun import quantile, summarise

# These tests start the sandbox services as processes.
pytestmark = pytest.mark.integration


def test_breaker_opens_half_opens_and_closes() -> None:
    breaker = CircuitBreaker("test-a", window=10, min_failures=5, reset_after=0.2)
    for ok in (True, False, True, False, False, False):
        breaker.record(ok)
    assert breaker.state == CircuitBreaker.CLOSED  # 4 failures: not yet
    breaker.record(False)
    assert breaker.state == CircuitBreaker.OPEN and not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow() and breaker.state == CircuitBreaker.HALF_OPEN
    assert not breaker.allow()  # one trial call at a time
    breaker.record(False)
    assert breaker.state == CircuitBreaker.OPEN
    time.sleep(0.25)
    assert breaker.allow()
    breaker.record(True)
    assert breaker.state == CircuitBreaker.CLOSED and breaker.allow()


def test_dependency_bulkhead_refuses_beyond_its_slots() -> None:
    dep = Dependency("test-b", max_concurrent=1, wait=0.01)
    inside, release = threading.Event(), threading.Event()

    def slow() -> str:
        inside.set()
        release.wait(5)
        return "done"

    worker = threading.Thread(target=dep.call, args=(slow,))
    worker.start()
    inside.wait(5)
    with pytest.raises(Unavailable, match="bulkhead full"):
        dep.call(lambda: "second")
    release.set()
    worker.join()
    assert dep.call(lambda: "third") == "third"


def test_dependency_failures_open_the_breaker() -> None:
    dep = Dependency("test-c", reset_after=60)

    def boom() -> None:
        raise ConnectionError("refused")

    for _ in range(5):
        with pytest.raises(Unavailable, match="ConnectionError"):
            dep.call(boom)
    with pytest.raises(Unavailable, match="circuit breaker open"):
        dep.call(lambda: None)
    assert dep.status() == {"breaker": "open"}


def test_load_summary_counts_failures_and_quantiles() -> None:
    rows = [{"t": 100.0 + i / 10, "op": "catalog", "ok": i != 3, "lat": (i + 1) / 100}
            for i in range(20)]  # fmt: skip
    stats = summarise(rows)
    assert stats["requests"] == 20 and stats["failed"] == 1 and stats["error_ratio"] == 0.05
    assert stats["p50"] == 0.1 and stats["p95"] == 0.19 and stats["max"] == 0.2
    assert stats["by_op"] == {"catalog": {"requests": 20, "failed": 1}}
    assert quantile([], 0.95) is None


def test_demo_verdict_is_the_reports_verdict() -> None:
    samples = Path(__file__).resolve().parents[2] / "journals" / "samples"

    def read(name: str) -> dict[str, Any]:
        return dict(json.loads((samples / name).read_text()))

    # A completed run whose recovery criterion raised, and one whose fault had no effect:
    # chaoslib says "completed" for both, the report does not.
    result, reasons = verdict(read("k8s-recovery-failed.json"))
    assert result == "FAILED" and any("gateway-recovers" in r for r in reasons), reasons
    result, reasons = verdict(read("effect-none.json"))
    assert result == "INCONCLUSIVE" and reasons, reasons
    assert verdict(read("effect-observed.json")) == ("PASSED", [])
    assert verdict(read("plain-deviated.json"))[0] == "FAILED"
    assert verdict(read("guard-aborted.json"))[0] == "ABORTED"
    assert verdict(read("plain-interrupted.json"))[0] == "INTERRUPTED"
    assert verdict({"status": "completed"})[0] == "ERROR"
    # The criteria counted in the same reading: the hypothesis after the method, one per SLO of a
    # probe over several SLOs.
    deviated = read("plain-deviated.json")
    assert {k: judged(deviated)[k] for k in ("result", "met", "total", "failed")} == {
        "result": "FAILED", "met": 0, "total": 1, "failed": ["marker-exists"]}
    probe = deviated["steady_states"]["after"]["probes"][0]
    probe.update(tolerance_met=False, output={"status": "missed", "slos": [
        {"name": "traffic", "status": "met"}, {"name": "errors", "status": "missed"}]})
    probe["activity"]["tolerance"] = ["met"]
    assert {k: judged(deviated)[k] for k in ("met", "total", "failed")} == {
        "met": 1, "total": 2, "failed": ["marker-exists: errors"]}
    table = summary_table([{"index": 1, "name": "x", "result": "FAILED", "met": 3, "total": 4,
                            "seconds": 41.2, "failed": ["p95"], "load": {"p95": 0.25}},
                           {"index": 2, "name": "y", "result": "INCONCLUSIVE", "met": 4, "total": 4,
                            "seconds": 30.0, "failed": [], "load": {},
                            "reasons": ["fault 'db' had effect none", "load 'x' sent no request"]}])
    assert "FAILED" in table and "3/4" in table and "250 ms" in table and "p95" in table
    assert "fault 'db' had effect none (+1 more)" in table


@pytest.mark.parametrize("args", [["sandbox", "--help"], ["sandbox", "up", "--help"],
                                  ["sandbox", "down", "--help"], ["sandbox", "status", "--help"],
                                  ["sandbox", "env", "--help"]])  # fmt: skip
def test_cli_help_at_every_level(args: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", "chaosllm.cli", *args], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "usage: chaosllm sandbox" in out


def test_status_of_a_missing_sandbox(tmp_path: object) -> None:
    out = subprocess.run([sys.executable, "-m", "chaosllm.cli", "sandbox", "status", "--dir",
                          str(tmp_path)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "no sandbox in" in out


def test_load_is_open_loop_against_a_slow_target(tmp_path: object) -> None:
    """A target that takes 200 ms per request and serves one at a time: a
    closed-loop generator would report 200 ms; the open loop reports the
    queueing its schedule ran into."""
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from pathlib import Path

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.2)
            body = b'{"items": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out = Path(str(tmp_path)) / "load.jsonl"
    try:
        subprocess.run([sys.executable, "-m", "chaosllm.sandbox.app.loadgen", "--url",
                        f"http://127.0.0.1:{server.server_port}", "--out", str(out),
                        "--rate", "20", "--duration", "1", "--target", "recs"],
                       check=True, timeout=30)  # fmt: skip
    finally:
        server.shutdown()
    rows = sorted((json.loads(line) for line in out.read_text().splitlines()),
                  key=lambda r: r["t"])  # fmt: skip
    assert len(rows) == 20 and all(r["ok"] for r in rows)
    gaps = [b["t"] - a["t"] for a, b in zip(rows, rows[1:], strict=False)]
    assert all(abs(gap - 0.05) < 0.005 for gap in gaps)  # the schedule, not the answers
    assert max(r["lat"] for r in rows) > 2.0  # the 20th waited behind 19 others


def test_the_load_control_refuses_to_run_without_load_and_reports_only_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chaoslib.exceptions import InterruptExecution

    from chaosllm.sandbox import control

    stopped: list[str] = []

    def refuse(**kwargs: object) -> dict[str, object]:
        raise ValueError("rate 5000 is above the maximum")

    monkeypatch.setattr(control, "start_load", refuse)
    monkeypatch.setattr(control, "stop_load", lambda name, *a: stopped.append(name) or {"name": name})
    with pytest.raises(InterruptExecution, match="sandbox load could not start: rate 5000"):
        control.before_experiment_control({}, rate=5000, warmup="0s")
    state: dict[str, object] = {}
    control.after_experiment_control({}, state)
    assert stopped == [] and "extensions" not in state  # no stale summary of an older load

    monkeypatch.setattr(control, "start_load", lambda **kw: {"name": "load", "rate": 5})
    control.before_experiment_control({}, rate=5, warmup="0s")
    control.after_experiment_control({}, state)
    assert stopped == ["load"] and state["extensions"]


def test_a_crash_looping_replica_is_restarted_with_backoff_and_stopped_cleanly(tmp_path: object) -> None:
    import json
    import os
    import signal
    from pathlib import Path

    from chaosllm.sandbox.app.launcher import free_port

    folder = Path(str(tmp_path))
    ports = ",".join(str(free_port()) for _ in range(4))
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "chaosllm.sandbox.app.supervisor", "--dir", str(folder),
         "--port", str(free_port()), "--replica-ports", ports, "--", "--no-such-option"],
        start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(6)
        events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
        exits = [e for e in events if e.get("event") == "replica_exited"]
        assert 2 <= len(exits) <= 16, len(exits)  # without a backoff: about 75 in 6 s
        assert max(e.get("restart_in", 0) for e in exits) >= 1.0
        supervisor.send_signal(signal.SIGTERM)
        supervisor.send_signal(signal.SIGTERM)  # a second signal while it shuts down
        assert supervisor.wait(20) == 0
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait(5)
    left = [p for p in folder.glob("gateway-*.pid") if Path(f"/proc/{p.read_text().strip()}").exists()]
    assert left == []


def test_stop_load_reports_the_requests_sent_as_its_effect(tmp_path: Path) -> None:
    from chaosllm.sandbox import actions
    from chaosllm.sandbox.app import loadrun

    cfg = {"sandbox_dir": str(tmp_path)}
    results = loadrun.results_path(tmp_path, "load")
    results.parent.mkdir()
    now = time.time()
    results.write_text("".join(json.dumps(row) + "\n" for row in (
        {"t": now - 2, "lat": 0.01, "ok": True, "op": "catalog"},
        {"t": now - 1, "lat": 0.02, "ok": False, "op": "catalog", "error": "HTTP 503"})))
    summary = actions.stop_load("load", configuration=cfg)
    assert summary["stopped"] is False and summary["requests"] == 2
    assert summary["effect"] == "observed"
    assert summary["evidence"] == {"requests_sent": 2, "requests_failed": 1}
    results.write_text("")
    idle = actions.stop_load("load", configuration=cfg)
    assert idle["effect"] == "none" and idle["evidence"] == {
        "requests_sent": 0, "requests_failed": 0, "reason": "load run 'load' sent no request"}
