"""chaosllm: a Chaos Toolkit extension for microservice platforms.

Activities live in ``chaosllm.<target>.actions`` and ``chaosllm.<target>.probes``,
and tolerances that judge probe results in ``chaosllm.<target>.tolerances``;
the module path is the JSON API. Discovery is generated from those modules,
so an activity is published by listing it in its module's ``__all__``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "discover", "load_exported_activities", "load_tolerances", "ACTIVITY_PACKAGES"]

# Packages whose actions.py / probes.py / tolerances.py are published. Order is the order of
# the generated docs.
ACTIVITY_PACKAGES = (
    "redis",
    "postgres",
    "rabbitmq",
    "chaosmesh",
    "litmus",
    "proxy",
    "process",
    "stress",
    "slo",
    "alertmanager",
    "observability",
    "sandbox",
)


def _existing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _portable(hint: Any) -> str:
    """chaoslib's portable type names, for resolved hints (X | None -> X)."""
    import types
    import typing

    from chaoslib.discovery.discover import portable_type_name

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        named = {_portable(arg) for arg in typing.get_args(hint) if arg is not type(None)}
        return named.pop() if len(named) == 1 else "object"
    return portable_type_name(origin or hint)


def _with_resolved_types(activity: dict[str, Any]) -> dict[str, Any]:
    # chaoslib reads raw annotations, which `from __future__ import
    # annotations` turns into strings; resolve them before publishing.
    import importlib
    import typing

    func = getattr(importlib.import_module(activity["mod"]), activity["name"])
    hints = typing.get_type_hints(func)
    for arg in activity["arguments"]:
        if arg["name"] in hints:
            arg["type"] = _portable(hints[arg["name"]])
    if "return" in hints:
        activity["return_type"] = _portable(hints["return"])
    return activity


def load_exported_activities() -> list[Any]:
    """Every action and probe that chaosllm publishes, as chaoslib describes them."""
    from chaoslib.discovery.discover import discover_actions, discover_probes

    activities: list[Any] = []
    for package in ACTIVITY_PACKAGES:
        for kind, finder in (("actions", discover_actions), ("probes", discover_probes)):
            module = f"chaosllm.{package}.{kind}"
            if _existing(module):
                activities.extend(_with_resolved_types(a) for a in finder(module))
    return activities


def load_tolerances() -> list[Any]:
    """Every tolerance chaosllm publishes (``chaosllm.<target>.tolerances``), described like activities."""
    from chaoslib.discovery.discover import discover_activities

    tolerances: list[Any] = []
    for package in ACTIVITY_PACKAGES:
        module = f"chaosllm.{package}.tolerances"
        if _existing(module):
            tolerances.extend(_with_resolved_types(t) for t in discover_activities(module, "tolerance"))
    return tolerances


def discover(discover_system: bool = True) -> Any:
    """Discovery entry point used by ``chaos discover chaosllm``."""
    from chaoslib.discovery.discover import initialize_discovery_result

    discovery = initialize_discovery_result("chaosllm", __version__, "chaosllm")
    discovery["activities"].extend(load_exported_activities())
    return discovery
