"""Reading Litmus's ChaosResult and ChaosEngine status: a flat view, and the fault's effect.

A ChaosResult's ``status.experimentStatus`` holds the phase (Running until
the experiment ends, then Completed, Completed_With_Error,
Completed_With_Probe_Failure, Stopped or Error), the verdict (Awaited, then
Pass, Fail, Stopped or Error) and the probe success percentage (a string);
``status.probeStatuses`` each probe's verdict and ``status.history.targets``
the pods the experiment targeted, with their ``chaosStatus`` (targeted,
injected, reverted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm.journal_keys import EFFECT_KEY, EVIDENCE_KEY

__all__ = [
    "RUNNING_PHASES",
    "ENGINE_DONE",
    "phase_of",
    "result_view",
    "result_effect",
    "engine_view",
    "probe_success",
]

# Phases of a ChaosResult whose experiment has not ended yet.
RUNNING_PHASES = ("", "Running", "Initialized")
# Engine statuses after which the engine runs nothing more.
ENGINE_DONE = ("completed", "stopped")
# Target states that mean the fault reached the pod.
_REACHED = ("injected", "reverted")


def phase_of(obj: Mapping[str, Any] | None) -> str:
    status = (obj or {}).get("status") or {}
    return str((status.get("experimentStatus") or {}).get("phase") or "")


def probe_success(value: Any) -> float | None:
    """Litmus writes the percentage as a string ("100"), or "Awaited" while it runs."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def result_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``{"name", "phase", "verdict", "probe_success_percentage", "probe_statuses", "targets", ...}``."""
    status = obj.get("status") or {}
    experiment = status.get("experimentStatus") or {}
    history = status.get("history") or {}
    error = experiment.get("errorOutput") or {}
    return {
        "name": (obj.get("metadata") or {}).get("name"),
        "namespace": (obj.get("metadata") or {}).get("namespace"),
        "engine": (obj.get("spec") or {}).get("engine"),
        "experiment": (obj.get("spec") or {}).get("experiment"),
        "phase": experiment.get("phase") or "",
        "verdict": experiment.get("verdict") or "",
        "probe_success_percentage": probe_success(experiment.get("probeSuccessPercentage")),
        "probe_statuses": [
            {"name": p.get("name"), "type": p.get("type"), "mode": p.get("mode"),
             "verdict": (p.get("status") or {}).get("verdict"),
             "description": (p.get("status") or {}).get("description")}
            for p in status.get("probeStatuses") or [] if isinstance(p, Mapping)
        ],
        "targets": [
            {"name": t.get("name"), "kind": t.get("kind"), "chaos_status": t.get("chaosStatus")}
            for t in history.get("targets") or [] if isinstance(t, Mapping)
        ],
        "runs": {key: int(history.get(key) or 0) for key in ("passedRuns", "failedRuns", "stoppedRuns")},
        "error": {"code": error.get("errorCode"), "reason": error.get("reason")} if error else None,
    }


def result_effect(view: Mapping[str, Any]) -> dict[str, Any]:
    """``{"effect", "evidence"}``: observed when Litmus reports a target injected (or reverted)."""
    reached = [t for t in view.get("targets") or [] if str(t.get("chaos_status")).lower() in _REACHED]
    evidence: dict[str, Any] = {
        "phase": view.get("phase"),
        "verdict": view.get("verdict"),
        "probe_success_percentage": view.get("probe_success_percentage"),
        "targets": len(view.get("targets") or []),
        "injected_targets": len(reached),
        "pods": ",".join(sorted(str(t.get("name")) for t in reached)),
    }
    if reached:
        return {EFFECT_KEY: "observed", EVIDENCE_KEY: evidence}
    error = view.get("error") or {}
    why = f": {error.get('reason')}" if error.get("reason") else ""
    evidence["reason"] = (f"Litmus reports no injected target (phase {view.get('phase') or 'none'}, "
                          f"verdict {view.get('verdict') or 'none'}{why})")
    return {EFFECT_KEY: "none", EVIDENCE_KEY: evidence}


def engine_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A ChaosEngine's desired state, its status and each experiment's run."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "ChaosEngine",
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "engine_state": spec.get("engineState"),
        "engine_status": status.get("engineStatus") or "",
        "experiments": [
            {"name": e.get("name"), "status": e.get("status"), "verdict": e.get("verdict")}
            for e in status.get("experiments") or [] if isinstance(e, Mapping)
        ],
        "deleting": bool(meta.get("deletionTimestamp")),
    }
