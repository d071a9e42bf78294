"""Checks of the argument values several Chaos Mesh fault families share.

Latencies (NetworkChaos delay, IOChaos delay, HTTPChaos delay), percentages
(netem amounts and correlations) and the optional container names of a spec.
"""

from __future__ import annotations

import re
from typing import Any

from chaosllm.errors import InvalidArgument

__all__ = ["check_latency", "check_percent", "containers_field"]

# The CRDs accept a single-unit Go duration for latencies ("90ms", "1.5s").
_LATENCY = re.compile(r"^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$")


def check_latency(value: str, what: str) -> str:
    """``value`` if it is one number and unit, such as "90ms"."""
    if not _LATENCY.match(str(value)):
        raise InvalidArgument(f"{what} {value!r} must be one number and unit, such as '90ms'")
    return str(value)


def check_percent(value: str | int | float, what: str) -> str:
    """``value`` as a percentage between 0 and 100, written the way the CRDs take it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} must be a percentage, got {value!r}") from None
    if not 0 <= number <= 100:
        raise InvalidArgument(f"{what} must be between 0 and 100, got {value!r}")
    return f"{number:g}"


def containers_field(container_names: list[str] | None) -> dict[str, Any]:
    """The spec's ``containerNames`` field, or nothing when no container is named."""
    return {"containerNames": list(container_names)} if container_names else {}
