"""The gateway's supervisor: a load-balancing front, restarts and autoscaling.

``python -m chaosllm.sandbox.app.supervisor --dir RUN --port N --replica-ports a,b,c,d
-- <gateway arguments>``. It is the local analogue of a Deployment with an
HPA behind a Service:

- it keeps at least ``--min`` gateway replicas running and restarts one
  that exits (the event and the time to ready are recorded);
- it adds a replica, up to ``--max``, when the node's CPU utilisation stays
  above ``--cpu-target`` for ``--scale-after`` seconds (at ``--max`` it
  records that it could not), and removes one after ``--scale-in-after``
  seconds below the target;
- its front forwards each request to a ready replica in turn and retries on
  another replica when a connection fails before an answer (orders carry an
  idempotency key, so a retried order is still written once).

Events go to ``RUN/events.jsonl``; each replica's PID to ``RUN/gateway-<i>.pid``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from chaosllm.sandbox.app._http import serve_http
from chaosllm.sandbox.app.events import EVENTS_FILE

__all__ = ["Supervisor", "node_cpu_times", "main"]

REPLICAS = Gauge("sandbox_gateway_replicas", "Gateway replicas running")
READY = Gauge("sandbox_gateway_replicas_ready", "Gateway replicas answering health checks")
RESTARTS = Counter("sandbox_gateway_restarts_total", "Gateway replicas restarted after an exit")
SCALE_EVENTS = Counter("sandbox_scale_events_total", "Autoscaler decisions", ["direction"])
NODE_CPU = Gauge("sandbox_node_cpu_utilisation", "Node CPU utilisation seen by the autoscaler")
RETRIED = Counter("sandbox_front_retries_total", "Requests retried on another replica")
FRONT_ERRORS = Counter("sandbox_front_errors_total", "Requests no replica could answer")


def node_cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole node, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return total - idle, total


# A replica that exits within this many seconds of its start counts as crash-looping.
QUICK_EXIT = 5.0


class Replica:
    def __init__(self, index: int, port: int) -> None:
        self.index, self.port = index, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = False
        self.started = 0.0
        self.exited_at: float | None = None
        self.stopping = False
        # Exits soon after a start, in a row, and when the next start is due.
        self.quick_exits = 0
        self.restart_at: float | None = None


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(args.dir)
        self.replicas = [Replica(i, int(p)) for i, p in enumerate(args.replica_ports.split(","))]
        self.lock = threading.RLock()  # the signal handler may run while the main thread holds it
        self.events_lock = threading.Lock()
        self.rr = itertools.count()
        self.stop = threading.Event()
        SCALE_EVENTS.labels("up")
        SCALE_EVENTS.labels("down")

    def event(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"t": round(time.time(), 3), "event": kind, **fields})
        with self.events_lock, open(self.dir / EVENTS_FILE, "a") as out:
            out.write(line + "\n")

    def active(self) -> list[Replica]:
        return [r for r in self.replicas if r.proc is not None and not r.stopping]

    def spawn(self, replica: Replica) -> None:
        cmd = [sys.executable, "-m", "chaosllm.sandbox.app.gateway", "--port", str(replica.port),
               "--replica", str(replica.index), *self.args.gateway_args]  # fmt: skip
        log = open(self.dir / f"gateway-{replica.index}.log", "ab")
        replica.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)  # fmt: skip
        log.close()
        replica.ready, replica.started, replica.stopping = False, time.time(), False
        (self.dir / f"gateway-{replica.index}.pid").write_text(f"{replica.proc.pid}\n")

    def restart(self, replica: Replica, code: int) -> None:
        """Start an exited replica again: at once, unless it keeps exiting right
        after its start (a crash loop), then after a delay that doubles up to 30 s."""
        now = time.time()
        if replica.restart_at is None:  # this exit is new
            assert replica.proc is not None
            replica.ready, replica.exited_at = False, now
            quick = now - replica.started < QUICK_EXIT
            replica.quick_exits = replica.quick_exits + 1 if quick else 0
            delay = 0.0 if replica.quick_exits < 2 else min(30.0, 0.5 * 2 ** (replica.quick_exits - 2))
            replica.restart_at = now + delay
            self.event("replica_exited", replica=replica.index, pid=replica.proc.pid,
                       returncode=code, restart_in=round(delay, 1))  # fmt: skip
        if now >= replica.restart_at:
            replica.restart_at = None
            RESTARTS.inc()
            self.spawn(replica)

    def retire(self, replica: Replica) -> None:
        replica.stopping = True
        replica.ready = False
        proc = replica.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)  # a suspended replica must be able to exit
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        replica.proc = None
        replica.stopping = False
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"gateway-{replica.index}.pid").unlink()

    def healthy(self, replica: Replica) -> bool:
        try:
            url = f"http://127.0.0.1:{replica.port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def watch(self) -> None:
        """Restart exited replicas and track readiness, every 100 ms."""
        while not self.stop.is_set():
            with self.lock:
                for r in self.active():
                    assert r.proc is not None
                    code = r.proc.poll()
                    if code is not None:
                        self.restart(r, code)
                    elif not r.ready and self.healthy(r):
                        r.ready = True
                        if r.exited_at is not None:
                            self.event("replica_ready", replica=r.index, pid=r.proc.pid,
                                       recovery_seconds=round(time.time() - r.exited_at, 3))  # fmt: skip
                            r.exited_at = None
                REPLICAS.set(len(self.active()))
                READY.set(sum(r.ready for r in self.active()))
            self.stop.wait(0.1)

    def autoscale(self) -> None:
        a = self.args
        samples: list[tuple[float, float, float]] = []
        above = below = None  # since when (wall clock) the node is above/below target
        reported = blocked = False
        last_change = time.time()
        while not self.stop.wait(1.0):
            busy, total = node_cpu_times()
            now = time.time()
            samples = [s for s in samples if now - s[0] <= 5.0] + [(now, busy, total)]
            if len(samples) < 2 or samples[-1][2] == samples[0][2]:
                continue
            util = (samples[-1][1] - samples[0][1]) / (samples[-1][2] - samples[0][2])
            NODE_CPU.set(util)
            if util >= a.cpu_target:
                above = above or now
            else:
                above, reported, blocked = None, False, False
            below = (below or now) if util < a.cpu_target else None
            with self.lock:
                count = len(self.active())
                sustained = above is not None and now - above >= a.scale_after
                if sustained and not reported:
                    # Pressure the autoscaler must answer: probes measure the time
                    # from its start to the scale-up.
                    self.event("cpu_pressure", since=round(above or now, 3), cpu=round(util, 3),
                               replicas=count)  # fmt: skip
                    reported = True
                at_max = count >= min(a.max, len(self.replicas))
                if sustained and at_max and not blocked:
                    self.event("scale_up_blocked", replicas=count, reason="max replicas")
                    blocked = True
                if sustained and not at_max and now - last_change >= a.scale_after:
                    replica = next(r for r in self.replicas if r.proc is None)
                    self.spawn(replica)
                    SCALE_EVENTS.labels("up").inc()
                    self.event("scale_up", replicas=count + 1, cpu=round(util, 3))
                    last_change, above, reported = now, None, False
                elif below and now - below >= a.scale_in_after and count > a.min and (
                        now - last_change >= a.scale_after):  # fmt: skip
                    replica = self.active()[-1]
                    self.retire(replica)
                    SCALE_EVENTS.labels("down").inc()
                    self.event("scale_down", replicas=count - 1, cpu=round(util, 3))
                    last_change, below = now, None

    def pick(self, skip: set[int]) -> Replica | None:
        ready = [r for r in self.replicas if r.ready and r.index not in skip]
        return ready[next(self.rr) % len(ready)] if ready else None

    def forward(self, method: str, path: str, body: bytes, headers: dict[str, str]
                ) -> tuple[int, bytes, str]:  # fmt: skip
        tried: set[int] = set()
        for _attempt in range(3):
            replica = self.pick(tried)
            if replica is None:
                break
            tried.add(replica.index)
            conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=10)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read(), resp.getheader("Content-Type") or ""
            except (ConnectionError, http.client.HTTPException):
                replica.ready = False
                RETRIED.inc()
            except OSError:
                break
            finally:
                conn.close()
        FRONT_ERRORS.inc()
        return 503, b'{"errors": [{"message": "no gateway replica answered"}]}', "application/json"

    def respond(self, method: str, path: str, body: bytes, ctype: str) -> tuple[int, bytes, str]:
        """The front: its own /metrics and /healthz; everything else goes to a replica."""
        if path == "/metrics":
            return 200, generate_latest(), CONTENT_TYPE_LATEST
        if path == "/healthz":
            ready = sum(r.ready for r in self.replicas)
            return 200 if ready else 503, json.dumps({"ready_replicas": ready}).encode(), "application/json"
        return self.forward(method, path, body, {"Content-Type": ctype})

    def serve(self, port: int) -> None:
        serve_http(port, self.respond)

    def shutdown(self, *_: Any) -> None:
        if self.stop.is_set():  # a second signal while shutting down: the first one finishes
            return
        self.stop.set()
        with self.lock:
            for r in self.active():
                self.retire(r)
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Supervise the sandbox gateway replicas")
    parser.add_argument("--dir", required=True, help="run directory for PID files and events")
    parser.add_argument("--port", type=int, required=True, help="the front's port")
    parser.add_argument("--replica-ports", required=True, help="one port per possible replica")
    parser.add_argument("--min", type=int, default=2)
    parser.add_argument("--max", type=int, default=4)
    parser.add_argument("--cpu-target", type=float, default=0.8)
    parser.add_argument("--scale-after", type=float, default=10.0)
    parser.add_argument("--scale-in-after", type=float, default=15.0)
    parser.add_argument("gateway_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.gateway_args[:1] == ["--"]:
        args.gateway_args = args.gateway_args[1:]
    supervisor = Supervisor(args)
    signal.signal(signal.SIGTERM, supervisor.shutdown)
    signal.signal(signal.SIGINT, supervisor.shutdown)
    with supervisor.lock:
        for replica in supervisor.replicas[: args.min]:
            supervisor.spawn(replica)
    threading.Thread(target=supervisor.watch, daemon=True).start()
    threading.Thread(target=supervisor.autoscale, daemon=True).start()
    supervisor.serve(args.port)


if __name__ == "__main__":
    main()
