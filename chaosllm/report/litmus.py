"""A run as a Litmus ChaosResult, so that tools that read Litmus results read chaosllm runs.

One document per journal, shaped as the ChaosResult Litmus's runner writes
(``litmuschaos.io/v1alpha1``; the fields are listed in
tests/fixtures/litmus/SOURCE.md)::

    status.experimentStatus   phase, verdict, probeSuccessPercentage (a string),
                              errorOutput {errorCode, reason} when it did not pass
    status.probeStatuses[]    each steady-state probe (mode Edge: checked before
                              and after the fault), each probe of a Litmus fault
    status.history            passedRuns, failedRuns, stoppedRuns (this run) and
                              targets[] (the faults' targets and whether they took)

The verdict maps onto Litmus's: passed is Pass (Completed); failed is Fail
(Completed_With_Probe_Failure when a check failed, else Completed_With_Error);
inconclusive is Error (Completed_With_Error, errorCode ``INCONCLUSIVE``: a fault
had no observed effect, so the run proves nothing); aborted and interrupted are
Stopped. ``probeSuccessPercentage`` is the run's score
(:func:`~chaosllm.report.verdict.run_score`), so Litmus's resilience score over
these documents equals the GameDay's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chaosllm.report.journal import ActivityRun, Journal
from chaosllm.report.summary import iso
from chaosllm.report.verdict import litmus_results, run_score

__all__ = ["chaos_result", "render_chaos_result"]

_VERDICTS = {
    "passed": ("Completed", "Pass", "passedRuns"),
    "failed": ("Completed_With_Probe_Failure", "Fail", "failedRuns"),
    "inconclusive": ("Completed_With_Error", "Error", "failedRuns"),
    "aborted": ("Stopped", "Stopped", "stoppedRuns"),
    "interrupted": ("Stopped", "Stopped", "stoppedRuns"),
}


def _name(journal: Journal) -> str:
    """A DNS-1123 name from the journal's file name."""
    slug = re.sub(r"[^a-z0-9-]+", "-", Path(journal.path).stem.lower()).strip("-")
    return slug[:63].rstrip("-") or "chaosllm-run"


def _probe_type(run: ActivityRun) -> str:
    if run.provider.startswith("http "):
        return "httpProbe"
    if run.module in ("chaosllm.slo.probes", "chaosllm.sandbox.probes"):
        return "promProbe"
    if run.module.startswith(("chaosllm.chaosmesh.", "chaosllm.litmus.")):
        return "k8sProbe"
    return "cmdProbe"


def _hypothesis_probes(journal: Journal) -> list[dict[str, Any]]:
    """One status per steady-state probe, over its checks before and after the method."""
    by_name: dict[str, list[ActivityRun]] = {}
    for run in journal.before + journal.during + journal.after:
        by_name.setdefault(run.name, []).append(run)
    statuses = []
    for name, runs in by_name.items():
        counted = [run for run in runs if run.counted]
        failed = [run for run in counted if not run.passed]
        if not counted:
            verdict, description = "N/A", "the check did not apply"
        elif failed:
            first = failed[0]
            verdict = "Failed"
            description = (f"{first.phase}: {first.error}" if first.error else
                           f"{first.phase}: observed {first.output}"
                           + (f", tolerance {first.threshold.text}" if first.threshold else ""))
        else:
            verdict, description = "Passed", f"{len(counted)} check(s) passed"
        statuses.append({"name": name, "type": _probe_type(runs[0]),
                         "mode": "Continuous" if runs[0].phase == "during" else "Edge",
                         "status": {"verdict": verdict, "description": description}})
    return statuses


def _litmus_probes(journal: Journal) -> list[dict[str, Any]]:
    """The probes Litmus itself ran in the run's Litmus faults, as Litmus reported them."""
    statuses = []
    for run, result in litmus_results(journal.method):
        for probe in result.get("probe_statuses") or []:
            if isinstance(probe, dict):
                statuses.append({"name": f"{run.name}/{probe.get('name')}", "type": probe.get("type"),
                                 "mode": probe.get("mode"),
                                 "status": {"verdict": probe.get("verdict"),
                                            "description": probe.get("description") or ""}})
    return statuses


def chaos_result(journal: Journal) -> dict[str, Any]:
    """The ChaosResult-shaped document of one run."""
    phase, verdict, counter = _VERDICTS[journal.verdict]
    probes = _hypothesis_probes(journal) + _litmus_probes(journal)
    experiment: dict[str, Any] = {"phase": phase, "verdict": verdict,
                                  "probeSuccessPercentage": f"{run_score(journal):g}"}
    if journal.verdict == "failed" and not any(p["status"]["verdict"] == "Failed" for p in probes):
        experiment["phase"] = "Completed_With_Error"
    if journal.verdict != "passed":
        code = journal.verdict.upper()
        experiment["errorOutput"] = {"errorCode": code,
                                     "reason": "; ".join(journal.verdict_reasons) or journal.reason}
    history: dict[str, Any] = {"passedRuns": 0, "failedRuns": 0, "stoppedRuns": 0}
    history[counter] = 1
    history["targets"] = [
        {"name": fault.target or fault.name, "kind": fault.kind,
         "chaosStatus": "injected" if fault.effect == "observed" else "targeted"}
        for fault in journal.faults
    ]
    slug = _name(journal)
    annotations = {"chaosllm.io/experiment": journal.title[:250], "chaosllm.io/journal": journal.path,
                   "chaosllm.io/start": iso(journal.start) or "", "chaosllm.io/end": iso(journal.end) or "",
                   "chaosllm.io/weight": f"{journal.weight:g}"}
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosResult",
        "metadata": {
            "name": slug,
            "labels": {"app.kubernetes.io/managed-by": "chaosllm", "chaosllm.io/verdict": journal.verdict},
            "annotations": annotations,
        },
        "spec": {"engine": slug, "experiment": slug, "instance": ""},
        "status": {"experimentStatus": experiment, "probeStatuses": probes, "history": history},
    }


def render_chaos_result(journal: Journal) -> str:
    return json.dumps(chaos_result(journal), indent=2, ensure_ascii=False) + "\n"
