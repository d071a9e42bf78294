"""One lookup for every setting.

Order: the activity's argument, then ``secrets``, then ``configuration``,
then the environment variable ``CHAOSLLM_<KEY>``, then the default::

    url = get_setting("redis_url", redis_url, configuration, secrets,
                      default="redis://127.0.0.1:6379/0")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.redaction import redact_url as redact

__all__ = ["get_setting", "require_setting", "env_name", "redact"]

def env_name(key: str) -> str:
    return "CHAOSLLM_" + key.upper()


def _lookup(source: Mapping[str, Any] | None, key: str) -> Any:
    if not source:
        return None
    value = source.get(key)
    if value is None:
        value = source.get(key.upper())
    return value


def get_setting(
    key: str,
    value: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Any:
    """Resolve ``key`` from the argument, secrets, configuration, environment."""
    for candidate in (value, _lookup(secrets, key), _lookup(configuration, key)):
        if candidate not in (None, ""):
            return candidate
    from_env = os.environ.get(env_name(key))
    if from_env not in (None, ""):
        return from_env
    return default


def require_setting(
    key: str,
    value: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> Any:
    """Like :func:`get_setting`, but a missing value is a clear error."""
    found = get_setting(key, value, configuration, secrets)
    if found in (None, ""):
        raise ConfigurationError(
            f"setting '{key}' is not set: pass it as an argument, in secrets or "
            f"configuration, or set {env_name(key)}"
        )
    return found
