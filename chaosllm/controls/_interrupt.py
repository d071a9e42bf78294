"""How the guard and the rollbacks control stop chaoslib's method and play its rollbacks.

This is the one module that reaches into chaoslib's internals: it wraps
chaoslib's SIGUSR1 handler, recognises chaoslib's method on the main
thread's stack, and calls ``chaoslib.run.apply_rollbacks`` when the run's
rollback strategy would skip the rollbacks after an interruption. Both
controls play them through :func:`run_rollbacks_once`, which also learns
when chaoslib played them (:func:`note_rollbacks_played`), so that together
they play each rollback exactly once.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, Protocol

from chaoslib.exceptions import InterruptExecution

__all__ = [
    "Interruptible",
    "install_interrupter",
    "before_method",
    "in_method_activity",
    "signal_self",
    "rollback_strategy",
    "run_rollbacks",
    "run_rollbacks_once",
    "note_rollbacks_played",
    "rollbacks_played_by",
    "forget_rollbacks",
    "RESIGNAL_EVERY",
]

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


def _any_on_stack(frame: Any, codes: set[Any]) -> bool:
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


def _on_stack(frame: Any, code: Any) -> bool:
    return True if code is None else _any_on_stack(frame, {code})


def _in_method(frame: Any) -> bool:
    """True while the main thread's stack still runs chaoslib's method."""
    return _on_stack(frame, _code("chaoslib.run", "apply_activities"))


def _in_method_activity(frame: Any) -> bool:
    """True while the main thread runs a method activity or its pause; not while
    chaoslib waits for the method's background activities, so that the
    rollbacks start after every activity has ended, as Chaos Toolkit orders them."""
    return _in_method(frame) and _on_stack(frame, _code("chaoslib.activity", "execute_activity"))


def before_method(frame: Any) -> bool:
    """True while the main thread runs the experiment's "before" controls or its
    steady-state hypothesis before the method: stopping there leaves nothing to roll back."""
    control = getattr(importlib.import_module("chaoslib.control"), "Control", None)
    codes = {_code("chaoslib.run", "run_gate_hypothesis"),
             getattr(getattr(control, "begin", None), "__code__", None)} - {None}  # fmt: skip
    return _any_on_stack(frame, codes)


def in_method_activity(frame: Any) -> bool:
    """True while the main thread runs one of the method's activities (see the interrupter)."""
    return _in_method_activity(frame)


def install_interrupter(guard: Interruptible, stop_now: Callable[[Any], bool] | None = None) -> bool:
    """Wrap chaoslib's SIGUSR1 handler so that the guard can stop the method.

    A real signal is needed: it wakes a main thread blocked in ``time.sleep``
    (a pause) or waiting for a process probe, which an exception injected
    from another thread cannot do. The wrapper raises chaoslib's own
    ``SystemExit(20)`` (interrupted, rollbacks allowed) only while a method
    activity runs on the main thread, so a late signal never cuts short the
    wait for background activities or the rollbacks. With ``stop_now``, an
    abort also stops the run wherever ``stop_now(frame)`` answers True (for
    example :func:`before_method`, where there is nothing to roll back yet).
    Must be called from the main thread, where chaoslib runs controls.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGUSR1)
    if not callable(previous):
        logger.warning("chaosllm: not run by Chaos Toolkit; the method cannot be interrupted")
        return False

    def handler(signum: int, frame: Any) -> None:
        if not guard.aborted:
            previous(signum, frame)
            return
        if guard.in_method and _in_method_activity(frame):
            raise SystemExit(20)
        if stop_now is not None and stop_now(frame):
            raise SystemExit(20)
        if not _in_method(frame):
            guard.in_method = False

    signal.signal(signal.SIGUSR1, handler)
    guard.restore_handler = lambda: signal.signal(signal.SIGUSR1, previous)
    guard.can_interrupt = True
    return True


def rollback_strategy(settings: Any) -> str:
    """The rollback strategy of the run, from the settings chaoslib's runner passes on.

    The ``--rollback-strategy`` option reaches the runner's settings, not
    those the controls of an experiment are given: read it from a run event.
    """
    runtime = (settings or {}).get("runtime") or {}
    return str((runtime.get("rollbacks") or {}).get("strategy") or "default")


def signal_self() -> None:
    """Send SIGUSR1 to the main thread, where chaoslib runs the method."""
    # Aimed at the main thread: a process-wide kill() sent from this thread is
    # sometimes taken by this thread, and the main thread sleeps on (measured:
    # 2 trials in 12 of the safeguards benchmark waited out a 10 s pause).
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)


def run_rollbacks(experiment: dict[str, Any], configuration: Any, secrets: Any) -> list[Any]:
    """Play the experiment's rollbacks, as chaoslib would; return their runs."""
    from chaoslib.run import EventHandlerRegistry, apply_rollbacks, get_background_pools

    _, pool = get_background_pools(experiment)
    runs: list[Any] = []
    try:
        apply_rollbacks(
            experiment, configuration, secrets, pool, experiment.get("dry"),
            EventHandlerRegistry(), runs,
        )  # fmt: skip
    except (InterruptExecution, KeyboardInterrupt, SystemExit) as exc:
        logger.error(f"chaosllm: rollbacks were interrupted: {exc!r}")
    return runs


# Who played the rollbacks of each experiment run in this process, by id(); the
# experiment is kept with it so that its id cannot be reused for another one
# until forget_rollbacks() drops it at the end of the run.
_played: dict[int, tuple[Any, str]] = {}
_played_lock = threading.Lock()


def note_rollbacks_played(experiment: Any, by: str) -> bool:
    """Record that ``by`` plays the experiment's rollbacks; False when someone already did."""
    with _played_lock:
        if id(experiment) in _played:
            return False
        _played[id(experiment)] = (experiment, by)
        return True


def rollbacks_played_by(experiment: Any) -> str | None:
    """Who played the experiment's rollbacks ("chaoslib", a control's name), or None."""
    found = _played.get(id(experiment))
    return found[1] if found else None


def run_rollbacks_once(
    experiment: dict[str, Any], configuration: Any, secrets: Any, by: str
) -> tuple[str, list[Any] | None]:
    """Play the rollbacks unless they were played already; returns who played
    them and, when it was ``by`` now, their runs."""
    if not note_rollbacks_played(experiment, by):
        return rollbacks_played_by(experiment) or by, None
    return by, run_rollbacks(experiment, configuration, secrets)


def forget_rollbacks(experiment: Any) -> None:
    with _played_lock:
        _played.pop(id(experiment), None)
