"""Regenerate the sample journals by really running the experiments beside this file.

    .venv/bin/python journals/samples/make_samples.py

Starts a private redis-server (and Prometheus, when installed) on free
loopback ports, serves a small /metrics page whose cache write latency is
measured against that Redis, runs every experiment in ``experiments/`` with
``chaos run``, stops one of them with SIGTERM in the middle of its method,
and writes the journals to this folder. The guard and metrics samples need
``chaosllm.controls``; they are skipped, with a message, where it is absent.
Last, make_derived.py writes the samples no local run can produce (fault
effects, a Kubernetes recovery criterion that raised, a not-applicable check).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXPERIMENTS = HERE / "experiments"
CHAOS = str(Path(sys.executable).with_name("chaos"))


class CacheProbe:
    """Times a Redis SET every 200 ms; a write blocked by a pause shows as latency."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=30)
        self.started: float | None = None
        self.last = 0.0
        self.stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.started = time.monotonic()
            try:
                self.client.set("sample:probe", "1")
            except Exception:
                pass
            self.last, self.started = time.monotonic() - self.started, None
            self.stop.wait(0.2)

    def latency(self) -> float:
        started = self.started
        in_flight = time.monotonic() - started if started is not None else 0.0
        return max(self.last, in_flight)


def serve_metrics(probe: CacheProbe) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = (
                "# TYPE sample_cache_write_latency_seconds gauge\n"
                f"sample_cache_write_latency_seconds {probe.latency():.4f}\n"
                "# TYPE sample_queue_depth gauge\n"
                "sample_queue_depth 25000\n"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def seed_catalog(url: str, count: int = 100) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.execute_command("CLIENT", "UNPAUSE")
    client.mset({f"catalog:model:{i}": json.dumps({"id": i, "name": f"model-{i}"})
                 for i in range(count)})  # fmt: skip


def write_large_experiment(count: int = 500) -> Path:
    """A plain experiment of ``count`` method activities, for the size tests."""
    path = EXPERIMENTS / "plain-500-activities.json"
    method = [
        {"type": "action" if i % 5 else "probe", "name": f"step-{i:03d}",
         "provider": {"type": "process", "path": "true"}}
        for i in range(count - 2)
    ]  # fmt: skip
    experiment = {
        "version": "1.0.0",
        "title": f"Rolling restart of {count - 2} workers",
        "description": "A long plain method, to check that reports stay fast and readable.",
        "tags": ["plain", "large"],
        "steady-state-hypothesis": {
            "title": "Health check exits 0",
            "probes": [
                {
                    "type": "probe",
                    "name": "health-check",
                    "tolerance": 0,
                    "provider": {"type": "process", "path": "true"},
                }
            ],
        },  # fmt: skip
        "method": method,
    }
    path.write_text(json.dumps(experiment, indent=1) + "\n", encoding="utf-8")
    return path


def chaos_run(experiment: Path, journal: Path, env: dict[str, str], work: Path,
              stop_at: str | None = None) -> int:  # fmt: skip
    """Run one experiment; with ``stop_at``, SIGTERM chaos once that activity starts."""
    log = work / f"{journal.stem}.log"
    # Guard conditions are validated before configuration is substituted, so the
    # port of the private /metrics page is written into a copy of the experiment.
    text = experiment.read_text(encoding="utf-8")
    experiment = work / experiment.name
    experiment.write_text(text.replace("METRICS_PORT", env["SAMPLE_METRICS_PORT"]), "utf-8")
    cmd = [CHAOS, "--no-version-check", "--settings", str(work / "settings.yaml"),
           "--log-file", str(log), "run", "--journal-path", str(journal), str(experiment)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stop_at:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and f"Action: {stop_at}" in log.read_text(errors="replace"):
                time.sleep(1.0)
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.1)
    code = proc.wait(120)
    print(f"{experiment.name}: chaos exited {code}, journal {journal.relative_to(HERE)}")
    return code


def main() -> int:
    sys.path.insert(0, str(HERE.parents[1]))
    from chaosllm.sandbox.app import launcher

    write_large_experiment()
    with tempfile.TemporaryDirectory(prefix="chaosllm-samples-") as tmp:
        work = Path(tmp)
        (work / "settings.yaml").write_text("{}\n")
        redis_server = launcher.start_redis(work / "redis")
        servers = [redis_server]
        try:
            probe = CacheProbe(redis_server.url)
            http = serve_metrics(probe)
            metrics_url = f"http://127.0.0.1:{http.server_address[1]}/metrics"
            marker = work / "marker"
            env = {
                **os.environ,
                "CHAOSLLM_REDIS_URL": redis_server.url,
                "CHAOSLLM_STATE_DIR": str(work / "state"),
                "SAMPLE_REDIS_PASSWORD": "sample-password-never-printed",
                "SAMPLE_MARKER": str(marker),
                "SAMPLE_METRICS_PORT": str(http.server_address[1]),
            }
            have_controls = importlib.util.find_spec("chaosllm.controls.guard") is not None
            runs: list[tuple[str, str, str | None]] = [
                ("redis-pause", "redis-pause", None),
                ("redis-pause", "redis-pause-2", None),
                ("redis-flush-deviated", "redis-flush-deviated", None),
                ("plain-process-completed", "plain-process-completed", None),
                ("plain-steady-state-failed", "plain-steady-state-failed", None),
                ("plain-deviated", "plain-deviated", None),
                ("plain-interrupted", "plain-interrupted", "long-maintenance"),
                ("plain-500-activities", "plain-500-activities", None),
            ]
            if have_controls:
                runs.append(("guard-aborted", "guard-aborted", None))
                try:
                    prometheus = launcher.start_prometheus(
                        work / "prometheus", {"sample": [metrics_url.split("/")[2]]}
                    )
                    servers.append(prometheus)
                    env["SAMPLE_PROMETHEUS_URL"] = prometheus.url
                    runs.append(("redis-pause-metrics", "redis-pause-metrics", None))
                except launcher.MissingBinary as exc:
                    print(f"skipping the metrics sample: {exc}")
            else:
                print("skipping the guard and metrics samples: chaosllm.controls is not installed")
            for experiment, journal, stop_at in runs:
                seed_catalog(redis_server.url)
                marker.touch()
                if experiment == "redis-pause-metrics":
                    time.sleep(8)  # some samples before the fault, for the chart
                chaos_run(EXPERIMENTS / f"{experiment}.json", HERE / f"{journal}.json", env, work,
                          stop_at)  # fmt: skip
            probe.stop.set()
            http.shutdown()
        finally:
            for server in reversed(servers):
                server.stop()
    sys.path.insert(0, str(HERE))
    import make_derived

    return make_derived.main()


if __name__ == "__main__":
    sys.exit(main())
