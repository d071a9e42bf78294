"""Thresholds as experiments write them: 0.5, "5%" or "2000ms".

A threshold is a finite number: NaN is never exceeded nor undercut, and an
infinite one never breaks, so both are refused wherever a threshold is read.

One parser for every place that reads a threshold: the SLO tolerances, the
SLO file, the guard's conditions, the metrics control and the reports.
"""

from __future__ import annotations

import math
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.faults.durations import parse_duration

__all__ = ["parse_threshold"]


def parse_threshold(value: Any, what: str = "threshold") -> float:
    """A number, a percentage ("5%" is 0.05) or a duration ("2000ms" is 2.0 seconds); finite."""
    number = _parse(value, what)
    if not math.isfinite(number):
        raise InvalidArgument(f"{what} must be a finite number, got {value!r}")
    return number


def _parse(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a number, got {value!r}")
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            return math.inf
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100.0
            return float(text)
        except ValueError:
            pass
        try:
            return parse_duration(text, what)
        except InvalidArgument:
            raise InvalidArgument(
                f"{what} must be a number, a percentage ('5%') or a duration ('500ms'), got {value!r}"
            ) from None
    raise InvalidArgument(f"{what} must be a number, a percentage or a duration, got {value!r}")
