"""Every chaosllm control fails closed.

Chaos Toolkit (chaoslib 1.44) logs at DEBUG any exception a control raises,
except ``InterruptExecution``, and carries on; a ``configure_control`` that
raises anything, ``InterruptExecution`` included, makes Chaos Toolkit drop the
control for the whole run. A safety control that raises by accident would so
be silently switched off. Each control module therefore ends with
``protect(globals(), NAME)``, which wraps every hook it defines:

- ``validate_control``: any failure becomes ``InvalidActivity`` (``chaos
  validate`` and ``chaos run`` refuse the experiment);
- ``configure_control``: a failure is kept, never raised, so that the control
  stays registered, and its ``before_experiment_control`` (added when the
  module has none) stops the run with it before the first activity;
- before the method (experiment, hypothesis and activity hooks of the
  steady-state check, ``before_method_control``) and during the method: any
  failure becomes ``InterruptExecution``, which stops the run; when it
  stops the method, the rollbacks are played at the end of the run if Chaos
  Toolkit's rollback strategy skipped them;
- during the rollbacks and at the end of the run, where stopping would leave
  faults in place: the failure is logged at ERROR and the journal's status
  becomes ``interrupted`` (``chaos run`` exits 1);
- ``cleanup_control``: logged at ERROR.

A control declared for every run (the settings file's ``controls``, ``chaos run
--control-file``) is checked by its ``validate_control`` when it is set up, kept
to one declaration per run when its module keeps one state, and the run is
refused when Chaos Toolkit left one out (:mod:`chaosllm.controls._global`); a
module with no ``configure_control`` gets one for this.

Every failure and every refusal is logged at ERROR, written to the audit log
(event ``control-failed`` or ``control-refused``, with the control, the hook
and the error) and listed in the journal's extension ``chaosllm-failclosed``.
``KeyboardInterrupt`` and ``SystemExit`` (Chaos Toolkit's own interruptions)
pass through untouched.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Collection, Mapping, MutableMapping
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidActivity

from chaosllm.controls._auditlog import audit_path, record_event
from chaosllm.controls._experiment import experiment_digest
from chaosllm.controls._global import (
    Superseded,
    check_declaration,
    global_declaration,
    left_out,
    superseded_by,
)
from chaosllm.redaction import redact_text

__all__ = ["protect", "HOOKS", "EXTENSION_NAME", "failures", "is_protected", "forget_runs"]

logger = logging.getLogger("chaostoolkit")
EXTENSION_NAME = "chaosllm-failclosed"
AUDIT_MODULE = "chaosllm.controls.audit"

_BEFORE = ("before_experiment_control", "before_hypothesis_control", "after_hypothesis_control",
           "before_method_control", "before_activity_control", "after_activity_control",
           "after_method_control", "before_rollback_control", "after_rollback_control",
           "before_loading_experiment_control", "after_loading_experiment_control")  # fmt: skip
HOOKS = ("validate_control", "configure_control", "cleanup_control", "after_experiment_control",
         *_BEFORE)  # fmt: skip
_MARK = "__chaosllm_failclosed__"

# What failed in this run, in order; the experiment the run is about.
_failures: list[dict[str, Any]] = []
_run: dict[str, Any] = {"experiment": None}
# The deferred set-up failure of each control, by control name.
_setup_errors: dict[str, str] = {}
# Set when a failure stopped the run after the method started: its rollbacks must still run.
_stopped: dict[str, Any] = {}


def failures() -> list[dict[str, Any]]:
    """The failures and refusals of the current run."""
    return list(_failures)


def is_protected(func: Any) -> bool:
    return bool(getattr(func, _MARK, False))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, InterruptExecution):
        text = f"{type(exc).__name__}: {text}"
    # an unpaired surrogate (from a crafted file) could not be written to a log
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return redact_text(text)[:2000]


def forget_runs() -> None:
    """Forget every run's failures and deferred set-up errors (a process that
    runs experiments one after another through the hooks, such as a test)."""
    _run["experiment"] = None
    _run.pop("modules_checked", None)
    _failures.clear()
    _setup_errors.clear()
    _stopped.clear()


def _new_run(experiment: Any) -> None:
    """Forget the last run's failures when hooks see another experiment."""
    if isinstance(experiment, dict) and experiment is not _run["experiment"]:
        _run["experiment"] = experiment
        _failures.clear()
        _stopped.clear()


def _phase() -> tuple[str, dict[str, Any]]:
    """Where chaoslib's run is: ``before`` the method (nothing changed yet),
    ``rollback``, or ``after`` the method started; with the run's configuration
    and secrets, which not every hook is given."""
    chaoslib_run = sys.modules.get("chaoslib.run")
    rollbacks = getattr(getattr(chaoslib_run, "apply_rollbacks", None), "__code__", None)
    runner = getattr(getattr(getattr(chaoslib_run, "Runner", None), "_run", None), "__code__", None)
    frame: Any = sys._getframe()
    phase = "before"
    while frame is not None:
        if frame.f_code is rollbacks:
            phase = "rollback"
        elif frame.f_code is runner:
            local = frame.f_locals
            journal = local.get("journal")
            # chaoslib's run_method sets the journal's "run" as the method starts
            if phase == "before" and isinstance(journal, dict) and "run" in journal:
                phase = "after"
            return phase, {"configuration": local.get("configuration"), "secrets": local.get("secrets")}
        frame = frame.f_back
    return phase, {}


def _declared_providers(experiment: Any) -> list[Mapping[str, Any]]:
    """The providers of the controls of this run: the experiment's and the settings file's."""
    declared: list[Any] = list((experiment or {}).get("controls") or []) if isinstance(
        experiment, Mapping) else []  # fmt: skip
    try:
        from chaoslib.control import get_global_controls

        declared += list(get_global_controls())
    except Exception:  # noqa: BLE001 - an older chaoslib: the experiment's controls only
        pass
    providers = [c.get("provider") for c in declared if isinstance(c, Mapping)]
    return [p for p in providers if isinstance(p, Mapping)]


def _unloadable(experiment: Any) -> list[str]:
    """The chaosllm control modules this run declares that cannot be imported: Chaos
    Toolkit would run without them, with only a warning."""
    import importlib

    missing = []
    for provider in _declared_providers(experiment):
        module = provider.get("module")
        if isinstance(module, str) and module.split(".")[0] == "chaosllm":
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - whatever stops chaoslib importing it
                missing.append(f"{module} ({type(exc).__name__}: {exc})")
    return missing


def _audit_target(experiment: Any, configuration: Any) -> Any:
    """The audit log the audit control of this run writes to (its ``path`` argument)."""
    path = None
    for provider in _declared_providers(experiment):
        if provider.get("module") == AUDIT_MODULE:
            arguments = provider.get("arguments")
            path = arguments.get("path") if isinstance(arguments, Mapping) else None
            break
    if isinstance(path, str) and "${" in path:
        from chaoslib import substitute

        path = substitute(path, configuration if isinstance(configuration, dict) else {}, {})
    return audit_path(path if isinstance(path, str) and path else None, configuration)


def _record(name: str, hook: str, exc: BaseException, context: dict[str, Any]) -> str:
    """Log one failure at ERROR and write it to the audit log; returns the message."""
    refused = isinstance(exc, InterruptExecution)
    message = (f"chaosllm control '{name}' " + ("refused the run" if refused else f"failed in {hook}")
               + f": {_describe(exc)}")  # fmt: skip
    entry = {"control": name, "hook": hook, "error": message,
             "event": "control-refused" if refused else "control-failed"}  # fmt: skip
    _failures.append(entry)
    try:
        experiment = context.get("experiment")
        fields: dict[str, Any] = {"control": name, "hook": hook, "error": message}
        if isinstance(experiment, dict):
            fields["experiment"] = {"title": str(experiment.get("title", "")),
                                    "digest": experiment_digest(experiment)}  # fmt: skip
        record_event(entry["event"], fields, _audit_target(experiment, context.get("configuration")))
    except Exception as audit_exc:  # noqa: BLE001 - the run stops all the same: say why there is no entry
        message += f" (and the audit log could not record it: {_describe(audit_exc)})"
        entry["error"] = message
    logger.error(message)
    return message


def _experiment_of(hook: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    if "experiment" in kwargs:
        return kwargs["experiment"]
    context = kwargs.get("context", args[0] if args else None)
    return context if hook.endswith("experiment_control") else None


def _missing_controls(experiment: Any) -> InterruptExecution | None:
    """Why the run lacks a chaosllm control it declares, if it does."""
    missing = _unloadable(experiment)
    if missing:
        return InterruptExecution(
            f"the run declares chaosllm control module(s) that cannot be imported, which "
            f"Chaos Toolkit would skip: {'; '.join(missing)}")  # fmt: skip
    dropped = left_out(experiment)
    if dropped:
        return InterruptExecution(
            f"the settings file declares chaosllm control(s) that Chaos Toolkit left out of the "
            f"run: {'; '.join(dropped)}")  # fmt: skip
    return None


# What chaoslib itself passes to configure_control, next to the control's arguments.
_CHAOSLIB_KEYWORDS = frozenset({"configuration", "secrets", "settings", "experiment", "event_registry"})


def _unknown_arguments(name: str, hook: str, args: tuple[Any, ...], kwargs: Mapping[str, Any],
                       known: frozenset[str]) -> InvalidActivity | None:  # fmt: skip
    """A control argument the control does not take (a typo would silently keep a default)."""
    if hook == "validate_control":
        control = args[0] if args else kwargs.get("control")
        provider = control.get("provider") if isinstance(control, Mapping) else None
        given = provider.get("arguments") if isinstance(provider, Mapping) else None
        keys = set(given) if isinstance(given, Mapping) else set()
    else:
        keys = set(kwargs) - _CHAOSLIB_KEYWORDS
    unknown = sorted(str(key) for key in keys - known)
    if not unknown:
        return None
    takes = ", ".join(sorted(known)) or "no argument"
    return InvalidActivity(f"chaosllm control '{name}' does not take the argument(s) "
                           f"{', '.join(map(repr, unknown))}; it takes: {takes}")  # fmt: skip


def _wrap(name: str, hook: str, func: Callable[..., Any], one_per_run: bool = False,
          known: frozenset[str] | None = None) -> Callable[..., Any]:  # fmt: skip
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        experiment = _experiment_of(hook, args, kwargs)
        _new_run(experiment)
        where = {"experiment": experiment or _run["experiment"],
                 "configuration": kwargs.get("configuration")}  # fmt: skip
        if known is not None and hook in ("validate_control", "configure_control"):
            refused = _unknown_arguments(name, hook, args, kwargs, known)
            if refused is not None:
                return _failed(name, hook, refused, where)
        if hook == "configure_control":
            _setup_errors.pop(name, None)
            declared = global_declaration()
            if declared is not None:
                if one_per_run and superseded_by(*declared):
                    raise Superseded(f"chaosllm control '{name}': another declaration is used")
                try:
                    check_declaration(declared[0])
                except Exception as exc:  # noqa: BLE001 - refuses the run, as for an experiment's
                    return _failed(name, hook, exc, where)
        if hook == "before_experiment_control" and name in _setup_errors:
            error = InterruptExecution(_setup_errors.pop(name))
            _record(name, hook, error, where)
            raise error
        if hook == "before_experiment_control" and _run.get("modules_checked") is not where["experiment"]:
            _run["modules_checked"] = where["experiment"]
            error = _missing_controls(where["experiment"])
            if error is not None:
                _record(name, hook, error, where)
                raise error
        try:
            return func(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the point: nothing a control raises is skipped
            return _failed(name, hook, exc, where)
        finally:
            if hook == "after_experiment_control":
                _finish_run(where["experiment"], kwargs.get("state"))

    setattr(guarded, _MARK, True)
    return guarded


def _failed(name: str, hook: str, exc: Exception, where: dict[str, Any]) -> Any:
    if hook == "validate_control":
        if isinstance(exc, InvalidActivity):
            raise exc
        raise InvalidActivity(f"chaosllm control '{name}': {_describe(exc)}") from exc
    if hook == "configure_control":
        _record(name, hook, exc, where)
        # raised again, without the prefix _record adds, by the control's before_experiment_control
        cause = _describe(exc)
        _setup_errors[name] = cause if isinstance(exc, InterruptExecution) else f"{hook}: {cause}"
        return None
    phase, run = ("end", {}) if hook in ("cleanup_control", "after_experiment_control") else _phase()
    message = _record(name, hook, exc, where)
    if phase in ("end", "rollback"):
        return None  # stopping now would leave faults in place: the end of the run reports it
    if phase == "after":
        _stopped.update(active=True, **run)
    if isinstance(exc, InterruptExecution):
        raise exc  # the control's own refusal: chaoslib stops the run and logs why
    raise InterruptExecution(message) from exc


def _finish_run(experiment: Any, journal: Any) -> None:
    """At the end of the run: play the rollbacks a failure made chaoslib skip, and
    mark the journal of a run where a control failed."""
    stopped = _stopped.pop("active", False) and isinstance(experiment, dict)
    played = isinstance(journal, dict) and journal.get("rollbacks")
    if stopped and experiment.get("rollbacks") and not played:
        from chaosllm.controls._interrupt import run_rollbacks_once

        by, runs = run_rollbacks_once(experiment, _stopped.get("configuration"),
                                      _stopped.get("secrets"), EXTENSION_NAME)  # fmt: skip
        if runs is not None and isinstance(journal, dict):
            journal["rollbacks"] = runs
        logger.warning(f"chaosllm: the rollbacks chaoslib skipped after a control failure were "
                       f"played by {by}")  # fmt: skip
    if not _failures or not isinstance(journal, dict):
        return
    if journal.get("status") == "completed":
        journal["status"] = "interrupted"
    extensions = journal.setdefault("extensions", [])
    mine = [e for e in extensions if isinstance(e, dict) and e.get("name") == EXTENSION_NAME]
    if mine:
        mine[0]["failures"] = list(_failures)
    else:
        extensions.append({"name": EXTENSION_NAME, "failures": list(_failures)})


def _before_experiment(context: Any, **arguments: Any) -> None:
    """Stop the run when this control could not set itself up (see :func:`protect`)."""


def _after_experiment(context: Any, state: Any = None, **arguments: Any) -> None:
    """Report this run's control failures in the journal (see :func:`protect`)."""


def _validate(control: Any = None) -> None:
    """Nothing more to check than the control's argument names (see :func:`protect`)."""


def _configure(experiment: Any = None, **arguments: Any) -> None:
    """Nothing to set up: the checks of a global declaration (see :func:`protect`)."""


def protect(namespace: MutableMapping[str, Any], name: str, one_per_run: bool = False,
            arguments: Collection[str] | None = None) -> None:  # fmt: skip
    """Wrap every control hook the module ``namespace`` defines (see the module's docstring).

    ``one_per_run``: the module keeps one state per run, so one declaration of
    it is used when the experiment and the settings file both declare it
    (:mod:`chaosllm.controls._global`). ``arguments``: every argument the
    control takes; any other is refused by ``chaos validate`` and refuses the
    run (a misspelt ``on_no_data`` would otherwise leave its default in force).
    """
    known = frozenset(arguments) if arguments is not None else None
    if known is not None:
        namespace.setdefault("validate_control", _validate)
    namespace.setdefault("configure_control", _configure)
    namespace.setdefault("before_experiment_control", _before_experiment)
    namespace.setdefault("after_experiment_control", _after_experiment)
    for hook in HOOKS:
        func = namespace.get(hook)
        if callable(func) and not is_protected(func):
            namespace[hook] = _wrap(name, hook, func, one_per_run, known)
