"""chaosllm: a Chaos Toolkit extension for microservice platforms.

Activities live in ``chaosllm.<target>.actions`` and ``chaosllm.<target>.probes``;
the module path is the JSON API. Discovery is generated from those modules,
so an activity is published by listing it in its module's ``__all__``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "discover", "load_exported_activities", "ACTIVITY_PACKAGES"]

# Packages whose actions.py / probes.py are published. Order is the order of
# the generated docs.
ACTIVITY_PACKAGES = (
    "redis",
    "postgres",
    "rabbitmq",
    "chaosmesh",
    "proxy",
    "process",
    "stress",
    "slo",
    "sandbox",
)


def _existing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def load_exported_activities() -> list[Any]:
    """Every action and probe that chaosllm publishes, as chaoslib describes them."""
    from chaoslib.discovery.discover import discover_actions, discover_probes

    activities: list[Any] = []
    for package in ACTIVITY_PACKAGES:
        for kind, finder in (("actions", discover_actions), ("probes", discover_probes)):
            module = f"chaosllm.{package}.{kind}"
            if _existing(module):
                activities.extend(finder(module))
    return activities


def discover(discover_system: bool = True) -> Any:
    """Discovery entry point used by ``chaos discover chaosllm``."""
    from chaoslib.discovery.discover import initialize_discovery_result

    discovery = initialize_discovery_result("chaosllm", __version__, "chaosllm")
    discovery["activities"].extend(load_exported_activities())
    return discovery
