"""How the guard stops chaoslib's method and plays its rollbacks.

This is the one module that reaches into chaoslib's internals: it wraps
chaoslib's SIGUSR1 handler, recognises chaoslib's method on the main
thread's stack, and calls ``chaoslib.run.apply_rollbacks`` when the run's
rollback strategy would skip the rollbacks after an interruption.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, Protocol

from chaoslib.exceptions import InterruptExecution

__all__ = ["Interruptible", "install_interrupter", "signal_self", "run_rollbacks", "RESIGNAL_EVERY"]

logger = logging.getLogger("chaostoolkit")

# How often the guard signals again until the method has really stopped.
RESIGNAL_EVERY = 0.1


class Interruptible(Protocol):
    """What the interrupter reads and sets on the guard."""

    aborted: bool
    in_method: bool
    can_interrupt: bool
    restore_handler: Callable[[], Any] | None


def _code(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name).__code__
    except (ImportError, AttributeError):
        return None


def _on_stack(frame: Any, code: Any) -> bool:
    if code is None:
        return True
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def _in_method(frame: Any) -> bool:
    """True while the main thread's stack still runs chaoslib's method."""
    return _on_stack(frame, _code("chaoslib.run", "apply_activities"))


def _in_method_activity(frame: Any) -> bool:
    """True while the main thread runs a method activity or its pause; not while
    chaoslib waits for the method's background activities, so that the
    rollbacks start after every activity has ended, as Chaos Toolkit orders them."""
    return _in_method(frame) and _on_stack(frame, _code("chaoslib.activity", "execute_activity"))


def install_interrupter(guard: Interruptible) -> bool:
    """Wrap chaoslib's SIGUSR1 handler so that the guard can stop the method.

    A real signal is needed: it wakes a main thread blocked in ``time.sleep``
    (a pause) or waiting for a process probe, which an exception injected
    from another thread cannot do. The wrapper raises chaoslib's own
    ``SystemExit(20)`` (interrupted, rollbacks allowed) only while a method
    activity runs on the main thread, so a late signal never cuts short the
    wait for background activities or the rollbacks.
    Must be called from the main thread, where chaoslib runs controls.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGUSR1)
    if not callable(previous):
        logger.warning("chaosllm guard: not run by Chaos Toolkit; breaches are only recorded")
        return False

    def handler(signum: int, frame: Any) -> None:
        if not guard.aborted:
            previous(signum, frame)
            return
        if guard.in_method and _in_method_activity(frame):
            raise SystemExit(20)
        if not _in_method(frame):
            guard.in_method = False

    signal.signal(signal.SIGUSR1, handler)
    guard.restore_handler = lambda: signal.signal(signal.SIGUSR1, previous)
    guard.can_interrupt = True
    return True


def signal_self() -> None:
    """Send SIGUSR1 to the main thread, where chaoslib runs the method."""
    # Aimed at the main thread: a process-wide kill() sent from this thread is
    # sometimes taken by this thread, and the main thread sleeps on (measured:
    # 2 trials in 12 of the safeguards benchmark waited out a 10 s pause).
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)


def run_rollbacks(experiment: dict[str, Any], configuration: Any, secrets: Any) -> list[Any]:
    """Play the experiment's rollbacks once, as chaoslib would; return their runs."""
    from chaoslib.run import EventHandlerRegistry, apply_rollbacks, get_background_pools

    _, pool = get_background_pools(experiment)
    runs: list[Any] = []
    try:
        apply_rollbacks(
            experiment, configuration, secrets, pool, experiment.get("dry"),
            EventHandlerRegistry(), runs,
        )  # fmt: skip
    except (InterruptExecution, KeyboardInterrupt, SystemExit) as exc:
        logger.error(f"chaosllm guard: rollbacks were interrupted: {exc!r}")
    return runs
