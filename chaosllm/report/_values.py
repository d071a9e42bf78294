"""Readers of the raw pieces of a journal, which may hold anything.

Each returns a usable value or an empty one, never raises: a report is
written for whatever a journal holds.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from chaosllm.redaction import redact_text

__all__ = ["as_dict", "as_list", "number", "number_text", "provider_text", "timestamp"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def timestamp(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 string or a number; None if unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def number(value: Any) -> float | None:
    """A finite JSON number (not a bool); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def number_text(text: str) -> float | None:
    """A finite, non-negative number written as text (a weight, a sample's value)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def provider_text(provider: Any) -> str:
    """One line naming what a provider runs, with secrets in its URL hidden."""
    if not isinstance(provider, dict):
        return ""
    kind = provider.get("type", "")
    if kind == "python":
        return f"python {provider.get('module', '')}.{provider.get('func', '')}"
    if kind == "process":
        return f"process {provider.get('path', '')}"
    if kind == "http":
        url = provider.get("url", "")
        return f"http {provider.get('method', 'GET')} {redact_text(url) if isinstance(url, str) else ''}"
    return str(kind)
