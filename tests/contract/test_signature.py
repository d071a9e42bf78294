from __future__ import annotations

import inspect
from typing import Any

import pytest

from chaosllm._signature import call_part, compose


def _common(target: str, duration: str | None = "30s", secrets: dict[str, Any] | None = None) -> None:
    """Shared."""


def _build(amount: int, unit: str = "ms") -> dict[str, Any]:
    return {"amount": amount, "unit": unit}


def test_compose_orders_required_first_and_resolves_types() -> None:
    signature = compose([_build], _common)
    assert list(signature.parameters) == ["target", "amount", "unit", "duration", "secrets"]
    assert signature.parameters["amount"].annotation is int
    assert signature.parameters["duration"].annotation == str | None
    bound = signature.bind("redis", 5)
    bound.apply_defaults()
    assert call_part(_build, bound.arguments) == {"amount": 5, "unit": "ms"}


def test_a_parameter_declared_twice_is_refused() -> None:
    def clash(duration: str = "1s") -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="duration"):
        compose([clash], _common)


def test_missing_required_argument_is_a_bind_error() -> None:
    with pytest.raises(TypeError, match="amount"):
        compose([_build], _common).bind(target="redis")
    assert inspect.signature(_build).parameters["unit"].default == "ms"
