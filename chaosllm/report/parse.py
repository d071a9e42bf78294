"""Reading a Chaos Toolkit journal into the :class:`~chaosllm.report.journal.Journal` model.

The state and the verdict of a run are decided here, once (see
:mod:`chaosllm.report.model` and :mod:`chaosllm.report.verdict`).
Secrets are never resolved again: only what the journal holds is read, and
values that look secret are hidden.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaosllm.report._values import as_dict, as_list, number, number_text, timestamp
from chaosllm.report.activities import activity_run, criteria, criterion_count, secret_values
from chaosllm.report.extensions import guard_verdict, metrics
from chaosllm.report.faults import fault_windows
from chaosllm.report.journal import STATUSES, ActivityRun, FaultWindow, Journal, JournalError, short
from chaosllm.report.recovery import measure_recovery
from chaosllm.report.verdict import judge, litmus_probes, loads

__all__ = ["load_journal", "parse_journal"]


def _weight(experiment: dict[str, Any]) -> float:
    for tag in as_list(experiment.get("tags")):
        if isinstance(tag, str) and tag.startswith("weight:"):
            value = number_text(tag[7:])
            if value is not None:
                return value
    configuration = experiment.get("configuration")
    if isinstance(configuration, dict) and "chaosllm_weight" in configuration:
        raw = configuration["chaosllm_weight"]
        value = number(raw) if not isinstance(raw, str) else number_text(raw)
        if value is not None:
            return value
    return 1.0


def _state(raw_status: Any, deviated: bool, guard_aborted: bool, before: list[ActivityRun],
           after: list[ActivityRun]) -> str:  # fmt: skip
    if guard_aborted or raw_status == "aborted":
        return "aborted"
    if raw_status is None or raw_status == "interrupted":
        return "interrupted"
    if raw_status == "failed" or raw_status not in STATUSES:
        return "failed"
    if deviated:
        return "deviated"
    # chaoslib writes "completed" when the steady state was not met before the method.
    if any(run.counted and not run.passed for run in before) or any(run.status == "failed" for run in after):
        return "failed"
    return "completed"


def _status_text(raw_status: Any) -> str | None:
    if raw_status is None or isinstance(raw_status, str):
        return raw_status
    return short(raw_status, 60)


def _target(experiment: dict[str, Any], faults: list[FaultWindow]) -> str:
    for tag in as_list(experiment.get("tags")):
        if isinstance(tag, str) and tag.startswith("target:"):
            return tag[7:]
    targets = list(dict.fromkeys(f.target for f in faults if f.target))
    return ", ".join(targets)


def parse_journal(data: Any, path: str = "<journal>", detail: bool = True) -> Journal:
    """Build the model from a decoded journal; :class:`JournalError` if it is not one.

    With ``detail=False`` the outputs and errors of activities are not turned
    into text: a summary over many journals never shows them.
    """
    if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict):
        raise JournalError(f"{path} is not a Chaos Toolkit journal: it has no 'experiment' object")
    experiment = data["experiment"]
    secrets = secret_values(experiment)
    steady = as_dict(data.get("steady_states"))

    def phase(name: str) -> list[ActivityRun]:
        state = steady.get(name)
        if name == "during":
            runs = state if isinstance(state, list) else []
            out: list[ActivityRun] = []
            for item in runs:
                probes = as_list(as_dict(item).get("probes"))
                out.extend(run for p in probes for run in criteria(p, "during", secrets, detail))
            return out
        if not isinstance(state, dict):
            return []
        return [run for p in as_list(state.get("probes")) for run in criteria(p, name, secrets, detail)]

    before, after, during = phase("before"), phase("after"), phase("during")
    method = [activity_run(r, "method", secrets, detail) for r in as_list(data.get("run"))]
    rollbacks = [activity_run(r, "rollback", secrets, detail) for r in as_list(data.get("rollbacks"))]
    hypothesis = as_dict(experiment.get("steady-state-hypothesis"))
    declared = hypothesis.get("probes") if isinstance(hypothesis, dict) else None
    guard = guard_verdict(data, secrets)
    recorded = metrics(data, secrets)

    start, end = timestamp(data.get("start")), timestamp(data.get("end"))
    if end is None:
        ends = [r.end for r in method + rollbacks + before + after if r.end is not None]
        end = max(ends) if ends else start
    faults = fault_windows(method, rollbacks, end, secrets)
    measure_recovery(faults, recorded.series)
    raw_status = data.get("status")
    deviated = bool(data.get("deviated"))
    tags = [str(t) for t in as_list(experiment.get("tags"))]
    journal = Journal(
        path=path,
        title=str(experiment.get("title") or Path(path).stem),
        description=str(experiment.get("description") or ""),
        hypothesis=str(hypothesis.get("title", "")) if isinstance(hypothesis, dict) else "",
        state=_state(raw_status, deviated, guard.aborted, before, after),
        status=_status_text(raw_status),
        deviated=deviated,
        start=start,
        end=end,
        tags=tags,
        weight=_weight(experiment),
        target=_target(experiment, faults),
        before=before,
        after=after,
        during=during,
        method=method,
        rollbacks=rollbacks,
        declared_probes=sum(map(criterion_count, declared)) if isinstance(declared, list) else 0,
        faults=faults,
        aborted_by_guard=guard.aborted,
        guard_conditions=guard.conditions,
        breaches=guard.breaches,
        metrics=recorded.series,
        metrics_window=recorded.window,
        loads=loads(data, method, rollbacks),
        litmus_probes=litmus_probes(method),
    )
    journal.verdict, journal.verdict_reasons = judge(journal)
    return journal


def load_journal(path: str | Path, detail: bool = True) -> Journal:
    """Read and parse one journal file; errors name the file."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except FileNotFoundError:
        raise JournalError(f"journal {name} does not exist") from None
    except IsADirectoryError:
        raise JournalError(f"journal {name} is a directory, not a file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JournalError(f"journal {name} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise JournalError(f"could not read journal {name}: {exc.strerror or exc}") from None
    return parse_journal(data, name, detail)
