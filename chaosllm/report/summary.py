"""The JSON summary of a journal, for machines (CI gates, dashboards).

``verdict`` comes first; ``state`` is how Chaos Toolkit's run ended, as detail.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from chaosllm.report.journal import ActivityRun, FaultWindow, Journal

__all__ = ["journal_summary", "render_json", "iso"]


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="milliseconds")


def _check(run: ActivityRun) -> dict[str, Any]:
    return {
        "name": run.name,
        "phase": run.phase,
        "passed": run.passed if run.counted else None,
        "applicable": run.counted,
        "status": run.status,
        "observed": run.observed if run.status == "succeeded" else None,
        "threshold": run.threshold.text if run.threshold else None,
        "slo": bool(run.threshold and run.threshold.slo),
        "error": run.error,
    }


def _fault(fault: FaultWindow) -> dict[str, Any]:
    return {
        "name": fault.name, "kind": fault.kind, "target": fault.target, "activity": fault.activity,
        "effect": fault.effect if fault.chaosllm else None, "evidence": fault.evidence,
        "reason": fault.reason or None, "start": iso(fault.start), "end": iso(fault.end),
        "seconds": round(fault.end - fault.start, 3), "ended_by": fault.ended_by,
        "planned_end": iso(fault.planned_end),
        "recovery_seconds": None if fault.recovery is None else round(fault.recovery, 3),
        "recovered": (fault.recovery is not None) if fault.recovery_measured else None,
    }  # fmt: skip


def journal_summary(journal: Journal) -> dict[str, Any]:
    activities = journal.method + journal.during + journal.before + journal.after
    values = {s.name: [y for _, y in s.points] for s in journal.metrics}
    return {
        "verdict": journal.verdict,
        "verdict_reasons": journal.verdict_reasons,
        "journal": journal.path,
        "title": journal.title,
        "state": journal.state,
        "status": journal.status,
        "deviated": journal.deviated,
        "reason": journal.reason,
        "start": iso(journal.start),
        "end": iso(journal.end),
        "duration": round(journal.duration, 3),
        "target": journal.target,
        "tags": journal.tags,
        "weight": journal.weight,
        "probe_success": journal.probe_success,
        "probes": [_check(run) for run in journal.probes],
        "activities": {
            "total": len(activities),
            "failed": sum(1 for run in activities if run.status == "failed"),
            "interrupted": sum(1 for run in activities if run.status == "interrupted"),
        },
        "failed_activities": [
            {"name": run.name, "phase": run.phase, "error": run.error}
            for run in activities + journal.rollbacks
            if run.status == "failed"
        ],
        "rollbacks": [{"name": run.name, "status": run.status} for run in journal.rollbacks],
        "faults": [_fault(f) for f in journal.faults],
        "loads": [
            {"name": load.name, "where": load.where, "requests": load.requests} for load in journal.loads
        ],  # fmt: skip
        "guard": {
            "aborted": journal.aborted_by_guard,
            "conditions": journal.guard_conditions,
            "breaches": [
                {
                    "condition": b.condition,
                    "observed": b.observed,
                    "threshold": b.threshold,
                    "at": iso(b.at),
                    "source": b.source,
                }
                for b in journal.breaches
            ],
        },  # fmt: skip
        "metrics": [
            {
                "name": s.name,
                "query": s.query,
                "unit": s.unit,
                "threshold": s.threshold,
                "bound": s.bound,
                "samples": len(s.points),
                "min": min(values[s.name], default=None),
                "max": max(values[s.name], default=None),
                "last": values[s.name][-1] if s.points else None,
            }
            for s in journal.metrics
        ],  # fmt: skip
    }


def render_json(journal: Journal) -> str:
    return json.dumps(journal_summary(journal), indent=2, ensure_ascii=False, default=str) + "\n"
