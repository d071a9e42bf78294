"""Go-style durations ("500ms", "1h30m") and the one rule for a fault's duration.

Chaos Mesh writes durations in Go form, so every chaosllm argument does too.
:func:`bounded_seconds` is the one rule for a fault's duration (positive
and bounded); :func:`fault_seconds` adds the only exception, a fault with no
end, which the experiment must ask for with ``allow_unbounded``.
"""

from __future__ import annotations

import re

from chaosllm.errors import InvalidArgument

__all__ = ["MAX_DURATION", "parse_duration", "bounded_seconds", "fault_seconds", "format_duration"]

# Longer than any fault should last, and short enough for every timer to hold.
MAX_DURATION = 366 * 86400.0
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str | int | float, what: str = "duration") -> float:
    """Parse a Go-style duration ("500ms", "1h30m") into seconds.

    Plain numbers are seconds. Negative, empty or malformed values raise
    :class:`InvalidArgument` naming ``what``.
    """
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a duration such as '30s', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if not text or pos != len(text):
                raise InvalidArgument(
                    f"{what} {value!r} is not a duration: use Go form such as "
                    f"'500ms', '30s', '5m' or '1h30m'"
                )
    else:
        raise InvalidArgument(f"{what} must be a duration string, got {type(value).__name__}")
    if seconds < 0 or seconds != seconds:
        raise InvalidArgument(f"{what} {value!r} must not be negative")
    if seconds > MAX_DURATION:
        raise InvalidArgument(f"{what} {value!r} is too long: at most {MAX_DURATION / 86400:g} days")
    return seconds


def bounded_seconds(duration: str | int | float, field: str = "duration") -> float:
    """A fault's duration in seconds: positive, and bounded by :data:`MAX_DURATION`."""
    seconds = parse_duration(duration, field)
    if seconds <= 0:
        raise InvalidArgument(f"{field} {duration!r} must be positive")
    return seconds


def fault_seconds(
    duration: str | int | float | None,
    allow_unbounded: bool = False,
    what: str = "fault",
    field: str = "duration",
) -> float | None:
    """A fault's duration in seconds, as :func:`bounded_seconds` allows it.

    ``None`` (a fault with no end) is returned only with ``allow_unbounded``.
    ``what`` names the fault and ``field`` the argument or manifest key in
    the error messages.
    """
    if duration is None or duration == "":
        if not allow_unbounded:
            raise InvalidArgument(
                f"{field} is required: a {what} without one runs until removed; "
                "pass allow_unbounded=true to accept that"
            )
        return None
    return bounded_seconds(duration, field)


def format_duration(seconds: float) -> str:
    """Format seconds in Go form: 90 -> '1m30s', 0.5 -> '500ms'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return out + (f"{secs}s" if secs or not out else "")
