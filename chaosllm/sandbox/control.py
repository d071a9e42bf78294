"""A control that runs sandbox load for the whole experiment.

The load starts before the steady-state hypothesis is first checked (after
``warmup`` seconds the probes have data) and stops after the experiment; its
summary is added to the journal's ``extensions``::

    {"name": "sandbox-load",
     "provider": {"type": "python", "module": "chaosllm.sandbox.control",
                  "arguments": {"rate": 20, "duration": "3m", "warmup": "10s"}}}

Arguments are those of :func:`chaosllm.sandbox.actions.start_load` plus
``warmup``. The journal gets ``{"name": "sandbox-load", "summary": {...}}``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chaosllm.controls._failclosed import protect
from chaosllm.faults import parse_duration
from chaosllm.journal_keys import LOAD_EXTENSION
from chaosllm.sandbox.actions import start_load, stop_load

__all__ = ["before_experiment_control", "after_experiment_control"]

logger = logging.getLogger("chaostoolkit")
EXTENSION_NAME = LOAD_EXTENSION
_LOAD_ARGUMENTS = ("rate", "duration", "target", "mix", "name", "max_requests")


# The load this control started in this run, if any: only that one is stopped and reported.
_running: str | None = None


def before_experiment_control(context: Any, configuration: Any = None, secrets: Any = None,
                              **arguments: Any) -> None:  # fmt: skip
    """Start the load; an experiment that asked for load does not run without it."""
    from chaoslib.exceptions import InterruptExecution

    global _running
    _running = None
    try:
        warmup = parse_duration(arguments.get("warmup", "10s"), "warmup")
        started = start_load(configuration=configuration, secrets=secrets,
                             **{k: v for k, v in arguments.items() if k in _LOAD_ARGUMENTS})  # fmt: skip
    except Exception as exc:
        raise InterruptExecution(f"sandbox load could not start: {exc}") from exc
    _running = str(started["name"])
    logger.info(f"sandbox load '{started['name']}' started: {started['rate']} requests/s")
    time.sleep(warmup)


def after_experiment_control(context: Any, state: Any = None, configuration: Any = None,
                             secrets: Any = None, **arguments: Any) -> None:  # fmt: skip
    global _running
    name, _running = _running, None
    if name is None:  # no load was started by this run: nothing to stop or to report
        return
    summary = stop_load(name, configuration, secrets)
    logger.info(
        f"sandbox load '{summary['name']}': {summary.get('requests', 0)} requests, "
        f"{summary.get('failed', 0)} failed, p95 {summary.get('p95')} s"
    )
    if isinstance(state, dict):
        state.setdefault("extensions", []).append({"name": EXTENSION_NAME, "summary": summary})


protect(globals(), "sandbox-load", arguments=(*_LOAD_ARGUMENTS, "warmup"))
