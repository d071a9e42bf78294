"""Strict argument types for every published activity.

Every action and probe carries :func:`strict`: before its body runs, each
argument given is checked against the function's type hints and converted
once, so that the body sees only well-typed values. JSON, ``--var`` and
environment configuration deliver many values as strings, so the rules are:

- ``bool``: true or false, or the strings "true" / "false" (any case);
  "false" is false. Nothing else (not 0, 1, "yes", "").
- ``int``: an integer (never a boolean), an integral float (``5.0``) or a
  decimal string of at most 20 characters (``"5"``), within
  ``±2**53`` unless the hint narrows it with :class:`Range`
  (``Annotated[int, Range(1, 65535)]``).
- ``float``: a finite number or a decimal string (NaN and infinity refused).
- ``str``: a string, without NUL characters or unpaired surrogates; a
  finite number within ``±2**53`` is taken as its text (``30`` is ``"30"``,
  which a duration reads as seconds).
- ``X | None``: also None; ``list[X]`` / ``dict[K, V]``: a list (or tuple) /
  a mapping whose items are checked the same way.

A refused argument is :class:`~chaosllm.errors.InvalidArgument` naming the
activity, the argument and the cause; nothing has changed by then.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from chaosllm.errors import InvalidArgument

__all__ = ["Range", "strict", "is_strict", "bind_checked", "check_field", "MAX_INT", "STRICT_ATTRIBUTE"]

# The default magnitude of an integer argument: exact in every JSON reader.
MAX_INT = 2**53
STRICT_ATTRIBUTE = "__chaosllm_strict__"
_INTEGER = re.compile(r"[+-]?\d{1,19}")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_MAX_NUMBER_TEXT = 40
# Arguments whose values are never quoted in an error: they may carry credentials.
_UNQUOTED = re.compile(r"(^|_)(url|dsn|secrets|configuration|password|token)$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Range:
    """The closed interval a number argument must fall in (``Annotated[int, Range(0, 100)]``).

    An integer is also always within ``±MAX_INT``.
    """

    low: float | None = None
    high: float | None = None

    def check(self, value: float) -> str | None:
        """Why ``value`` is outside the range, or None."""
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return self.describe()
        return None

    def describe(self) -> str:
        if self.high is None:
            return f"must be at least {_number_text(self.low)}"
        if self.low is None:
            return f"must be at most {_number_text(self.high)}"
        return f"must be between {_number_text(self.low)} and {_number_text(self.high)}"


def _number_text(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else f"{value:g}"


_DEFAULT_RANGE = Range(-MAX_INT, MAX_INT)


_NOTHING = object()


class _Refused(Exception):
    """A value does not fit its hint: why, the value (``got``) and where inside the argument."""

    def __init__(self, cause: str, got: Any = _NOTHING, where: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.got = got
        self.where = where

    def inside(self, step: str) -> _Refused:
        return _Refused(self.cause, self.got, step + self.where)


def _shown(value: Any) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _describe(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             type(None): "null", list: "a list", dict: "a mapping", Any: "anything"}  # fmt: skip
    return names.get(origin or hint, str(hint))


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Refused('must be true or false (or the string "true" or "false")', value)


def _integer(value: Any, bounds: Range | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Refused("must be an integer", value)
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value.strip()):
            raise _Refused("must be an integer (decimal digits)", value)
        value = int(value.strip())
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise _Refused("must be an integer", value)
        value = int(value)
    problem = _DEFAULT_RANGE.check(value) or (bounds.check(value) if bounds else None)
    if problem:
        raise _Refused(problem, value)
    return value


def _number(value: Any, bounds: Range | None) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Refused("must be a number", value)
    number: float | int = value  # type: ignore[assignment]
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
            raise _Refused("must be a number", value)
        number = float(text)
    elif isinstance(value, int) and abs(value) > MAX_INT:
        raise _Refused(_DEFAULT_RANGE.describe(), value)
    if not math.isfinite(number):
        raise _Refused("must be a finite number", value)
    problem = bounds.check(number) if bounds else None
    if problem:
        raise _Refused(problem, value)
    return number


def _string(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # JSON authors write `"duration": 30` for "30" (plain numbers are seconds).
        if abs(value) <= MAX_INT:  # NaN fails this too; a huge int never becomes a float
            return _number_text(value)
        raise _Refused("must be a string, or a finite number within ±2**53", value)
    if not isinstance(value, str):
        raise _Refused("must be a string", value)
    if "\x00" in value:
        raise _Refused("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("must be valid text (it has an unpaired surrogate)") from None
    return value


def _sequence(value: Any, item: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise _Refused("must be a list", value)
    out = []
    for index, element in enumerate(value):
        try:
            out.append(_check(element, item))
        except _Refused as exc:
            raise exc.inside(f"[{index}]") from None
    same = isinstance(value, list) and all(a is b for a, b in zip(out, value, strict=True))
    return value if same else out


def _mapping(value: Any, key_hint: Any, item: Any) -> Any:
    if not isinstance(value, Mapping):
        raise _Refused("must be a mapping", value)
    out = {}
    same = isinstance(value, dict)
    for key, element in value.items():
        try:
            checked_key = _check(key, key_hint)
        except _Refused as exc:
            raise _Refused(f"has a key that {exc.cause}", key) from None
        try:
            out[checked_key] = element if item is Any else _check(element, item)
        except _Refused as exc:
            raise exc.inside(f"[{key!r}]") from None
        same = same and checked_key is key and out[checked_key] is element
    return value if same else out


def _union(value: Any, members: tuple[Any, ...]) -> Any:
    if value is None:
        if type(None) in members:
            return None
        raise _Refused("must not be null")
    # A value that already has one of the types is taken as it is ("5" stays a
    # string where a string is allowed); a conversion is tried only otherwise.
    exact = [m for m in members if _has_type(value, m)]
    for member in exact + [m for m in members if m not in exact and m is not type(None)]:
        try:
            return _check(value, member)
        except _Refused as exc:
            if member in exact:
                raise exc from None
    raise _Refused("must be " + " or ".join(_describe(m) for m in members), value)


def _has_type(value: Any, hint: Any) -> bool:
    base = typing.get_origin(hint) or hint
    if base is Annotated:
        return _has_type(value, typing.get_args(hint)[0])
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is list:
        return isinstance(value, list | tuple)
    if base is dict:
        return isinstance(value, Mapping)
    return isinstance(base, type) and isinstance(value, base)


def _check(value: Any, hint: Any) -> Any:
    """``value`` checked against ``hint`` and converted (see the module docstring).

    Raises ``_Refused`` (internal); :func:`strict` turns it into InvalidArgument.
    """
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *extras = typing.get_args(hint)
        bounds = next((e for e in extras if isinstance(e, Range)), None)
        if base is int:
            return _integer(value, bounds)
        if base is float:
            return _number(value, bounds)
        return _check(value, base)
    if origin in (typing.Union, types.UnionType):
        return _union(value, typing.get_args(hint))
    if origin in (list, dict):
        args = typing.get_args(hint)
        return _sequence(value, args[0]) if origin is list else _mapping(value, *args)
    if hint is Any:
        return value
    if hint is type(None):
        if value is not None:
            raise _Refused("must be null", value)
        return None
    if hint not in _CHECKS:
        raise TypeError(f"no argument check for the type {hint!r}")
    return _CHECKS[hint](value)


_CHECKS: dict[Any, Callable[[Any], Any]] = {
    bool: _boolean, str: _string,
    int: _integer, float: lambda v: _number(v, None),
    list: lambda v: _sequence(v, Any), dict: lambda v: _mapping(v, str, Any),
}  # fmt: skip


@functools.cache
def _declared(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    """``func``'s signature and resolved type hints (resolved at its first call)."""
    return inspect.signature(func), typing.get_type_hints(func, include_extras=True)


def _error(subject: str, refused: _Refused, quote: bool = True) -> InvalidArgument:
    cause = refused.cause
    if refused.got is not _NOTHING and quote:
        cause += f", got {_shown(refused.got)}"
    return InvalidArgument(f"{subject}{refused.where} {cause}")


def check_field(value: Any, hint: Any, what: str) -> Any:
    """``value`` checked against ``hint`` as an argument would be; the error names ``what``.

    For values inside an argument, such as the fields of a manifest.
    """
    try:
        return _check(value, hint)
    except _Refused as refused:
        raise _error(what, refused) from None


def bind_checked(func: Callable[..., Any], *args: Any, **kwargs: Any) -> inspect.BoundArguments:
    """``func``'s arguments bound, checked and converted, defaults applied (see :func:`strict`)."""
    signature, hints = _declared(func)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidArgument(f"{func.__name__}: {exc}") from None
    for name, value in bound.arguments.items():
        if name in hints:
            try:
                bound.arguments[name] = _check(value, hints[name])
            except _Refused as refused:
                # never quote what may hold credentials
                quote = not _UNQUOTED.search(name)
                raise _error(f"{func.__name__}: argument {name}", refused, quote) from None
    bound.apply_defaults()
    return bound


def _checked_call(func: Callable[..., Any], target: Callable[..., Any]) -> Callable[..., Any]:
    """``target`` (``func`` itself, or its renderer) behind ``func``'s argument checks."""

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = bind_checked(func, *args, **kwargs)
        return target(*bound.args, **bound.kwargs)

    return call


def strict(func: F) -> F:
    """Publish ``func`` as an activity whose arguments are checked and converted first.

    The wrapper keeps ``func``'s name, documentation and signature (through
    ``functools.wraps``), so discovery and ``chaos validate`` see the real
    parameters; a ``render`` attribute (a Chaos Mesh fault's manifest builder)
    gets the same checks.
    """
    activity = functools.wraps(func)(_checked_call(func, func))
    if callable(getattr(func, "render", None)):
        activity.render = _checked_call(func, func.render)  # type: ignore[attr-defined]
    setattr(activity, STRICT_ATTRIBUTE, True)
    return typing.cast(F, activity)


def is_strict(func: Any) -> bool:
    """Whether ``func`` checks its arguments with :func:`strict`."""
    return bool(getattr(func, STRICT_ATTRIBUTE, False))
