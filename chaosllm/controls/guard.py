"""The abort guard: stop the method when an SLO breaks, and always roll back.

Declare it in an experiment's ``controls`` block, or under ``controls`` in
the Chaos Toolkit settings file (same ``provider``)::

    {"name": "chaosllm-guard",
     "provider": {"type": "python", "module": "chaosllm.controls.guard",
       "arguments": {
         "interval": "1s", "for": "0s", "min_samples": 1, "on_no_data": "ignore",
         "slo_file": "slos.yaml",
         "conditions": [
           {"error_ratio": {"metric": "http_requests_total", "selector": "job=\\"api\\"",
                            "error_selector": "status=~\\"5..\\"", "window": "30s"},
            "above": "5%"},
           {"latency_quantile": {"metric": "http_request_duration_seconds",
                                 "quantile": 0.95, "window": "30s"},
            "above": "2000ms"},
           {"availability": {"metric": "http_requests_total"}, "below": 0.95},
           {"name": "queue backlog", "query": "sum(rabbitmq_queue_messages)", "above": 10000},
           {"slo": "api_latency_p95", "window": "30s", "above": "2000ms"},
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
- ``slo`` names an SLO of the SLO file ``slo_file`` (argument, or the
  setting ``slo_file``, ``$CHAOSLLM_SLO_FILE``), read over ``window``
  (default: the SLO's); without ``above`` or ``below`` the condition breaches
  when the SLO's objective is missed. Without ``conditions``, the guard uses
  the SLO file's ``guard`` list (:mod:`chaosllm.slo.refs`);
- a direct source, for reactions faster than the scrape interval, is
  ``scrape`` (the URL of a Prometheus-format ``/metrics`` page) with
  ``metric`` (a gauge or counter name, summed over ``labels``),
  ``error_ratio``/``availability`` (``metric``, ``errors``: label regexes of
  the error series, ``labels``) or ``latency_quantile`` (``metric``,
  ``quantile``, ``labels``); ratios and quantiles come from the change
  between two consecutive scrapes;
- ``above`` or ``below`` takes a number, a percentage ("5%") or a duration
  ("2000ms" = 2.0, for latencies in seconds), finite (NaN and infinities are
  refused);
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

import json
import logging
import threading
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidActivity

from chaosllm.controls._experiment import flat_secrets
from chaosllm.controls._failclosed import protect
from chaosllm.controls._interrupt import (
    install_interrupter,
    note_rollbacks_played,
    rollback_strategy,
    rollbacks_played_by,
    run_rollbacks_once,
)
from chaosllm.controls._poller import Guard
from chaosllm.errors import InvalidArgument
from chaosllm.journal_keys import GUARD_EXTENSION
from chaosllm.slo.refs import GUARD, needs_slo_file, resolve, slo_file_setting

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


_current: Guard | None = None
_setup_error: str | None = None


def _build(arguments: dict[str, Any], configuration: Any, secrets: Any) -> Guard:
    raw, conditions = resolve(arguments, GUARD, configuration, flat_secrets(secrets))
    guard = Guard(
        conditions=conditions or [],
        interval=arguments.get("interval", "1s"),
        min_samples=arguments.get("min_samples", 1),
        for_=arguments.get("for", "0s"),
        on_no_data=arguments.get("on_no_data", "ignore"),
        prometheus_base_url=arguments.get("prometheus_base_url"),
        configuration=configuration,
        secrets=flat_secrets(secrets),
    )
    guard.raw_conditions = list(raw or [])
    return guard


def validate_control(control: dict[str, Any]) -> None:
    """Refuse a malformed guard at ``chaos validate`` time."""
    arguments = control.get("provider", {}).get("arguments", {})
    if "${" in json.dumps(arguments):  # filled in at run time, and checked then
        return
    if needs_slo_file(arguments, GUARD) and not slo_file_setting(arguments, None, None):
        return  # the SLO file comes from the run's configuration: checked at run time
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
            guard.rollback_strategy = rollback_strategy(settings)

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
    if arguments.get("conditions"):  # else the SLO file's, as _build read them
        _current.raw_conditions = list(arguments["conditions"])
    _current.rollback_strategy = rollback_strategy(settings)
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
            # Played by a control (the rollbacks control), or else by chaoslib itself.
            note_rollbacks_played(context, "chaoslib")
            _current.rollbacks_run_by = rollbacks_played_by(context) or "chaoslib"


def after_rollback_control(context: Any, **arguments: Any) -> None:
    if _current is not None:
        _current.stop()


def _run_rollbacks(
    guard: Guard, experiment: dict[str, Any], configuration: Any, secrets: Any
) -> None:
    """Play the experiment's rollbacks once, and note who ran them."""
    if not experiment.get("rollbacks"):
        return
    if rollbacks_played_by(experiment) is None:
        logger.warning("chaosllm guard: the rollback strategy skips rollbacks after an abort; "
                       "running them now")  # fmt: skip
    guard.rollbacks_run_by, guard.rollback_runs = run_rollbacks_once(
        experiment, configuration, secrets, EXTENSION_NAME
    )


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


protect(globals(), "chaosllm-guard", one_per_run=True,
        arguments=("conditions", "interval", "min_samples", "for", "on_no_data", "prometheus_base_url",
                   "slo_file"))
