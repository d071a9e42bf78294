"""Watching a target while a lasting fault holds, to measure what the fault did.

Some targets count nothing a fault causes (PostgreSQL keeps no count of lock
waits, RabbitMQ none of messages a length limit refused), but they show it
while it happens: a session waiting on the lock, a queue held at its limit.
A watch samples the target on its own thread, on its own connection, until
the fault is removed, expires or ``until`` passes; its rollback then takes the
totals with :func:`stop_watch`, before it removes the fault, so that the
watch's last sample still sees it. The outcome of a watch that ended by
itself is kept, so that a rollback run after the fault expired still reports
it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from chaosllm.faults.durations import format_duration

__all__ = ["Sampler", "start_watch", "stop_watch", "watching"]

# How often a watch samples its target.
INTERVAL = 0.25


class Sampler(Protocol):
    """What a watch samples: opened and closed on the watch's thread."""

    def open(self) -> None: ...

    def sample(self) -> None: ...

    def close(self) -> None: ...

    def outcome(self) -> tuple[str, dict[str, Any]]:
        """``(effect, evidence)`` from the samples taken so far."""
        ...


class _Watch:
    def __init__(self, sampler: Sampler, seconds: float | None, interval: float) -> None:
        self.sampler = sampler
        self.interval = interval
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.stopped = threading.Event()
        self.samples = 0
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name="chaosllm-watch", daemon=True)

    def _run(self) -> None:
        try:
            self.sampler.open()
            while True:
                # One sample at least, and one more when stopped: the fault is still in place
                # then (its rollback stops the watch before removing it).
                self.sampler.sample()
                self.samples += 1
                if self.stopped.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline):
                    break
                self.stopped.wait(self.interval)
        except Exception as exc:  # the target went away: its evidence is unknown, the fault stands
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                self.sampler.close()
            except Exception:
                pass

    def result(self) -> tuple[str, dict[str, Any]]:
        if self.error is not None and self.samples == 0:
            return "unknown", {"reason": f"could not watch the target: {self.error}"}
        if self.samples == 0:
            return "unknown", {"reason": "the watch took no sample before it was stopped "
                                         "(its connection was not open yet)"}
        effect, evidence = self.sampler.outcome()
        evidence = {**evidence, "samples": self.samples, "sampled_every": format_duration(self.interval)}
        if self.error is not None and effect != "observed":
            return "unknown", {**evidence, "reason": f"the watch stopped early: {self.error}"}
        return effect, evidence


_watches: dict[str, _Watch] = {}
_lock = threading.Lock()


def start_watch(fault_id: str, sampler: Sampler, seconds: float | None,
                interval: float = INTERVAL) -> bool:  # fmt: skip
    """Start watching ``fault_id`` for at most ``seconds``; False when it is watched already."""
    with _lock:
        running = _watches.get(fault_id)
        if running is not None and running.thread.is_alive() and not running.stopped.is_set():
            return False
        watch = _Watch(sampler, seconds, interval)
        _watches[fault_id] = watch
    watch.thread.start()
    return True


def watching(fault_id: str) -> bool:
    """Whether a watch of ``fault_id`` is running."""
    with _lock:
        watch = _watches.get(fault_id)
    return watch is not None and watch.thread.is_alive()


def stop_watch(fault_id: str, timeout: float = 3.0) -> tuple[str, dict[str, Any]] | None:
    """Stop the watch of ``fault_id`` and return its ``(effect, evidence)``; None if none ran."""
    with _lock:
        watch = _watches.pop(fault_id, None)
    if watch is None:
        return None
    watch.stopped.set()
    if watch.thread is not threading.current_thread():
        watch.thread.join(timeout)
    return watch.result()
