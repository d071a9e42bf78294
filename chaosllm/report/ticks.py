"""Axis ticks a reader can use: values in 1-2-5 steps, time every few seconds,
and the unit a series is shown in (ms for sub-second seconds, % for ratios).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

__all__ = ["clock", "display_unit", "nice_ticks", "tick_label", "time_ticks"]

# Steps of a time axis, in seconds: every few seconds up to every few hours.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)


def clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%H:%M:%S")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Ticks in steps of 1, 2 or 5 times a power of ten, from at or below ``lo`` to at
    or above ``hi``, about ``count`` intervals."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    span = hi - lo
    if span <= 0:
        span = abs(hi) or 1.0
        lo, hi = (lo - span / 2, hi + span / 2) if lo != 0 else (0.0, span)
    raw = span / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """``value`` with as many decimals as the step between ``ticks`` needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if abs(value) >= 1e6 or (value and abs(value) < 1e-4 and decimals > 6):
        return f"{value:.2g}"
    return f"{value:.{decimals}f}"


def time_ticks(lo: float, hi: float, count: int = 8) -> list[float]:
    """Moments at whole multiples of a step of a few seconds (1, 2, 5, 10, 15, 30 s,
    1 min, ...) within ``[lo, hi]``, at most about ``count`` of them."""
    span = max(hi - lo, 0.001)
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    moment = float(first)
    while moment <= hi + 1e-9:
        ticks.append(moment)
        moment += step
    return ticks


def display_unit(unit: str | None, peak: float) -> tuple[float, str]:
    """(factor, label): multiply values by ``factor`` to show them in ``label``.

    Seconds under one are shown in ms, a ratio in %; other units as written,
    and a series with no unit as a plain count."""
    text = (unit or "").strip()
    lowered = text.lower()
    if lowered in ("s", "sec", "second", "seconds"):
        return (1000.0, "ms") if abs(peak) < 1 else (1.0, "s")
    if lowered in ("ratio", "fraction"):
        return 100.0, "%"
    if lowered in ("rps", "requests/s", "req/s", "per second", "/s"):
        return 1.0, "req/s"
    if lowered in ("", "count", "counts"):
        return 1.0, "count"
    return 1.0, text
