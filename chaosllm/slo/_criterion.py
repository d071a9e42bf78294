"""The result of a criterion probe: ``met``, its ``status`` and the evidence.

``status`` is "met", "missed" or "no data", so that the probe's tolerance may
be Chaos Toolkit's own ``["met"]`` (a list tolerance compares a result's
``status``) as well as ``chaosllm.slo.tolerances.slo_met``. A criterion that
does not apply yet (before its fault) is met and says ``applicable: false``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["criterion", "status"]


def status(met: bool | None) -> str:
    """ "met", "missed", or "no data" when there was nothing to judge."""
    if met is None:
        return "no data"
    return "met" if met else "missed"


def criterion(met: bool, applicable: bool = True, **evidence: Any) -> dict[str, Any]:
    """``{"applicable", "met", "status", **evidence}``."""
    return {"applicable": applicable, "met": met, "status": status(met), **evidence}
