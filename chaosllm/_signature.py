"""Activities built from parts: one declaration of the arguments a family shares.

A family of actions (the Chaos Mesh faults, the proxy's toxics) shares most
of its arguments. Each action declares only its own; :func:`compose` gives
it the full, explicit signature that Chaos Toolkit's discovery and argument
check read, and :func:`call_part` hands each part the arguments it declares.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["compose", "call_part", "publish"]

_EMPTY = inspect.Parameter.empty


def _required(param: inspect.Parameter) -> bool:
    return param.default is _EMPTY


def compose(parts: Sequence[Callable[..., Any]], common: Callable[..., Any]) -> inspect.Signature:
    """The signature of an activity made of ``parts`` and the family's ``common`` arguments.

    Order: ``common``'s required parameters, the parts' parameters (required
    ones first), then ``common``'s defaulted parameters. Annotations are
    resolved, so that discovery shows real types.
    """
    hints: dict[str, Any] = {}
    for func in (common, *reversed(parts)):
        hints.update(typing.get_type_hints(func, include_extras=True))
    template = list(inspect.signature(common).parameters.values())
    own = [p for part in parts for p in inspect.signature(part).parameters.values()]
    own.sort(key=lambda p: not _required(p))
    ordered = [p for p in template if _required(p)] + own + [p for p in template if not _required(p)]
    names = [p.name for p in ordered]
    if len(set(names)) != len(names):
        raise ValueError(f"parameters declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    params = [p.replace(annotation=hints.get(p.name, Any)) for p in ordered]
    return inspect.Signature(params, return_annotation=dict[str, Any])


def call_part(part: Callable[..., Any], values: dict[str, Any]) -> Any:
    """Call ``part`` with the arguments, among ``values``, that it declares."""
    return part(**{n: values[n] for n in inspect.signature(part).parameters})


def publish(action: Callable[..., Any], signature: inspect.Signature, doc: str) -> None:
    """Give ``action`` its composed signature, annotations and documentation."""
    action.__signature__ = signature  # type: ignore[attr-defined]
    action.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values()},
        "return": signature.return_annotation,
    }
    action.__doc__ = doc
