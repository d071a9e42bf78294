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

__all__ = ["get_setting", "find_setting", "require_setting", "env_name", "redact"]

def env_name(key: str) -> str:
    return "CHAOSLLM_" + key.upper()


def _lookup(source: Mapping[str, Any] | None, key: str) -> Any:
    if not source:
        return None
    value = source.get(key)
    if value is None:
        value = source.get(key.upper())
    return value


def find_setting(
    key: str,
    value: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> tuple[Any, str | None]:
    """The value of ``key`` and where it came from, for messages; (None, None) if unset.

    The place is "argument", "secrets key K", "configuration key K" or "$CHAOSLLM_K".
    """
    places = (("argument", value), (f"secrets key {key}", _lookup(secrets, key)),
              (f"configuration key {key}", _lookup(configuration, key)),
              (f"${env_name(key)}", os.environ.get(env_name(key))))  # fmt: skip
    for place, candidate in places:
        if candidate not in (None, ""):
            return candidate, place
    return None, None


def get_setting(
    key: str,
    value: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Any:
    """Resolve ``key`` from the argument, secrets, configuration, environment."""
    found, place = find_setting(key, value, configuration, secrets)
    return default if place is None else found


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
