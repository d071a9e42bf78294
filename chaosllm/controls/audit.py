"""An append-only, hash-chained JSON Lines audit log of experiment runs.

Declare it in an experiment's ``controls`` block, or under ``controls`` in
the Chaos Toolkit settings file::

    {"name": "chaosllm-audit",
     "provider": {"type": "python", "module": "chaosllm.controls.audit",
                  "arguments": {"path": "/var/log/chaosllm/audit.jsonl"}}}

``path`` defaults to the setting ``audit_log`` (``CHAOSLLM_AUDIT_LOG``), then
to ``$CHAOSLLM_STATE_DIR/audit.jsonl``. One line is written when the
experiment starts, one after each activity (method and rollbacks) with its
outcome, and one when it ends::

    {"seq": 3, "time": "2026-01-01T00:00:01.250+00:00", "event": "activity",
     "user": "alice", "host": "ci-runner-7", "ci_job": "github:1234/chaos",
     "experiment": {"title": "Redis outage", "digest": "sha256:..."},
     "activity": {"name": "pause-redis", "type": "action", "phase": "method",
                  "provider": "chaosllm.redis.actions.pause_clients"},
     "outcome": "succeeded", "prev": "<hash of entry 2>", "hash": "<sha256 of this entry>"}

``phase`` is ``hypothesis``, ``method`` or ``rollback``. ``hash`` is the
SHA-256 of the entry without ``hash``; ``prev`` is the hash of the line
before (64 zeros for the first). ``chaosllm audit verify FILE`` finds any
edited, removed or reordered entry. Arguments and outputs of activities are
never written: they may hold secrets.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosllm.controls._auditlog import (
    GENESIS,
    append_entry,
    audit_path,
    ci_job,
    entry_hash,
    record_event,
    user,
)
from chaosllm.controls._auditverify import verify_log
from chaosllm.controls._experiment import experiment_digest
from chaosllm.controls._failclosed import protect
from chaosllm.faults import utcnow_iso

__all__ = [
    "GENESIS",
    "entry_hash",
    "append_entry",
    "verify_log",
    "ci_job",
    "audit_path",
    "record_event",
    "before_experiment_control",
    "before_method_control",
    "before_rollback_control",
    "before_hypothesis_control",
    "after_hypothesis_control",
    "after_activity_control",
    "after_experiment_control",
]

class _Run:
    """What every entry of one experiment run shares."""

    def __init__(self, path: Path, experiment: Mapping[str, Any]) -> None:
        self.path = path
        self.phase = "before-method"
        self.in_hypothesis = False
        self.common = {
            "user": user(),
            "host": socket.gethostname(),
            "ci_job": ci_job(),
            "experiment": {
                "title": str(experiment.get("title", "")),
                "digest": experiment_digest(dict(experiment)),
            },
        }

    def write(self, event: str, **fields: Any) -> None:
        append_entry(self.path, {"time": utcnow_iso(), "event": event, **self.common, **fields})


_run: _Run | None = None


def _path(arguments: Mapping[str, Any], configuration: Any, secrets: Any) -> Path:
    return audit_path(arguments.get("path"), configuration)


def before_experiment_control(
    context: Any, configuration: dict[str, Any] | None = None, **arguments: Any
) -> None:
    global _run
    experiment = context if isinstance(context, dict) else {}
    _run = _Run(_path(arguments, configuration, None), experiment)
    _run.write("experiment-start")


def before_method_control(context: Any, **arguments: Any) -> None:
    if _run is not None:
        _run.phase = "method"


def before_rollback_control(context: Any, **arguments: Any) -> None:
    if _run is not None:
        _run.phase = "rollback"


def before_hypothesis_control(context: Any, **arguments: Any) -> None:
    if _run is not None:
        _run.in_hypothesis = True


def after_hypothesis_control(context: Any, **arguments: Any) -> None:
    if _run is not None:
        _run.in_hypothesis = False


def _provider(activity: Mapping[str, Any]) -> str:
    provider = activity.get("provider") or {}
    kind = provider.get("type")
    if kind == "python":
        return f"{provider.get('module')}.{provider.get('func')}"
    if kind == "process":
        return f"process:{Path(str(provider.get('path', ''))).name}"
    if kind == "http":
        return "http"
    return str(kind)


def after_activity_control(context: Any, state: Any = None, **arguments: Any) -> None:
    if _run is None or not isinstance(context, dict):
        return
    # no run record: the activity was cut short (the guard, a signal, Ctrl-C)
    outcome = state.get("status") if isinstance(state, dict) else "interrupted"
    _run.write(
        "activity",
        activity={
            "name": context.get("name"),
            "type": context.get("type"),
            "phase": "hypothesis" if _run.in_hypothesis else _run.phase,
            "provider": _provider(context),
        },
        outcome=outcome or "unknown",
    )


def after_experiment_control(context: Any, state: Any = None, **arguments: Any) -> None:
    global _run
    if _run is None:
        return
    status = state.get("status") if isinstance(state, dict) else None
    deviated = bool(state.get("deviated")) if isinstance(state, dict) else False
    _run.write("experiment-end", outcome=status or "unknown", deviated=deviated)
    _run = None


protect(globals(), "chaosllm-audit", arguments=("path",))
