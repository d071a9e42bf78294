"""Strict argument types: every published activity checks its arguments, by these rules."""

from __future__ import annotations

import importlib
import inspect
import math
import typing
from collections.abc import Callable
from typing import Annotated, Any

import pytest

import chaosllm
from chaosllm.arguments import MAX_INT, Range, bind_checked, check_field, is_strict, strict
from chaosllm.errors import InvalidArgument


def published() -> list[tuple[str, Callable[..., Any]]]:
    """Every activity discovery lists: ``(module.name, function)``, for every package in the tuple."""
    found = []
    for package in chaosllm.ACTIVITY_PACKAGES:
        for kind in ("actions", "probes"):
            module_name = f"chaosllm.{package}.{kind}"
            if chaosllm._existing(module_name):
                module = importlib.import_module(module_name)
                found += [(f"{module_name}.{name}", getattr(module, name)) for name in module.__all__]
    return found


ACTIVITIES = published()


def test_there_are_activities() -> None:
    assert len(ACTIVITIES) > 100


@pytest.mark.parametrize("name,func", ACTIVITIES, ids=[n for n, _ in ACTIVITIES])
def test_every_published_activity_is_strict(name: str, func: Callable[..., Any]) -> None:
    assert is_strict(func), f"{name} does not check its arguments: decorate it with chaosllm.arguments.strict"
    # Its real parameters stay visible to discovery and `chaos validate`.
    assert inspect.signature(func) == inspect.signature(func.__wrapped__)  # type: ignore[attr-defined]
    assert func.__doc__ and func.__name__ == name.rpartition(".")[2]


@pytest.mark.parametrize("name,func", ACTIVITIES, ids=[n for n, _ in ACTIVITIES])
def test_every_default_obeys_its_own_rules(name: str, func: Callable[..., Any]) -> None:
    hints = typing.get_type_hints(func, include_extras=True)
    for param in inspect.signature(func).parameters.values():
        assert param.name in hints, f"{name}: {param.name} has no type hint, so it is never checked"
        if param.default is not inspect.Parameter.empty:
            assert check_field(param.default, hints[param.name], f"{name} {param.name}") == param.default


def test_discovery_still_sees_the_real_arguments() -> None:
    discovered = {f"{a['mod']}.{a['name']}": a for a in chaosllm.load_exported_activities()}
    assert set(discovered) == {name for name, _ in ACTIVITIES}
    kill_pods = discovered["chaosllm.chaosmesh.actions.kill_pods"]["arguments"]
    types = {arg["name"]: arg["type"] for arg in kill_pods}
    assert types["grace_period"] == "integer" and types["allow_unbounded"] == "boolean"
    flush_keys = discovered["chaosllm.redis.actions.flush_keys"]["arguments"]
    assert flush_keys[0] == {"name": "pattern", "type": "string"}


def _check(value: Any, hint: Any) -> Any:
    return check_field(value, hint, "x")


@pytest.mark.parametrize("value,expected", [(True, True), (False, False), ("true", True), ("false", False),
                                            ("FALSE", False), (" True ", True)])
def test_booleans(value: Any, expected: bool) -> None:
    assert _check(value, bool) is expected


@pytest.mark.parametrize("value", ["no", "0", "", "yes", 0, 1, None, [], 1.0])
def test_not_booleans(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="x must be true or false"):
        _check(value, bool)


@pytest.mark.parametrize("value,expected", [(5, 5), (-5, -5), (5.0, 5), ("5", 5), (" -12 ", -12), ("+3", 3),
                                            (MAX_INT, MAX_INT)])
def test_integers(value: Any, expected: int) -> None:
    result = _check(value, int)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [True, 5.5, math.nan, math.inf, "5.0", "0x10", "1_000", "", "1" * 25,
                                   10**400, MAX_INT + 1, [5], None])
def test_not_integers(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="x must be"):
        _check(value, int)


def test_an_integer_range() -> None:
    port = Annotated[int, Range(1, 65535)]
    assert _check("8080", port) == 8080
    with pytest.raises(InvalidArgument, match="x must be between 1 and 65535, got 0"):
        _check(0, port)
    with pytest.raises(InvalidArgument, match="x must be at least 0, got -1"):
        _check(-1, Annotated[int, Range(0)] | None)
    assert _check(None, Annotated[int, Range(0)] | None) is None


@pytest.mark.parametrize("value,expected", [(0.5, 0.5), (2, 2), ("0.25", 0.25), ("1e3", 1000.0),
                                            (" 3 ", 3.0)])
def test_numbers(value: Any, expected: float) -> None:
    assert _check(value, float) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "inf", "1e400", True, "", "x",
                                   10**400])
def test_not_numbers(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="x must be"):
        _check(value, float)


@pytest.mark.parametrize("value", [10**400, 2**53 + 1, math.nan, math.inf, True, None, b"x", ["a"],
                                   "a\x00b", "\ud800"])
def test_not_strings(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="x must"):
        _check(value, str)


def test_containers_check_their_items() -> None:
    assert _check(["a", "b"], list[str]) == ["a", "b"]
    assert _check(("a",), list[str]) == ["a"]
    with pytest.raises(InvalidArgument, match=r"x\[1\] must be a string, got None"):
        _check(["a", None], list[str] | None)
    assert _check({"a": "1", "b": 2, "c": 0.5}, dict[str, str]) == {"a": "1", "b": "2", "c": "0.5"}
    with pytest.raises(InvalidArgument, match=r"x\['b'\] must be a string, got a list"):
        _check({"a": "1", "b": [2]}, dict[str, str])
    with pytest.raises(InvalidArgument, match="x has a key that must be a string"):
        _check({None: "a"}, dict[str, Any])
    assert _check({1: "a"}, dict[str, Any]) == {"1": "a"}
    assert _check({"a": [1, None]}, dict[str, Any]) == {"a": [1, None]}


@pytest.mark.parametrize(("value", "text"),
                         [(30, "30"), (0.5, "0.5"), (-2, "-2"), (1.0, "1"), (2**53, str(2**53))])
def test_a_number_for_a_string_is_its_text(value: Any, text: str) -> None:
    assert _check(value, str) == text


def test_a_union_keeps_a_value_of_one_of_its_types() -> None:
    assert _check("5", str | int) == "5"
    assert _check(5, str | float | None) == 5
    assert _check({"app": "web"}, str | dict[str, str] | None) == {"app": "web"}
    with pytest.raises(InvalidArgument, match="x must be a string or a mapping or null, got True"):
        _check(True, str | dict[str, str] | None)
    with pytest.raises(InvalidArgument, match=r"x\['app'\] must be a string"):
        _check({"app": [1]}, str | dict[str, str] | None)


def test_strict_converts_once_and_keeps_the_signature() -> None:
    seen: list[tuple[Any, ...]] = []

    @strict
    def activity(count: int, enabled: bool = False, name: str | None = None) -> dict[str, Any]:
        """An activity."""
        seen.append((count, enabled, name))
        return {}

    activity("3", enabled="false")
    assert seen == [(3, False, None)]
    assert list(inspect.signature(activity).parameters) == ["count", "enabled", "name"]
    assert activity.__doc__ == "An activity." and is_strict(activity)
    with pytest.raises(InvalidArgument, match="activity: argument count must be an integer .*, got 'three'"):
        activity("three")
    with pytest.raises(InvalidArgument, match="activity: missing a required argument: 'count'"):
        activity()
    assert bind_checked(activity, 1).arguments == {"count": 1, "enabled": False, "name": None}
    assert len(seen) == 1
