"""Controls declared for every run: the settings file's ``controls`` and ``--control-file``.

Chaos Toolkit (chaoslib 1.44) loads these global controls before the
experiment and sets them up (``configure_control``) before the experiment's
own. It never runs their ``validate_control``; it silently leaves out one
whose module cannot be imported or whose set-up raises before the control's
code runs (``arguments`` that are not a mapping); and when the experiment
declares the same control too, it sets up and runs both, although one module
keeps one state for the run. The protected hooks (:mod:`._failclosed`) so:

- at the set-up of a global declaration of a control that keeps one state per
  run (guard, metrics, rollbacks, redact: ``protect(..., one_per_run=True)``),
  keep one declaration of its module for the run: **the experiment's** when
  it declares the module itself (at any level), else the last global one (a
  ``--control-file`` over the settings file). The others are left out of the
  run (chaoslib drops a control whose set-up raises :class:`Superseded`),
  with a log line naming the declaration used;
- check every global declaration kept as ``chaos validate`` checks an
  experiment's (the module's ``validate_control``): a failure refuses the run
  before its first activity;
- at the start of the run, refuse it when a chaosllm control declared in the
  settings file is missing from the run's controls for any other reason.

:func:`runs_control` tells whether a control module is part of the run at all,
declared by the experiment or globally (the blast-radius control refuses a run
whose SLO file declares guard conditions that no guard control enforces).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Superseded", "global_declaration", "superseded_by", "check_declaration", "left_out",
           "runs_control"]

logger = logging.getLogger("chaostoolkit")

# The global declarations left out of the run on purpose: (the run's experiment, names).
_dropped: dict[str, Any] = {"experiment": None, "names": set()}


class Superseded(Exception):  # noqa: N818 - not an error: chaoslib drops the declaration
    """Raised by ``configure_control`` so that chaoslib leaves a global declaration out."""


def _module(control: Any) -> Any:
    provider = control.get("provider") if isinstance(control, Mapping) else None
    return provider.get("module") if isinstance(provider, Mapping) else None


def global_declaration() -> tuple[dict[str, Any], Any] | None:
    """The global control being set up and the run's experiment, when the caller
    is chaoslib's ``initialize_global_controls``; else None."""
    chaoslib_control = sys.modules.get("chaoslib.control")
    initializer = getattr(getattr(chaoslib_control, "initialize_global_controls", None),
                          "__code__", None)  # fmt: skip
    frame: Any = sys._getframe()
    while frame is not None:
        if frame.f_code is initializer:
            control = frame.f_locals.get("control")
            return (control, frame.f_locals.get("experiment")) if isinstance(control, dict) else None
        frame = frame.f_back
    return None


def _experiment_controls(experiment: Any) -> list[Any]:
    if not isinstance(experiment, dict):
        return []
    from chaoslib.control import get_controls

    try:
        return list(get_controls(experiment))
    except Exception:  # noqa: BLE001 - a malformed experiment: chaos validate reports it
        return []


def runs_control(experiment: Any, module: str) -> bool:
    """Whether a control of ``module`` is part of this run: declared by the experiment
    (at any level), or among the global controls Chaos Toolkit loaded and kept (the
    settings file's ``controls``, ``chaos run --control-file``)."""
    from chaoslib.control import get_global_controls

    return any(_module(c) == module for c in [*_experiment_controls(experiment), *get_global_controls()])


def _remember(experiment: Any, name: str) -> None:
    if _dropped["experiment"] is not experiment:
        _dropped.update(experiment=experiment, names=set())
    _dropped["names"].add(name)


def superseded_by(control: dict[str, Any], experiment: Any) -> str | None:
    """Which declaration replaces this global one in the run, or None when it is kept."""
    from chaoslib.control import get_global_controls

    module = _module(control)
    name = control.get("name")
    winner = None
    if any(_module(c) == module for c in _experiment_controls(experiment)):
        winner = f"the experiment's declaration of {module}"
    else:
        declared = get_global_controls()
        later = [c for c in declared[[id(c) for c in declared].index(id(control)) + 1:]
                 if _module(c) == module] if any(c is control for c in declared) else []  # fmt: skip
        if later:
            winner = f"the global control '{later[-1].get('name')}' (declared later)"
    if winner is None:
        return None
    _remember(experiment, str(name))
    logger.info(f"chaosllm: the global control '{name}' ({module}) is left out of this run: "
                f"{winner} is used instead")  # fmt: skip
    return winner


def check_declaration(control: dict[str, Any]) -> None:
    """Run the module's ``validate_control`` on a global declaration, as ``chaos
    validate`` does on an experiment's (chaoslib never checks global controls)."""
    from chaoslib.exceptions import InterruptExecution

    module = importlib.import_module(str(_module(control)))
    validate = getattr(module, "validate_control", None)
    if not callable(validate):
        return
    try:
        validate(control)
    except Exception as exc:
        raise InterruptExecution(f"the global control '{control.get('name')}' ({_module(control)}) "
                                 f"is malformed: {exc}") from exc  # fmt: skip


def _settings_controls() -> Iterator[tuple[str, Any]]:
    try:
        from chaoslib.settings import get_loaded_settings
    except ImportError:  # pragma: no cover - chaoslib is a dependency
        return
    declared = (get_loaded_settings() or {}).get("controls")
    if isinstance(declared, Mapping):
        yield from ((str(name), control) for name, control in declared.items())


def _why_missing(control: Any) -> str:
    module = _module(control)
    try:
        importlib.import_module(str(module))
    except Exception as exc:  # noqa: BLE001 - whatever stopped chaoslib importing it
        return f"its module {module} cannot be imported ({type(exc).__name__}: {exc})"
    provider = control.get("provider") if isinstance(control, Mapping) else None
    arguments = provider.get("arguments", {}) if isinstance(provider, Mapping) else None
    if not isinstance(arguments, Mapping):
        return f"its provider's 'arguments' must be a mapping, got {type(arguments).__name__}"
    return "Chaos Toolkit did not set it up"


def left_out(experiment: Any) -> list[str]:
    """The chaosllm controls of the settings file that Chaos Toolkit left out of
    this run, each with why, except those left out on purpose (:func:`superseded_by`)."""
    from chaoslib.control import get_global_controls

    running = {c.get("name") for c in get_global_controls() if isinstance(c, Mapping)}
    dropped = _dropped["names"] if _dropped["experiment"] is experiment else set()
    missing = []
    for name, control in _settings_controls():
        module = _module(control)
        if not (isinstance(module, str) and module.split(".")[0] == "chaosllm"):
            continue
        if name not in running and name not in dropped:
            missing.append(f"'{name}' ({module}): {_why_missing(control)}")
    return missing
