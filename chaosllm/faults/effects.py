"""The effect of a fault, as a fault action or its rollback reports it.

Every fault action's result says whether its fault took effect on the target
(``observed``, ``none`` or ``unknown``) and what was measured, under the keys
of :mod:`chaosllm.journal_keys`. A rollback's result also says whether it
removed anything and when the fault ended, and names the fault, so that a
report can pair it with its action and take its totals for the whole window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from chaosllm.faults.handles import utcnow_iso
from chaosllm.journal_keys import EFFECT_KEY, ENDED_AT_KEY, EVIDENCE_KEY, REMOVED_KEY

__all__ = ["with_effect", "counted", "unknown", "ended", "iso_at", "measured", "MEASURED_WHEN_REMOVED"]

MEASURED_WHEN_REMOVED = "measured when removed"
log = logging.getLogger("chaosllm.faults")


def with_effect(
    result: dict[str, Any], effect: str, evidence: Mapping[str, Any], reason: str | None = None
) -> dict[str, Any]:
    """``result`` with ``effect`` and its ``evidence`` (plus ``reason``, when given)."""
    facts = dict(evidence)
    if reason is not None:
        facts["reason"] = reason
    result[EFFECT_KEY] = effect
    result[EVIDENCE_KEY] = facts
    return result


def counted(result: dict[str, Any], count: int, evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Observed when ``count`` (of keys, messages, sessions...) is above 0, else none."""
    return with_effect(result, "observed" if count > 0 else "none", evidence)


def unknown(result: dict[str, Any], reason: str, evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return with_effect(result, "unknown", evidence or {}, reason)


def iso_at(epoch: float) -> str:
    """A Unix time as ISO 8601 UTC, to the millisecond."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds")


def ended(
    result: dict[str, Any], kind: str, name: str, removed: bool, ended_at: str | None = None
) -> dict[str, Any]:
    """A rollback's result: which fault, whether it removed it, and when the fault ended."""
    result.update({"kind": kind, "name": name, REMOVED_KEY: bool(removed)})
    result[ENDED_AT_KEY] = ended_at or utcnow_iso()
    return result


def measured(
    result: dict[str, Any], measure: Callable[[], tuple[str, dict[str, Any]]], what: str
) -> dict[str, Any]:
    """Add the effect that ``measure`` returns as ``(effect, evidence)``.

    A measurement that fails (the target went away) never fails the fault or
    its rollback: the effect is then unknown, with the reason.
    """
    try:
        effect, evidence = measure()
    except Exception as exc:  # the fault itself is done; only its evidence is missing
        log.warning("could not measure %s: %s", what, exc)
        return unknown(result, f"could not measure {what}: {exc}")
    reason = evidence.pop("reason", None)
    return with_effect(result, effect, evidence, reason)
