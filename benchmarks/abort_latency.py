"""Abort latency: chaosllm's guard against chaostoolkit-addons' safeguards.

Each trial runs one experiment in this process with chaoslib's runner: a
method that would hold for 10 s and one rollback. A local ``/metrics``
endpoint serves the gauge ``bench_bad``; between 0.5 and 1.5 s after the
method starts the benchmark sets it to 1, which breaks the abort condition
``bench_bad < 0.5``. Both controls read the same endpoint at the same
interval: the guard as a ``scrape`` condition, the safeguard as a repeating
probe that fetches the page with the same client. Figures, from the moment
the gauge flips:

- abort: until chaoslib reports the method over;
- rollback: until the experiment's rollback action starts (if it runs).

Chaos Toolkit's default rollback strategy ("default"), as a user gets it;
the safeguards also run with "always", which they need to roll back at all.
Run: ``python benchmarks/abort_latency.py --trials 20`` (needs the ``bench``
extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_state: dict[str, Any] = {"bad": 0.0, "rollback_at": None}


def gauge_ok(url: str) -> bool:
    """The safeguard's probe: True while ``bench_bad`` is below 0.5."""
    from chaosllm._clients.prometheus import scrape
    from chaosllm.slo.exposition import parse_exposition, total

    value = total(parse_exposition(scrape(url)), "bench_bad")
    return value is None or value < 0.5


def prometheus_ok(base_url: str) -> bool:
    """The safeguard's probe with ``--prometheus``: the same test through Prometheus."""
    from chaosllm.slo.probes import query_value

    value = query_value(QUERY, prometheus_base_url=base_url)
    return value is None or value < 0.5


QUERY = "max(bench_bad)"


def rollback_marker() -> None:
    """The experiment's rollback: notes when it started."""
    if _state["rollback_at"] is None:
        _state["rollback_at"] = time.time()


def _serve() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = f"# TYPE bench_bad gauge\nbench_bad {_state['bad']}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _experiment(control: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "abort latency", "description": "benchmark",
        "method": [{"type": "action", "name": "hold",
                    "provider": {"type": "python", "module": "os", "func": "getpid"},
                    "pauses": {"after": 10}}],
        "rollbacks": [{"type": "action", "name": "undo",
                       "provider": {"type": "python", "module": "__main__",
                                    "func": "rollback_marker"}}],
        "controls": [control],
    }  # fmt: skip


def _guard(url: str, interval: float, prometheus: str | None) -> dict[str, Any]:
    condition: dict[str, Any] = {"scrape": url, "metric": "bench_bad", "above": 0.5}
    if prometheus:
        condition = {"query": QUERY, "above": 0.5}
    return {"name": "chaosllm-guard", "provider": {
        "type": "python", "module": "chaosllm.controls.guard",
        "arguments": {"interval": interval, "prometheus_base_url": prometheus,
                      "conditions": [condition]}}}  # fmt: skip


def _safeguard(url: str, interval: float, prometheus: str | None) -> dict[str, Any]:
    func, arguments = ("prometheus_ok", {"base_url": prometheus}) if prometheus else (
        "gauge_ok", {"url": url})
    return {"name": "safeguard", "provider": {
        "type": "python", "module": "chaosaddons.controls.safeguards",
        "arguments": {"probes": [{
            "name": "bench-ok", "type": "probe", "frequency": interval, "tolerance": True,
            "provider": {"type": "python", "module": "__main__", "func": func,
                         "arguments": arguments}}]}}}  # fmt: skip


def _trial(
    control: dict[str, Any], strategy: str, prometheus: str | None = None
) -> tuple[float | None, float | None]:
    from chaoslib.run import RunEventHandler, Runner
    from chaoslib.types import Strategy

    marks: dict[str, float] = {}

    class Marks(RunEventHandler):  # type: ignore[misc]
        def start_method(self, experiment: Any) -> None:
            marks["method"] = time.time()
            threading.Thread(target=flip, daemon=True).start()

        def method_completed(self, experiment: Any, state: Any = None) -> None:
            marks.setdefault("method_end", time.time())

        def signal_exit(self) -> None:  # how both controls' interruptions arrive
            marks.setdefault("method_end", time.time())

        def interrupted(self, experiment: Any, journal: Any) -> None:
            marks.setdefault("method_end", time.time())

    def flip() -> None:
        time.sleep(random.uniform(0.5, 1.5))
        marks["flip"] = time.time()
        _state["bad"] = 1.0

    if control["name"] == "safeguard":
        from chaosaddons.controls.safeguards import guardian

        # the safeguard keeps its "already interrupted" flag across runs in one process
        guardian._interrupted = False
        guardian.was_triggered = False
    _state.update(bad=0.0, rollback_at=None)
    if prometheus:
        # Prometheus still holds the previous trial's 1 until its next scrape
        from chaosllm.sandbox.app.launcher import wait_until
        from chaosllm.slo.probes import query_value

        wait_until(lambda: query_value(QUERY, prometheus_base_url=prometheus) == 0.0, 10,
                   "Prometheus to see the gauge reset")  # fmt: skip
    runner = Runner(Strategy.DEFAULT)
    runner.register_event_handler(Marks())
    runner.run(_experiment(control), settings={"runtime": {"rollbacks": {"strategy": strategy}}})
    flipped = marks.get("flip")
    if flipped is None:
        return None, None
    abort = marks["method_end"] - flipped if "method_end" in marks else None
    rollback = _state["rollback_at"] - flipped if _state["rollback_at"] else None
    return abort, rollback


# (label, control, rollback strategy): "always" is what a safeguards user must set to
# get rollbacks after an abort at all.
ROWS = (
    ("chaosllm guard", _guard, "default"),
    ("ctk-addons safeguards", _safeguard, "default"),
    ("ctk-addons safeguards", _safeguard, "always"),
)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _cell(values: list[float]) -> str:
    if not values:
        return f"{'-':>8} {'-':>8}"
    return f"{statistics.median(values):8.3f} {_p95(values):8.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--intervals", default="1,0.25", help="comma-separated seconds")
    parser.add_argument(
        "--prometheus", action="store_true",
        help="read through a private Prometheus (scrape interval 1 s) instead of /metrics",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.getLogger("chaostoolkit").disabled = True
    server = _serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    prometheus = _start_prometheus(server.server_address[1]) if args.prometheus else None
    source = "/metrics source, read through Prometheus" if prometheus else "/metrics source"
    print(f"abort latency, {args.trials} trials each, from the condition turning true at its "
          f"{source} (seconds)")  # fmt: skip
    print(f"{'control':<40} {'abort med':>9} {'p95':>8} {'rollback med':>12} {'p95':>8} "
          f"{'rollbacks ran':>14}")  # fmt: skip
    for interval in (float(x) for x in args.intervals.split(",")):
        for label, make, strategy in ROWS:
            aborts: list[float] = []
            rollbacks: list[float] = []
            for _ in range(args.trials):
                base = prometheus.url if prometheus else None
                abort, rollback = _trial(make(url, interval, base), strategy, base)
                if abort is not None:
                    aborts.append(abort)
                if rollback is not None:
                    rollbacks.append(rollback)
            name = f"{label} @ {interval:g}s" + ("" if strategy == "default" else f", {strategy}")
            ran = f"{len(rollbacks)}/{len(aborts)}"
            print(f"{name:<40} {_cell(aborts)} {_cell(rollbacks):>21} {ran:>14}", flush=True)
    server.shutdown()
    if prometheus:
        prometheus.stop()
    return 0


def _start_prometheus(port: int) -> Any:
    import tempfile
    from pathlib import Path

    from chaosllm.sandbox.app import launcher
    from chaosllm.slo.probes import query_value

    workdir = Path(tempfile.mkdtemp(prefix="abort-latency-"))
    server = launcher.start_prometheus(workdir, targets={"bench": [f"127.0.0.1:{port}"]})
    launcher.wait_until(
        lambda: query_value(QUERY, prometheus_base_url=server.url) is not None, 30, "prometheus"
    )
    return server


if __name__ == "__main__":
    sys.exit(main())
