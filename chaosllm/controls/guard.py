"""The abort guard: stop the method when an SLO breaks, and always roll back.

Declare it in an experiment's ``controls`` block, or under ``controls`` in
the Chaos Toolkit settings file (same ``provider``)::

    {"name": "chaosllm-guard",
     "provider": {"type": "python", "module": "chaosllm.controls.guard",
       "arguments": {
         "interval": "1s", "for": "0s", "min_samples": 1, "on_no_data": "ignore",
         "conditions": [
           {"error_ratio": {"metric": "http_requests_total", "selector": "job=\\"api\\"",
                            "error_selector": "status=~\\"5..\\"", "window": "30s"},
            "above": "5%"},
           {"latency_quantile": {"metric": "http_request_duration_seconds",
                                 "quantile": 0.95, "window": "30s"},
            "above": "2000ms"},
           {"availability": {"metric": "http_requests_total"}, "below": 0.95},
           {"name": "queue backlog", "query": "sum(rabbitmq_queue_messages)", "above": 10000},
           {"scrape": "http://127.0.0.1:8080/metrics",
            "error_ratio": {"metric": "http_requests_total", "errors": {"status": "5.."}},
            "above": 0.05, "min_samples": 2}
         ]}}}

Conditions:

- a Prometheus source is one of ``query`` (PromQL returning one number),
  ``error_ratio`` / ``availability`` (arguments of the SLO probes of the same
  names: ``metric``, ``selector``, ``error_selector``, ``window``) or
  ``latency_quantile`` (``metric``, ``quantile``, ``selector``, ``window``);
  the server is ``prometheus_base_url`` (argument or setting), with the
  authentication of :mod:`chaosllm._clients.prometheus`;
- a direct source, for reactions faster than the scrape interval, is
  ``scrape`` (the URL of a Prometheus-format ``/metrics`` page) with
  ``metric`` (a gauge or counter name, summed over ``labels``),
  ``error_ratio``/``availability`` (``metric``, ``errors``: label regexes of
  the error series, ``labels``) or ``latency_quantile`` (``metric``,
  ``quantile``, ``labels``); ratios and quantiles come from the change
  between two consecutive scrapes;
- ``above`` or ``below`` takes a number, a percentage ("5%") or a duration
  ("2000ms" = 2.0, for latencies in seconds);
- ``for`` (duration the breach must last) and ``min_samples`` (consecutive
  breaching samples) default to the guard-wide values; ``on_no_data``
  ("ignore" or "breach") decides what an empty answer or an unreachable
  source counts as.

Every source is polled by its own thread, from the start of the method
until the rollbacks end, every ``interval``; a sample is judged as soon as it
arrives. On a breach during the method the guard interrupts it the way
Chaos Toolkit's own exit signal does (SIGUSR1, which also cuts short a
running pause or process probe), and makes sure the rollbacks run: unless
the rollback strategy is "always" (the only one under which Chaos Toolkit
rolls back an interrupted run), the guard plays them itself, once, as soon
as the method has stopped. The journal
gets, under ``extensions``::

    {"name": "chaosllm-guard", "aborted": true, "conditions": [...as configured...],
     "breaches": [{"condition": "error_ratio > 0.05", "observed": 0.31,
                   "threshold": 0.05, "at": "2026-01-01T00:00:00.123+00:00",
                   "source": "prometheus"}],
     "rollbacks_run_by": "chaosllm-guard", "samples": 42, "errors": 0}
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidActivity

from chaosllm.controls._conditions import Condition, ScrapeState, parse_conditions
from chaosllm.controls._experiment import flat_secrets
from chaosllm.errors import ChaosLLMError, InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.journal_keys import GUARD_EXTENSION
from chaosllm.settings import redact

__all__ = [
    "Guard",
    "validate_control",
    "configure_control",
    "before_experiment_control",
    "before_method_control",
    "after_method_control",
    "before_rollback_control",
    "after_rollback_control",
    "after_experiment_control",
    "cleanup_control",
    "install_interrupter",
]

logger = logging.getLogger("chaostoolkit")
EXTENSION_NAME = GUARD_EXTENSION


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


class Guard:
    """Background evaluation of abort conditions for one experiment run."""

    def __init__(
        self,
        conditions: list[Any],
        interval: Any = "1s",
        min_samples: int = 1,
        for_: Any = "0s",
        on_no_data: str = "ignore",
        prometheus_base_url: str | None = None,
        configuration: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        interrupt: Callable[[], None] | None = None,
    ) -> None:
        self.interval = parse_duration(interval, "guard: 'interval'")
        if self.interval <= 0:
            raise InvalidArgument("guard: 'interval' must be above zero")
        if on_no_data not in ("ignore", "breach"):
            raise InvalidArgument("guard: 'on_no_data' must be 'ignore' or 'breach'")
        self.raw_conditions = list(conditions or [])
        self.conditions = parse_conditions(
            conditions, parse_duration(for_, "guard: 'for'"), min_samples
        )
        self.on_no_data = on_no_data
        self.prometheus_base_url = prometheus_base_url
        self.configuration = configuration
        self.secrets = secrets
        self._interrupt = interrupt or _signal_self
        self.can_interrupt = interrupt is not None
        self.restore_handler: Callable[[], Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.in_method = False
        self.aborted = False
        self.breaches: list[dict[str, Any]] = []
        self.samples = 0
        self.errors = 0
        self.resignals = 0
        self.rollbacks_seen = False
        self.rollbacks_run_by: str | None = None
        self.rollback_runs: list[Any] | None = None
        self.rollback_strategy = "default"
        self.reported = False
        self.started = False

    # lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Start watching (once): the method is starting."""
        with self._lock:
            if self.started:
                return
            self.started = True
            self.in_method = True
        groups: dict[str, list[Condition]] = {}
        for condition in self.conditions:
            key = condition.scrape_url or f"prometheus#{condition.index}"
            groups.setdefault(key, []).append(condition)
        for key, members in groups.items():
            self._spawn(f"chaosllm-guard {key}", self._poll, members)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def method_ended(self) -> None:
        # a plain store: the signal handler may run while this thread holds _lock
        self.in_method = False

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=max(2.0, self.interval * 2))
        self._threads.clear()

    # evaluation ----------------------------------------------------------
    def _poll(self, members: list[Condition]) -> None:
        fetch = self._scraper(members) if members[0].scrape_url else self._querier(members[0])
        while not self._stop.is_set():
            tick = time.monotonic()
            try:
                values = fetch()
            except Exception as exc:  # whatever the source does, the guard keeps watching
                self.errors += 1
                shown = exc if isinstance(exc, ChaosLLMError) else f"{type(exc).__name__}: {exc}"
                logger.warning(f"chaosllm guard: {shown}")
                values = [None] * len(members)
            for condition, value in zip(members, values, strict=True):
                self.judge(condition, value)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - tick)))

    def _querier(self, condition: Condition) -> Callable[[], list[float | None]]:
        from chaosllm._clients.prometheus import prometheus_api
        from chaosllm.slo.promql import single_value

        assert condition.query is not None
        query = condition.query

        def fetch() -> list[float | None]:
            with prometheus_api(
                f"evaluate guard condition {condition.text!r}", self.prometheus_base_url,
                self.configuration, self.secrets, timeout=max(1.0, 2 * self.interval),
            ) as api:  # fmt: skip
                return [single_value(api, query)]

        return fetch

    def _scraper(self, members: list[Condition]) -> Callable[[], list[float | None]]:
        from chaosllm._clients.prometheus import scrape
        from chaosllm.slo.exposition import parse_exposition

        url = members[0].scrape_url
        assert url is not None
        state = ScrapeState()

        def fetch() -> list[float | None]:
            samples = parse_exposition(scrape(url, timeout=max(1.0, 2 * self.interval)))
            return [state.value(condition, samples) for condition in members]

        return fetch

    def judge(self, condition: Condition, value: float | None) -> None:
        """Judge one sample the moment it arrives; interrupt on a confirmed breach."""
        now = time.time()
        self.samples += 1
        breaching = condition.breaching(value) or (value is None and self.on_no_data == "breach")
        if not condition.observe(breaching, time.monotonic()):
            return
        with self._lock:
            condition.triggered = True
            self.breaches.append(
                {
                    "condition": condition.text,
                    "observed": value,
                    "threshold": condition.threshold,
                    "at": _iso(now),
                    "source": condition.source,
                }
            )
            first = not self.aborted
            self.aborted = True
            interrupt = first and self.in_method and self.can_interrupt
        shown = "no data" if value is None else f"{value:g}"
        logger.critical(f"chaosllm guard: {condition.text} (observed {shown})")
        if interrupt:
            logger.critical("chaosllm guard: interrupting the method; rollbacks will run")
            self._interrupt()
            self._spawn("chaosllm-guard interrupter", self.keep_interrupting)

    def keep_interrupting(self) -> None:
        """Signal the main thread until the method has really stopped.

        One signal is not always enough: chaoslib sleeps an activity's
        ``pauses.after`` in a ``finally`` block, so an interruption raised
        during the activity still waits out the whole pause.
        """
        while not self._stop.wait(RESIGNAL_EVERY):
            with self._lock:
                if not self.in_method:
                    return
                self.resignals += 1
                self._interrupt()

    # journal -------------------------------------------------------------
    def extension(self) -> dict[str, Any]:
        return {
            "name": EXTENSION_NAME,
            "aborted": self.aborted,
            "conditions": [_shown(c) for c in self.raw_conditions],
            "breaches": list(self.breaches),
            "rollbacks_run_by": self.rollbacks_run_by,
            "samples": self.samples,
            "errors": self.errors,
        }


RESIGNAL_EVERY = 0.1


def _shown(condition: Any) -> Any:
    """A condition as configured, with any password in its scrape URL hidden."""
    if isinstance(condition, dict) and isinstance(condition.get("scrape"), str):
        return {**condition, "scrape": redact(condition["scrape"])}
    return condition


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


def install_interrupter(guard: Guard) -> bool:
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


def _signal_self() -> None:
    # Aimed at the main thread: a process-wide kill() sent from this thread is
    # sometimes taken by this thread, and the main thread sleeps on (measured:
    # 2 trials in 12 of the safeguards benchmark waited out a 10 s pause).
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)


_current: Guard | None = None
_setup_error: str | None = None


def _build(arguments: dict[str, Any], configuration: Any, secrets: Any) -> Guard:
    return Guard(
        conditions=arguments.get("conditions") or [],
        interval=arguments.get("interval", "1s"),
        min_samples=arguments.get("min_samples", 1),
        for_=arguments.get("for", "0s"),
        on_no_data=arguments.get("on_no_data", "ignore"),
        prometheus_base_url=arguments.get("prometheus_base_url"),
        configuration=configuration,
        secrets=flat_secrets(secrets),
    )


def validate_control(control: dict[str, Any]) -> None:
    """Refuse a malformed guard at ``chaos validate`` time."""
    arguments = control.get("provider", {}).get("arguments", {})
    if "${" in json.dumps(arguments):  # filled in at run time, and checked then
        return
    try:
        _build(arguments, None, None)
    except InvalidArgument as exc:
        raise InvalidActivity(str(exc)) from exc


def _observer(guard: Guard) -> Any:
    """A run event handler that learns the rollback strategy the run really uses
    and starts the guard when the method starts.

    The ``--rollback-strategy`` option reaches chaoslib's runner, not the
    settings that controls are given, so it is read from the runner's event.
    """
    from chaoslib.run import RunEventHandler

    class Observer(RunEventHandler):  # type: ignore[misc]
        def running(self, experiment: Any, journal: Any, configuration: Any, secrets: Any,
                    schedule: Any, settings: Any) -> None:  # fmt: skip
            guard.rollback_strategy = _strategy(settings)

        def start_method(self, experiment: Any) -> None:
            # Chaos Toolkit gives a guard from the settings file no method-level
            # hooks when the experiment declares controls of its own: start here.
            _begin(guard)

    return Observer()


def configure_control(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    event_registry: Any = None,
    **arguments: Any,
) -> None:
    """Parse the guard; a bad one is refused at the start of the experiment."""
    global _current, _setup_error
    from chaoslib import substitute

    _current, _setup_error = None, None
    try:
        # ${...} placeholders come from the configuration and secrets, as in activities;
        # the journal keeps the conditions as written, placeholders and all.
        _current = _build(substitute(arguments, configuration or {}, secrets or {}), configuration, secrets)
    except InvalidArgument as exc:
        _setup_error = str(exc)
        return
    _current.raw_conditions = list(arguments.get("conditions") or [])
    _current.rollback_strategy = _strategy(settings)
    if event_registry is not None:
        event_registry.register(_observer(_current))


def before_experiment_control(context: Any, **arguments: Any) -> None:
    """Refuse to run unguarded when the guard's configuration is wrong."""
    if _setup_error is not None:
        raise InterruptExecution(f"chaosllm guard refused the experiment: {_setup_error}")


def _begin(guard: Guard) -> None:
    if not guard.started:
        install_interrupter(guard)
        guard.start()


def before_method_control(context: Any, **arguments: Any) -> None:
    if _current is not None:
        _begin(_current)


def _strategy(settings: Any) -> str:
    runtime = (settings or {}).get("runtime") or {}
    return str((runtime.get("rollbacks") or {}).get("strategy") or "default")


def after_method_control(
    context: Any,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **arguments: Any,
) -> None:
    """End the interruptions; after an abort, roll back now unless chaoslib will."""
    guard = _current
    if guard is None:
        return
    guard.method_ended()
    # After an interruption chaoslib plays rollbacks only under "always".
    if guard.aborted and not guard.rollbacks_seen and guard.rollback_strategy != "always":
        experiment = context if isinstance(context, dict) else {}
        _run_rollbacks(guard, experiment, configuration, secrets)


def before_rollback_control(context: Any, **arguments: Any) -> None:
    if _current is not None:
        _current.method_ended()
        _current.rollbacks_seen = True
        if _current.rollbacks_run_by is None:
            _current.rollbacks_run_by = "chaoslib"


def after_rollback_control(context: Any, **arguments: Any) -> None:
    if _current is not None:
        _current.stop()


def _run_rollbacks(
    guard: Guard, experiment: dict[str, Any], configuration: Any, secrets: Any
) -> None:
    """Play the experiment's rollbacks once, as chaoslib would."""
    from chaoslib.run import EventHandlerRegistry, apply_rollbacks, get_background_pools

    if not experiment.get("rollbacks"):
        return
    logger.warning("chaosllm guard: the rollback strategy skips rollbacks after an abort; "
                   "running them now")  # fmt: skip
    guard.rollbacks_run_by = EXTENSION_NAME
    _, pool = get_background_pools(experiment)
    guard.rollback_runs = []
    try:
        apply_rollbacks(
            experiment, configuration, secrets, pool, experiment.get("dry"),
            EventHandlerRegistry(), guard.rollback_runs,
        )  # fmt: skip
    except (InterruptExecution, KeyboardInterrupt, SystemExit) as exc:
        logger.error(f"chaosllm guard: rollbacks were interrupted: {exc!r}")


def after_experiment_control(
    context: Any,
    state: Any = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **arguments: Any,
) -> None:
    """Run rollbacks still skipped after an abort, then write the guard's record."""
    guard = _current
    if guard is None or guard.reported:
        return
    guard.method_ended()
    if guard.aborted and not guard.rollbacks_seen:
        _run_rollbacks(guard, context if isinstance(context, dict) else {}, configuration, secrets)
    guard.stop()
    guard.reported = True
    if isinstance(state, dict):
        if guard.rollback_runs is not None and not state.get("rollbacks"):
            state["rollbacks"] = guard.rollback_runs
        state.setdefault("extensions", []).append(guard.extension())


def cleanup_control() -> None:
    global _current
    if _current is not None:
        _current.stop()
        if _current.restore_handler is not None and (
            threading.current_thread() is threading.main_thread()
        ):
            _current.restore_handler()
    _current = None
