"""The small HTTP server every sandbox service runs: JSON routes, /healthz, /metrics.

Each service process builds a :class:`Service` with its routes and calls
``serve()``; request counts and latency histograms are recorded for every
route, so that Prometheus sees the same series from every service.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from chaosllm.sandbox.app._http import serve_http

__all__ = ["Service", "Route", "REQUESTS", "LATENCY", "exit_on_sigterm"]

Route = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]

REQUESTS = Counter(
    "sandbox_http_requests_total", "HTTP requests served, by route and status code",
    ["service", "route", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "sandbox_http_request_duration_seconds", "Time to serve an HTTP request",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0),
)  # fmt: skip


def exit_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


class Service:
    """Routes are ``{"POST /graphql": handler}``; a handler takes the JSON body."""

    def __init__(self, name: str, port: int, routes: dict[str, Route],
                 health: Callable[[], dict[str, Any]] | None = None) -> None:  # fmt: skip
        self.name = name
        self.port = port
        self.routes = routes
        self.health = health or (lambda: {"status": "ok"})

    def handle(self, method: str, path: str, raw: bytes) -> tuple[int, bytes, str]:
        path = path.split("?", 1)[0]
        if path == "/metrics":
            return 200, generate_latest(), CONTENT_TYPE_LATEST
        if path == "/healthz":
            return 200, json.dumps(self.health()).encode(), "application/json"
        handler = self.routes.get(f"{method} {path}")
        if handler is None:
            return 404, b'{"error": "not found"}', "application/json"
        started = time.perf_counter()
        try:
            body = json.loads(raw or b"{}")
            status, payload = handler(body if isinstance(body, dict) else {})
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": f"bad request: {exc}"}
        except Exception as exc:  # a service never dies of one request
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        route = str(payload.pop("_route", path)) if isinstance(payload, dict) else path
        LATENCY.labels(self.name, route).observe(time.perf_counter() - started)
        REQUESTS.labels(self.name, route, str(status)).inc()
        return status, json.dumps(payload).encode(), "application/json"

    def serve(self) -> None:
        exit_on_sigterm()
        serve_http(self.port, lambda method, path, raw, _ctype: self.handle(method, path, raw))
