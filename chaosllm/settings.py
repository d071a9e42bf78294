"""One lookup for every setting.

Order: the activity's argument, then ``secrets``, then ``configuration``,
then the environment variable ``CHAOSLLM_<KEY>``, then the default::

    timeout = get_setting("prometheus_timeout", None, configuration, secrets, default=5.0)

A target (the server a fault changes) has no default: :func:`require_setting`
refuses an unset one with a message naming the four places it can come from::

    url = require_setting("redis_url", redis_url, configuration, secrets)
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
    """Like :func:`get_setting`, but a missing value is a clear error.

    The error names the setting and the four places it can come from, in the
    order they are read; there is deliberately no default, so that nothing is
    ever aimed at a server the user did not name.
    """
    found = get_setting(key, value, configuration, secrets)
    if found in (None, ""):
        raise ConfigurationError(
            f"setting '{key}' is not set, and chaosllm has no default target: give it as "
            f"the activity's argument '{key}', in secrets (key {key}), in configuration "
            f"(key {key}) or in the environment variable {env_name(key)}"
        )
    return found
