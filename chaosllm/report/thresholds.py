"""How a probe's tolerance reads in a report: its kind, its text as written
("<= 500ms", "in [50, 1000]", "matches ^ok$") and its bounds as numbers.

Tolerances of ``chaosllm.slo.tolerances`` are SLO checks; their thresholds are
read by the one parser the tolerances themselves use.
"""

from __future__ import annotations

import math
from typing import Any

from chaosllm.journal_keys import SLO_TOLERANCE_MODULE
from chaosllm.report._values import as_dict, number, provider_text
from chaosllm.report.journal import Threshold, short

__all__ = ["threshold"]


def threshold(tolerance: Any, output: Any = None) -> Threshold | None:
    """How a tolerance reads in a report; None for a probe with no tolerance.

    A list tolerance on a result with a ``status`` compares that status (Chaos
    Toolkit's rule): ``["met"]`` on a chaosllm criterion reads "status met",
    and counts as an SLO check."""
    if tolerance is None:
        return None
    if isinstance(tolerance, bool):
        return Threshold("equals", f"= {str(tolerance).lower()}")
    value = number(tolerance)
    if value is not None:
        return Threshold("equals", f"= {short(tolerance)}", value, value)
    if isinstance(tolerance, str):
        return Threshold("equals", f"= {short(tolerance, 60)}")
    if isinstance(tolerance, list):
        if isinstance(output, dict) and "status" in output:
            met = isinstance(output.get("met"), bool | None) and "met" in output
            return Threshold("status", "status " + " or ".join(map(str, tolerance)), slo=met)
        if len(tolerance) == 2 and all(number(v) is not None for v in tolerance):
            low, high = float(tolerance[0]), float(tolerance[1])
            return Threshold("range", f"in [{short(tolerance[0])}, {short(tolerance[1])}]", low, high)
        return Threshold("equals", "one of " + short(tolerance, 60))
    if not isinstance(tolerance, dict):
        return Threshold("equals", short(tolerance, 60))
    kind = tolerance.get("type")
    if kind == "regex":
        return Threshold("regex", f"matches {short(tolerance.get('pattern', ''), 60)}")
    if kind == "jsonpath":
        text = f"{short(tolerance.get('path', ''), 60)}"
        if "expect" in tolerance:
            text += f" = {short(tolerance['expect'], 40)}"
        return Threshold("jsonpath", text)
    if kind == "range":
        bounds = tolerance.get("range")
        bounds = bounds if isinstance(bounds, list) else []
        first = number(bounds[0]) if len(bounds) > 0 else None
        last = number(bounds[1]) if len(bounds) > 1 else None
        return Threshold("range", f"in {short(bounds, 40)}", first, last)
    if kind == "probe":
        provider = as_dict(tolerance.get("provider"))
        args = as_dict(provider.get("arguments"))
        if provider.get("module") == SLO_TOLERANCE_MODULE:
            return _slo_threshold(str(provider.get("func", "")), args)
        return Threshold("probe", provider_text(provider))
    return Threshold("equals", short(tolerance, 60))


def _limit(value: Any) -> tuple[str, float | None]:
    """Text and number of a threshold: 0.5, "1%" (0.01) or "500ms" (0.5); no number
    for one the tolerance itself would refuse."""
    # Imported here, not above: chaosllm.errors loads chaoslib (about 0.1 s, near
    # doubling a report's run), and only journals with SLO tolerances need it.
    from chaosllm.errors import InvalidArgument
    from chaosllm.thresholds import parse_threshold

    text = short(value, 30)
    try:
        limit = parse_threshold(value)
    except InvalidArgument:
        return text, None
    return text, limit if math.isfinite(limit) else None


def _slo_threshold(func: str, args: dict[str, Any]) -> Threshold:
    """The bounds of a chaosllm.slo tolerance, as written in its arguments."""
    equal = "=" if args.get("inclusive") else ""
    if func in ("below", "above"):
        text, value = _limit(args.get("threshold", 0.0))
        if func == "below":
            return Threshold("below", f"<{equal} {text}", None, value, slo=True)
        return Threshold("above", f">{equal} {text}", value, None, slo=True)
    if func == "between":
        (low_text, low), (high_text, high) = _limit(args.get("lower", 0.0)), _limit(
            args.get("upper", 0.0)
        )
        return Threshold("between", f"in [{low_text}, {high_text}]", low, high, slo=True)
    if func == "slo_met":
        burn = args.get("max_burn_rate")
        suffix = f", burn rate <= {short(burn, 20)}" if burn is not None else ""
        return Threshold("slo_met", f"SLO met{suffix}", slo=True)
    return Threshold("probe", f"{SLO_TOLERANCE_MODULE}.{func}", slo=True)
