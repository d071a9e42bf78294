"""Resilience patterns of the sandbox services: circuit breaker and bulkhead.

Each dependency (postgres, redis, rabbitmq, ml-recs) gets one breaker and one
bulkhead per process, and both publish their state as Prometheus metrics::

    guard = Dependency("postgres", max_concurrent=4)
    rows = guard.call(lambda: query(...))     # raises Unavailable when open/full
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["Unavailable", "CircuitBreaker", "Dependency", "FALLBACKS"]

T = TypeVar("T")

BREAKER_STATE = Gauge(
    "sandbox_circuit_breaker_state",
    "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open", ["dependency"],
)  # fmt: skip
BREAKER_OPENS = Counter(
    "sandbox_circuit_breaker_opens_total", "Times a circuit breaker opened", ["dependency"]
)
BULKHEAD_REJECTIONS = Counter(
    "sandbox_bulkhead_rejections_total", "Calls refused because a bulkhead was full",
    ["dependency"],
)  # fmt: skip
DEPENDENCY_FAILURES = Counter(
    "sandbox_dependency_failures_total", "Failed calls to a dependency", ["dependency", "reason"]
)
FALLBACKS = Counter(
    "sandbox_fallbacks_total", "Answers served by a fallback instead of the dependency",
    ["dependency", "kind"],
)  # fmt: skip


# The round trip of every call that reached the dependency, so that a probe can
# tell that a fault (a slow link) really slowed it down.
ROUND_TRIP = Histogram(
    "sandbox_dependency_duration_seconds", "Round trip of a call to a dependency", ["dependency"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0),
)  # fmt: skip


class Unavailable(Exception):
    """A dependency call was refused or failed; the caller may fall back."""


class CircuitBreaker:
    """Opens when at least ``min_failures`` of the last ``window`` calls failed
    and they are at least half of them; after ``reset_after`` seconds one trial
    call is let through (half-open), and its outcome closes or reopens it."""

    CLOSED, HALF_OPEN, OPEN = 0, 1, 2

    def __init__(self, name: str, window: int = 10, min_failures: int = 5,
                 reset_after: float = 3.0) -> None:  # fmt: skip
        self.name = name
        self.window = window
        self.min_failures = min_failures
        self.reset_after = reset_after
        self.state = self.CLOSED
        self.opened_at = 0.0
        self._results: collections.deque[bool] = collections.deque(maxlen=window)
        self._trial = False
        self._lock = threading.Lock()
        BREAKER_STATE.labels(name).set(self.CLOSED)

    def _set(self, state: int) -> None:
        if state == self.OPEN and self.state != self.OPEN:
            BREAKER_OPENS.labels(self.name).inc()
            self.opened_at = time.monotonic()
        self.state = state
        BREAKER_STATE.labels(self.name).set(state)

    def allow(self) -> bool:
        with self._lock:
            if self.state == self.CLOSED:
                return True
            if self.state == self.OPEN and time.monotonic() - self.opened_at >= self.reset_after:
                self._set(self.HALF_OPEN)
                self._trial = False
            if self.state == self.HALF_OPEN and not self._trial:
                self._trial = True
                return True
            return False

    def record(self, ok: bool) -> None:
        with self._lock:
            if self.state == self.HALF_OPEN:
                self._results.clear()
                self._set(self.CLOSED if ok else self.OPEN)
                if not ok:
                    self.opened_at = time.monotonic()
                return
            self._results.append(ok)
            failures = self._results.count(False)
            if failures >= self.min_failures and failures * 2 >= len(self._results):
                self._results.clear()
                self._set(self.OPEN)


class Dependency:
    """A breaker, a bulkhead (bounded concurrency) and failure accounting."""

    def __init__(self, name: str, max_concurrent: int = 8, wait: float = 0.05,
                 reset_after: float = 3.0) -> None:  # fmt: skip
        self.name = name
        self.breaker = CircuitBreaker(name, reset_after=reset_after)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._wait = wait
        for reason in ("error", "breaker_open"):
            DEPENDENCY_FAILURES.labels(name, reason)
        BULKHEAD_REJECTIONS.labels(name)

    def call(self, func: Callable[[], T]) -> T:
        if not self.breaker.allow():
            DEPENDENCY_FAILURES.labels(self.name, "breaker_open").inc()
            raise Unavailable(f"{self.name}: circuit breaker open")
        if not self._slots.acquire(timeout=self._wait):
            BULKHEAD_REJECTIONS.labels(self.name).inc()
            # A full bulkhead is back-pressure, not a failure of the dependency,
            # but a trial call that never ran must not hold the breaker half-open.
            if self.breaker.state == CircuitBreaker.HALF_OPEN:
                self.breaker.record(False)
            raise Unavailable(f"{self.name}: bulkhead full")
        started = time.perf_counter()
        try:
            result = func()
        except Exception as exc:
            self.breaker.record(False)
            DEPENDENCY_FAILURES.labels(self.name, "error").inc()
            raise Unavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()
            ROUND_TRIP.labels(self.name).observe(time.perf_counter() - started)
        self.breaker.record(True)
        return result

    def status(self) -> dict[str, Any]:
        names = {0: "closed", 1: "half-open", 2: "open"}
        return {"breaker": names[self.breaker.state]}
