"""A tiny HTTP ``/metrics`` server whose request counts and latencies the test sets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Target:
    """Counters ``http_requests_total{status}``, histogram ``http_request_duration_seconds``
    and gauge ``app_up``, served on a free loopback port."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, float] = {}
        self.buckets = [0.0] * len(BUCKETS)
        self.count = 0.0
        self.total = 0.0
        self.up = 1.0
        # More samples to serve as they are, e.g. {'fallbacks_total{dependency="postgres"}': 3.0}.
        self.extra: dict[str, float] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = target.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}/metrics"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def serve(self, status: str, count: float, latency: float = 0.01) -> None:
        """Record ``count`` requests answered with ``status`` in ``latency`` seconds."""
        with self.lock:
            self.requests[status] = self.requests.get(status, 0.0) + count
            for i, bound in enumerate(BUCKETS):
                if latency <= bound:
                    self.buckets[i] += count
            self.count += count
            self.total += latency * count

    def render(self) -> str:
        with self.lock:
            lines = ["# HELP http_requests_total Requests.", "# TYPE http_requests_total counter"]
            for status, value in sorted(self.requests.items()):
                lines.append(f'http_requests_total{{job_part="web",status="{status}"}} {value}')
            lines.append("# TYPE http_request_duration_seconds histogram")
            for bound, value in zip(BUCKETS, self.buckets, strict=True):
                lines.append(f'http_request_duration_seconds_bucket{{le="{bound}"}} {value}')
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.count}')
            lines.append(f"http_request_duration_seconds_sum {self.total}")
            lines.append(f"http_request_duration_seconds_count {self.count}")
            lines.append(f"app_up {self.up}")
            lines.extend(f"{sample} {value}" for sample, value in sorted(self.extra.items()))
            return "\n".join(lines) + "\n"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Traffic:
    """Background load on a :class:`Target`: ``rate`` requests/s with a settable error share."""

    def __init__(self, target: Target, rate: float = 100.0) -> None:
        self.target = target
        self.rate = rate
        self.error_share = 0.0
        self.latency = 0.01
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            per_tick = self.rate * 0.05
            self.target.serve("500", per_tick * self.error_share, self.latency)
            self.target.serve("200", per_tick * (1 - self.error_share), self.latency)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
