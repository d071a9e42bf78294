"""Rollbacks on every interruption, and the halt switch's side inside a run.

Declare it at the end of an experiment's ``controls`` block, followed only by
``chaosllm.controls.redact`` (every shipped experiment does), or under
``controls`` in the Chaos Toolkit settings file to cover every run (same
``provider``; it takes no arguments)::

    {"name": "chaosllm-rollbacks",
     "provider": {"type": "python", "module": "chaosllm.controls.rollbacks"}}

A run that uses it:

- plays its rollbacks, exactly once, when it is interrupted by Ctrl-C,
  SIGTERM (a CI job cancelled, a pod evicted), a halt or an exception in the
  method, whatever the rollback strategy (Chaos Toolkit's default skips them
  after an interruption); a second signal while rolling back is noted and the
  rollbacks finish, a third leaves at once;
- then restores the faults of this run (and only this run) that are still in
  the fault ledger, and says on the console what it rolled back and restored;
- registers itself in ``$CHAOSLLM_STATE_DIR/runs/`` so that ``chaosllm halt``
  sees it, is refused at the start while a halt holds (also the cluster's
  halt, when the setting ``halt_namespace`` names its namespace), and is
  aborted within a tick of a halt the way the guard aborts a run.

If anything of the run may still be in force at its end, the last console
line and the journal's extension end with "run 'chaosllm cleanup'". The
journal gets, under ``extensions``::

    {"name": "chaosllm-rollbacks", "run": "4242-1f0c...", "interrupted_by": "SIGINT",
     "rollback_strategy": "default", "rollbacks_run_by": "chaosllm-rollbacks",
     "restored_from_ledger": [], "left": [], "errors": [], "message": "nothing left in force"}

A failure inside the control never lets the run go on unprotected: a control
that could not set itself up refuses the experiment, and the end of the run is
retried from the control's cleanup and from the run's last event.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidActivity

from chaosllm.controls._failclosed import protect
from chaosllm.controls._interrupt import rollback_strategy
from chaosllm.controls._rollback_run import PREFIX, RollbackRun
from chaosllm.faults.halt import Halted, refuse_if_halted
from chaosllm.settings import get_setting

__all__ = [
    "validate_control",
    "configure_control",
    "before_experiment_control",
    "before_method_control",
    "after_method_control",
    "before_rollback_control",
    "after_experiment_control",
    "cleanup_control",
]

logger = logging.getLogger("chaostoolkit")

_current: RollbackRun | None = None
_setup_error: str | None = None


def validate_control(control: dict[str, Any]) -> None:
    """The control takes no arguments: refuse any, so that a typo is not ignored."""
    arguments = control.get("provider", {}).get("arguments") or {}
    if arguments:
        raise InvalidActivity(f"chaosllm rollbacks takes no arguments, got {sorted(arguments)}")


def _observer(run: RollbackRun) -> Any:
    """Run events reach a control declared in the settings file too, which
    Chaos Toolkit leaves out of method-level hooks when the experiment has
    controls of its own; they also carry the rollback strategy and the journal."""
    from chaoslib.run import RunEventHandler

    class Observer(RunEventHandler):  # type: ignore[misc]
        def running(self, experiment: Any, journal: Any, configuration: Any, secrets: Any,
                    schedule: Any, settings: Any) -> None:  # fmt: skip
            run.journal = journal
            run.strategy = rollback_strategy(settings)
            if run.phase == "configured":
                run.phase = "started"

        def start_method(self, experiment: Any) -> None:
            run.method_starts()

        def method_completed(self, experiment: Any, state: Any = None) -> None:
            run.method_ends(None)

        def signal_exit(self) -> None:
            run.method_ends(None)

        def interrupted(self, experiment: Any, journal: Any) -> None:
            run.method_ends(None)

        def start_rollbacks(self, experiment: Any) -> None:
            run.chaoslib_rolls_back()

        def rollbacks_completed(self, experiment: Any, journal: Any) -> None:
            run.phase = "after-rollbacks"

        def finish(self, journal: Any) -> None:
            _end(journal)

    return Observer()


def configure_control(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    event_registry: Any = None,
    **arguments: Any,
) -> None:
    """Register the run and take over its signals; never raises (chaoslib would
    silently drop a control whose set-up fails): a failure refuses the run instead."""
    global _current, _setup_error
    if _current is not None and _current.experiment is experiment and not _current.closed:
        return  # declared both in the settings file and in the experiment: one run
    _current, _setup_error = None, None
    try:
        run = RollbackRun(experiment if isinstance(experiment, dict) else {}, configuration, secrets)
        run.strategy = rollback_strategy(settings)
        if event_registry is not None:
            event_registry.register(_observer(run))
            run.observed = True
        run.start()
        _current = run
    except Exception as exc:
        _setup_error = f"{type(exc).__name__}: {exc}"
        logger.error(f"{PREFIX} could not set up ({_setup_error}); the experiment is refused")


def _refuse_if_halted(configuration: Any, secrets: Any) -> None:
    refuse_if_halted("this experiment")
    namespace = get_setting("halt_namespace", None, configuration, secrets)
    if not namespace:
        return
    try:
        from chaosllm.chaosmesh.sweep import cluster_halt
    except ImportError as exc:
        raise Halted(f"this experiment refused: the setting halt_namespace ({namespace}) asks "
                     f"to honour the cluster's halt, which this installation cannot check "
                     f"({exc})") from exc  # fmt: skip
    state = cluster_halt(str(namespace), configuration, secrets)
    if state:
        raise Halted(f"this experiment refused: chaos is halted in the cluster (ConfigMap "
                     f"chaosllm-halt in {namespace}) since {state.get('at')} by "
                     f"{state.get('by')} (reason: {state.get('reason') or 'none given'}); "
                     f"lift it with 'chaosllm halt --cluster --lift'")  # fmt: skip


def before_experiment_control(
    context: Any, configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None, **arguments: Any,
) -> None:  # fmt: skip
    """Refuse the run while a halt holds, or when the control could not set itself up."""
    if _setup_error is not None or _current is None:
        raise InterruptExecution(f"{PREFIX} the experiment is refused: the control could not set "
                                 f"up ({_setup_error or 'not configured'})")  # fmt: skip
    if _current.phase == "configured":
        _current.phase = "started"
    try:
        _refuse_if_halted(configuration, secrets)
    except Exception as exc:  # a halt, or a check that failed: either way, do not start
        logger.error(str(exc))
        raise InterruptExecution(str(exc)) from exc


def before_method_control(context: Any, **arguments: Any) -> None:
    if _current is not None and not _current.method_started:
        _current.method_starts()


def after_method_control(context: Any, **arguments: Any) -> None:
    """Note what stopped the method (Chaos Toolkit calls this while it unwinds)."""
    if _current is not None:
        _current.method_ends(sys.exc_info()[1])


def before_rollback_control(context: Any, **arguments: Any) -> None:
    if _current is not None and _current.phase != "finishing":
        _current.chaoslib_rolls_back()


def after_experiment_control(context: Any, state: Any = None, **arguments: Any) -> None:
    """Play the rollbacks the strategy skipped, restore this run's faults, write the journal."""
    if _current is not None:
        _finish(_current, state if isinstance(state, dict) else None, None)


def _finish(run: RollbackRun, journal: dict[str, Any] | None, crash: BaseException | None) -> None:
    try:
        run.finish(journal, crash)
    except Exception as exc:  # never swallowed at debug level by chaoslib: say it
        run.errors.append(f"{type(exc).__name__}: {exc}")
        logger.error(f"{PREFIX} failed at the end of the run: {exc}")


def _end(journal: Any) -> None:
    run = _current
    if run is None:
        return
    _finish(run, journal if isinstance(journal, dict) else None, None)
    run.close(journal if isinstance(journal, dict) else None)


def cleanup_control() -> None:
    """The end of the run when no run event comes (or the run is crashing)."""
    run = _current
    if run is None:
        return
    crash = sys.exc_info()[1]
    _finish(run, None, crash if crash is not None else None)
    if not run.observed:
        run.close(run.journal)


protect(globals(), "chaosllm-rollbacks", one_per_run=True)
