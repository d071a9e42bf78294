"""What the application needs beyond chaosllm's own dependencies: the ``sandbox`` extra.

The gateway speaks GraphQL through graphql-core, which is not installed with
chaosllm itself, so starting the stack first checks that it is there and says
how to get it.
"""

from __future__ import annotations

import importlib.util

from chaosllm.errors import ConfigurationError

__all__ = ["EXTRA_MODULES", "INSTALL_HINT", "missing_modules", "require_extra"]

# import name -> distribution name, for the message.
EXTRA_MODULES = {"graphql": "graphql-core"}
INSTALL_HINT = "pip install 'chaosllm[sandbox]'"


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module blocked in sys.modules
        return False


def missing_modules() -> list[str]:
    """Distributions of the ``sandbox`` extra that cannot be imported here."""
    return [dist for module, dist in EXTRA_MODULES.items() if not _importable(module)]


def require_extra() -> None:
    """Refuse, in one line, to start the application without its extra."""
    missing = missing_modules()
    if missing:
        raise ConfigurationError(
            f"the sandbox application needs {' and '.join(missing)}, not installed here: "
            f"install the sandbox extra with {INSTALL_HINT}"
        )
