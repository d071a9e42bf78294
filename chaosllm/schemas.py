"""JSON Schema checks whose errors name the key and the rule that failed.

A schema file lives beside the module that uses it (``<thing>.schema.json``).
``first_problem`` validates a document and describes its first error in the
words of the other chaosllm messages::

    problem = first_problem(data, Path(__file__).with_name("slo-file.schema.json"), entry_depth=2)
    if problem is not None:  # (("slos", 0), "field 'window' is required (rule: required)")
        entry, text = problem

``entry_depth`` is how many steps of the path name the entry (``slos[0]``),
which the caller words itself; the rest of the path is the field.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["first_problem", "all_problems", "load_schema", "validated_setting"]


@functools.cache
def load_schema(path: Path) -> dict[str, Any]:
    """The schema at ``path``, read once."""
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _names(items: Iterable[Any]) -> str:
    return ", ".join(str(i) for i in items)


def _alternatives(schema: dict[str, Any], validator: str) -> list[str] | None:
    """For ``oneOf: [{required: [a]}, {required: [b]}]``: ``[a, b]``."""
    options = schema.get(validator)
    if not isinstance(options, list):
        return None
    names = [o["required"][0] for o in options if isinstance(o, dict) and len(o.get("required", [])) == 1]
    return names if len(names) == len(options) else None


def _order(path: tuple[Any, ...]) -> list[tuple[int, Any]]:
    # Paths mix list indices and keys; order indices numerically, keys by name.
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in path]


def _describe(error: Any, field: str) -> str:
    """``field '...' <what is wrong>``, or ``<what is wrong>`` for the entry itself."""
    rule, schema, value = error.validator, error.schema, error.instance
    subject = f"field '{field}'" if field else ""
    hint = schema.get("description")
    if rule == "required":
        missing = [name for name in error.validator_value if name not in value]
        if not field:
            return f"field '{missing[0]}' is required"
        return f"{subject} needs '{missing[0]}'"
    if rule == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        noun = "field" if not field else "key"
        text = f"unknown {noun}(s) " + _names(repr(k) for k in extra) + f" (allowed: {_names(allowed)})"
        return text if not field else f"{subject} has {text}"
    if rule in ("oneOf", "anyOf") and (names := _alternatives(schema, rule)):
        quoted = [repr(n) for n in names]
        text = "give exactly one of " + _names(quoted[:-1]) + " or " + quoted[-1]
        return f"{subject}: {text}" if field else text
    if rule in ("minProperties", "maxProperties") and schema.get("properties"):
        return f"{subject} needs exactly one of {_names(schema['properties'])}"
    if hint and field and rule in ("type", "pattern", "minLength", "minimum", "exclusiveMinimum",
                         "exclusiveMaximum", "maximum", "format", "minItems"):  # fmt: skip
        return f"{subject + ' ' if subject else ''}must be {hint}, got {value!r}"
    return f"{subject}: {error.message}" if subject else error.message


def _errors(instance: Any, schema_path: Path) -> list[Any]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    return list(validator.iter_errors(instance))


def _non_finite(instance: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where ``instance`` holds NaN or an infinity, which JSON Schema's number checks let through."""
    if isinstance(instance, float) and not math.isfinite(instance):
        return [path]
    if isinstance(instance, dict):
        return [p for key, value in instance.items() for p in _non_finite(value, (*path, key))]
    if isinstance(instance, list):
        return [p for index, value in enumerate(instance) for p in _non_finite(value, (*path, index))]
    return []


def all_problems(instance: Any, schema_path: Path) -> list[str]:
    """Every error of ``instance`` against the schema, one text each, in path order.

    NaN and the infinities are refused wherever they are (a limit of NaN is
    never exceeded), although JSON Schema counts them as numbers.
    """
    errors = sorted(_errors(instance, schema_path), key=lambda e: _order(tuple(e.absolute_path)))
    found = [(tuple(e.absolute_path), f"{_describe(e, '.'.join(map(str, e.absolute_path)))} "
              f"(rule: {e.validator})") for e in errors]  # fmt: skip
    for path in _non_finite(instance):
        shown = ".".join(map(str, path))
        found.append((path, f"field '{shown}' must be a finite number, got {_value_at(instance, path)!r} "
                      "(rule: finite)"))  # fmt: skip
    return [text for _, text in sorted(found, key=lambda item: _order(item[0]))]


def _value_at(instance: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        instance = instance[step]
    return instance


def first_problem(
    instance: Any, schema_path: Path, entry_depth: int = 0
) -> tuple[tuple[Any, ...], str] | None:
    """The first error of ``instance`` against the schema: ``(entry path, text)``, or None.

    The first entry with an error wins (the order a reader scans the file);
    within it, ``jsonschema``'s most relevant error.
    """
    from jsonschema.exceptions import best_match

    errors = _errors(instance, schema_path)
    if not errors:
        return None
    first = min((tuple(e.absolute_path)[:entry_depth] for e in errors), key=_order)
    error = best_match(e for e in errors if tuple(e.absolute_path)[:entry_depth] == first)
    path = tuple(error.absolute_path)
    # an error above the entries (the file, the list) has no entry of its own
    entry, rest = (path[:entry_depth], path[entry_depth:]) if len(path) >= entry_depth else ((), path)
    field = ".".join(str(p) for p in rest)
    return entry, f"{_describe(error, field)} (rule: {error.validator})"


def validated_setting(raw: Any, setting: str, source: str, schema_path: Path) -> Any:
    """A setting's document (JSON text is parsed), checked against the schema.

    Any problem is a ``ConfigurationError`` naming the setting, where it came
    from (``source``) and every key at fault.
    """
    from chaosllm.errors import ConfigurationError

    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{setting} from {source} is not valid JSON: {exc}") from exc
    problems = all_problems(raw, schema_path)
    if problems:
        raise ConfigurationError(f"{setting} from {source} breaks {schema_path.name}: {'; '.join(problems)}")
    return raw
