"""One connection factory per backend.

Each factory is a context manager that resolves its settings through
:mod:`chaosllm.settings`, connects with a short timeout, accepts an injected
client for tests, and translates the backend's exceptions once, into
:mod:`chaosllm.errors`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_CONNECT_TIMEOUT = 2.0


def check_url(key: str, url: str, schemes: tuple[str, ...], example: str) -> str:
    """Refuse a malformed URL setting, naming the setting but not the URL (it may hold a password)."""
    from chaosllm.errors import ConfigurationError

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigurationError(f"{key} is not a valid URL (its host or port is malformed)") from None
    if parts.scheme not in schemes:
        names = [f"{scheme}://" for scheme in schemes]
        allowed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        raise ConfigurationError(
            f"{key} must start with {allowed}, such as {example} (got scheme {parts.scheme!r})"
        )
    return url
