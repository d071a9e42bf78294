"""The one verdict of a run, from :data:`chaosllm.journal_keys.VERDICTS`, and why.

In order, the first that applies:

    aborted       the guard or Chaos Toolkit aborted the run
    interrupted   the run was cut off
    failed        a tolerance was missed (before, during or after the method),
                  the journal's status is not one chaoslib writes, or, in an
                  experiment that uses chaosllm activities, any method activity
                  failed (a recovery criterion that raised: Litmus's
                  Completed_With_Error), or a Litmus fault's verdict
                  was Fail (its probes failed)
    inconclusive  the hypothesis held, but a chaosllm fault's effect was not
                  "observed" (the fault is named with its evidence or reason),
                  or a load the experiment ran sent no request
    passed        everything else: a plain Chaos Toolkit journal, with no chaosllm
                  activity, passes when it completed, as before (Chaos Toolkit lets
                  a method action fail without failing the run; the report still
                  shows the error)

:func:`run_score` is what one run adds to the GameDay resilience score.
"""

from __future__ import annotations

from typing import Any

from chaosllm.journal_keys import LOAD_EXTENSION
from chaosllm.report._values import as_dict, number
from chaosllm.report.extensions import named_extensions
from chaosllm.report.journal import ActivityRun, FaultWindow, Journal, LoadRun, short

__all__ = ["LOAD_EXTENSION", "effect_text", "judge", "litmus_probes", "litmus_results", "loads",
           "run_score", "uses_chaosllm"]  # fmt: skip

# The journal extension of the sandbox load control, and the module of its actions.
_LOAD_MODULE = "chaosllm.sandbox.actions"
_LITMUS = ("chaosllm.litmus.actions", "run_litmus_fault")
# Litmus's probe verdicts that count as a check (N/A and Awaited do not).
_LITMUS_CHECKS = {"Passed": True, "Failed": False}


def litmus_results(method: list[ActivityRun]) -> list[tuple[ActivityRun, dict[str, Any]]]:
    """Each Litmus fault of the method that returned, with its result."""
    return [(run, as_dict(run.result)) for run in method
            if (run.module, run.func) == _LITMUS and run.status == "succeeded"]  # fmt: skip


def litmus_probes(method: list[ActivityRun]) -> list[tuple[str, bool]]:
    """Every probe check the method's Litmus faults ran: ``("<fault>: <probe>", passed)``."""
    found = []
    for run, result in litmus_results(method):
        for probe in result.get("probe_statuses") or []:
            verdict = as_dict(probe).get("verdict")
            if verdict in _LITMUS_CHECKS:
                found.append((f"{run.name}: {as_dict(probe).get('name')}", _LITMUS_CHECKS[str(verdict)]))
    return found


def _requests(summary: dict[str, Any]) -> int:
    value = number(summary.get("requests"))
    return int(value) if value is not None else 0


def loads(data: dict[str, Any], method: list[ActivityRun], rollbacks: list[ActivityRun]) -> list[LoadRun]:
    """The loads the journal reports: the load control's summary, and each ``stop_load``
    that succeeded (a load with no results at all reports no ``requests``: none sent)."""
    found = [
        LoadRun(str(as_dict(ext.get("summary")).get("name", "load")), "load control",
                _requests(as_dict(ext.get("summary"))))
        for ext in named_extensions(data, LOAD_EXTENSION)
    ]  # fmt: skip
    for run in method + rollbacks:
        if (run.module, run.func) == (_LOAD_MODULE, "stop_load") and run.status == "succeeded":
            result = as_dict(run.result)
            name = result.get("name") or run.arguments.get("name") or "load"
            found.append(LoadRun(str(name), f"{run.phase} '{run.name}'", _requests(result)))
    return found


def effect_text(fault: FaultWindow) -> str:
    """ "observed (deleted=12)", "none: dry run", "unknown: the target went away"."""
    evidence = ", ".join(f"{key}={short(value, 40)}" for key, value in fault.evidence.items())
    text = fault.effect
    if fault.reason:
        text += f": {fault.reason}"
    if evidence:
        text += f" ({evidence})" if fault.effect == "observed" else f"; evidence {evidence}"
    return text


def uses_chaosllm(journal: Journal) -> bool:
    """Whether any activity of the run is one of chaosllm's."""
    runs = journal.before + journal.during + journal.after + journal.method + journal.rollbacks
    return any(run.module.startswith("chaosllm.") for run in runs)


def judge(journal: Journal) -> tuple[str, list[str]]:
    """(verdict, reasons); reasons is empty for a pass."""
    if journal.state in ("aborted", "interrupted"):
        return journal.state, [journal.reason]
    failed = [journal.reason] if journal.state in ("failed", "deviated") and journal.reason else []
    failed += [f"probe '{run.name}' was out of tolerance during the method"
               for run in journal.during if run.counted and run.tolerance_met is False]  # fmt: skip
    if uses_chaosllm(journal):
        failed += [f"method {run.type} '{run.name}' failed: {run.error or 'no error text'}"
                   for run in journal.method if run.status == "failed"]  # fmt: skip
    for run, result in litmus_results(journal.method):
        if result.get("verdict") == "Fail":
            statuses = map(as_dict, result.get("probe_statuses") or [])
            probes = ", ".join(f"{p.get('name')} Failed" for p in statuses if p.get("verdict") == "Failed")
            failed.append(f"Litmus fault '{run.name}' has verdict Fail (probe success "
                          f"{result.get('probe_success_percentage')}%{': ' + probes if probes else ''})")
    if journal.state in ("failed", "deviated") or failed:
        return "failed", failed or ["the steady state was not met"]
    doubts = [
        f"fault '{fault.name}' ({fault.kind}{' on ' + fault.target if fault.target else ''}) "
        f"had effect {effect_text(fault)}"
        for fault in journal.chaosllm_faults
        if fault.effect != "observed"
    ]
    doubts += [f"load '{load.name}' sent no request ({load.where})"
               for load in journal.loads if load.requests == 0]  # fmt: skip
    if doubts:
        return "inconclusive", doubts
    return "passed", []


def run_score(journal: Journal) -> float:
    """A run's share of the GameDay resilience score, in percent.

    passed: its probe success (100 %). failed: its probe success with each failed
    method activity or probe out of tolerance during the method counted as one more
    failed check, so it stays below 100 %.
    inconclusive: half its probe success. aborted and interrupted: Litmus's
    probe success, where a check that never ran counts as failed."""
    if journal.verdict == "passed":
        return journal.probe_success
    if journal.verdict == "inconclusive":
        return round(journal.probe_success / 2, 2)
    if journal.verdict == "failed":
        if journal.unknown_status:
            return 0.0
        ran = [run.passed for run in journal.before + journal.after if run.counted]
        ran += [passed for _, passed in journal.litmus_probes]
        broken = sum(1 for run in journal.method if run.status == "failed") if uses_chaosllm(journal) else 0
        broken += sum(1 for run in journal.during if run.counted and run.tolerance_met is False)
        total = len(ran) + broken
        return round(100.0 * sum(ran) / total, 2) if total else 0.0
    return journal.expected_success
