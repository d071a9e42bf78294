"""Reading a Chaos Mesh object's status: a normalised view and the confirmation rules.

Chaos Mesh may report ``AllInjected=True`` when nothing was selected
(chaos-mesh issue 3374), so injection is confirmed only when ``Selected`` is
true, ``containerRecords`` is not empty and every record is ``Injected``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm.chaosmesh._kinds import Kind
from chaosllm.errors import NotInjected
from chaosllm.journal_keys import EFFECT_KEY, EVIDENCE_KEY

__all__ = [
    "PAUSE_ANNOTATION",
    "CLEAN_FINALIZER_ANNOTATION",
    "INJECTED",
    "conditions",
    "records",
    "summarise",
    "injection_state",
    "workflow_started",
    "is_recovered",
    "injection_effect",
    "force_patch",
    "forced_how",
]

INJECTED = "Injected"
PAUSE_ANNOTATION = "experiment.chaos-mesh.org/pause"
CLEAN_FINALIZER_ANNOTATION = "chaos-mesh.chaos-mesh.org/cleanFinalizer"


def force_patch(kind: Kind) -> dict[str, Any]:
    """The merge patch that lets a removal stuck on its finalizer finish."""
    if kind.drop_finalizers:
        return {"metadata": {"finalizers": None}}
    return {"metadata": {"annotations": {CLEAN_FINALIZER_ANNOTATION: "forced"}}}


def forced_how(kind: Kind) -> str:
    """What :func:`force_patch` does, for messages."""
    if kind.drop_finalizers:
        return "dropping its finalizers"
    return f"setting {CLEAN_FINALIZER_ANNOTATION}=forced"


def conditions(obj: Mapping[str, Any]) -> dict[str, bool]:
    """``{"Selected": True, "AllInjected": False, ...}`` from status.conditions."""
    found = (obj.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): str(c.get("status")) == "True" for c in found}


def records(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    experiment = (obj.get("status") or {}).get("experiment") or {}
    return list(experiment.get("containerRecords") or [])


def injection_state(obj: Mapping[str, Any]) -> str:
    """One of "injected", "not-selected", "pending", "paused", "deleting".

    A Workflow is "pending", "running", "accomplished" or "aborted"."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "deleting"
    conds, recs = conditions(obj), records(obj)
    if obj.get("kind") == "Workflow":
        for condition, state in (("Aborted", "aborted"), ("Accomplished", "accomplished"),
                                 ("Scheduled", "running")):
            if conds.get(condition):
                return state
        return "pending"
    if conds.get("Paused"):
        return "paused"
    if conds.get("Selected") and recs and all(r.get("phase") == INJECTED for r in recs):
        return "injected"
    if "Selected" in conds and not conds["Selected"] and not recs:
        return "not-selected"
    return "pending"


def workflow_started(obj: Mapping[str, Any], where: str) -> bool:
    """True once a Workflow is scheduled; an aborted one is an error."""
    conds = conditions(obj)
    if conds.get("Aborted"):
        raise NotInjected(f"{where} was aborted (its status check failed)")
    return bool(conds.get("Scheduled") or (obj.get("status") or {}).get("entryNode"))


def is_recovered(obj: Mapping[str, Any] | None) -> bool:
    """Gone, or every record back to not injected after the fault was stopped."""
    if obj is None:
        return True
    conds = conditions(obj)
    desired = ((obj.get("status") or {}).get("experiment") or {}).get("desiredPhase")
    recs = records(obj)
    if conds.get("AllRecovered") and recs:
        return all(r.get("phase") != INJECTED for r in recs)
    return desired == "Stop" and all(r.get("phase") != INJECTED for r in recs)


def summarise(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised view ``chaos_status`` returns."""
    meta = obj.get("metadata") or {}
    recs = records(obj)
    events = sorted(
        (dict(e, record=r.get("id")) for r in recs for e in r.get("events") or []),
        key=lambda e: str(e.get("timestamp", "")),
    )
    return {
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "state": injection_state(obj),
        "recovered": is_recovered(obj) and bool(recs),
        "selected_count": len(recs),
        "injected_count": sum(1 for r in recs if r.get("phase") == INJECTED),
        "recovered_count": sum(1 for r in recs if int(r.get("recoveredCount") or 0) > 0
                               and r.get("phase") != INJECTED),
        "desired_phase": ((obj.get("status") or {}).get("experiment") or {}).get("desiredPhase"),
        "conditions": conditions(obj),
        "records": [{"id": r.get("id"), "phase": r.get("phase"),
                     "injected": r.get("injectedCount"), "recovered": r.get("recoveredCount")}
                    for r in recs],
        "last_events": events[-5:],
        "paused": (meta.get("annotations") or {}).get(PAUSE_ANNOTATION) == "true",
        "deleting": bool(meta.get("deletionTimestamp")),
    }



def injection_effect(obj: Mapping[str, Any] | None, reason: str = "") -> dict[str, Any]:
    """``{"effect", "evidence"}`` of a chaos object, from its status records.

    ``observed`` when at least one selected container is injected, ``none``
    when the records say nothing was selected or injected, ``unknown`` with
    ``reason`` when there is no status to read (not waited for, a Schedule).
    The evidence counts the records and names the pods (``ns/pod`` ids);
    kinds that keep per-pod ``instances`` (NetworkChaos, IOChaos, HTTPChaos,
    StressChaos) count those too.
    """
    status = (obj or {}).get("status") or {}
    recs = records(obj or {})
    if reason or not status:
        return {EFFECT_KEY: "unknown", EVIDENCE_KEY: {"reason": reason or "no status to read"}}
    injected = [r for r in recs if r.get("phase") == INJECTED or int(r.get("injectedCount") or 0) > 0]
    evidence: dict[str, Any] = {
        "selected_pods": len(recs),
        "injected_pods": len(injected),
        # A record id is "namespace/pod" or "namespace/pod/container".
        "pods": ",".join(sorted({"/".join(str(r.get("id", "")).split("/")[:2]) for r in injected})),
    }
    if isinstance(status.get("instances"), Mapping):
        evidence["instances"] = len(status["instances"])
    return {EFFECT_KEY: "observed" if injected else "none", EVIDENCE_KEY: evidence}
