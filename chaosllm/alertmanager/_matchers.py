"""Alert matchers as users write them: ``{"alertname": "ChaosCausedOutage"}``."""

from __future__ import annotations

from typing import Any

from chaosllm.errors import InvalidArgument

__all__ = ["matchers_from", "filter_params"]


def matchers_from(matchers: Any, what: str = "matchers") -> list[dict[str, Any]]:
    """Alertmanager matchers (equality) from a mapping of label name to value."""
    if not isinstance(matchers, dict) or not matchers:
        raise InvalidArgument(f"{what} must be a non-empty mapping of label name to value, "
                              f"e.g. {{\"alertname\": \"ChaosCausedOutage\"}}; got {matchers!r}")
    found = []
    for name, value in matchers.items():
        if not isinstance(name, str) or not name.replace("_", "a").isalnum() or not isinstance(value, str):
            raise InvalidArgument(f"{what}: {name!r} -> {value!r} is not a label name and a string value")
        found.append({"name": name, "value": value, "isRegex": False, "isEqual": True})
    return found


def filter_params(matchers: list[dict[str, Any]]) -> list[str]:
    """``filter`` query values of ``GET /api/v2/alerts`` for the matchers."""
    return ['{}="{}"'.format(m["name"], m["value"].replace("\\", "\\\\").replace('"', '\\"'))
            for m in matchers]
