"""The fault proxy API (chaosllm's or a real Toxiproxy): ``proxy_api(...)``.

Only Toxiproxy's documented routes are used, so the same calls drive either
server. HTTP and socket failures are translated here, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT, check_url
from chaosllm._clients.jsonapi import JsonApi
from chaosllm.settings import require_setting

__all__ = ["ProxyApi", "proxy_api", "resolve_api_url", "path"]

EXAMPLE_API_URL = "http://127.0.0.1:8474"


def resolve_api_url(
    proxy_api_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> str:
    """The API's base URL; an unset ``proxy_api_url`` is refused (there is no default)."""
    url = str(require_setting("proxy_api_url", proxy_api_url, configuration, secrets)).rstrip("/")
    return check_url("proxy_api_url", url, ("http", "https"), EXAMPLE_API_URL)


def path(*parts: str) -> str:
    """``path("proxies", name)`` -> ``/proxies/<name quoted>``."""
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


class ProxyApi(JsonApi):
    """The fault proxy's (or Toxiproxy's) API."""


@contextlib.contextmanager
def proxy_api(
    action: str,
    proxy_api_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    client: ProxyApi | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[ProxyApi]:
    """Yield a :class:`ProxyApi`; errors name ``action`` and the API URL."""
    own = client is None
    api = client or ProxyApi(resolve_api_url(proxy_api_url, configuration, secrets), action, timeout)
    try:
        yield api
    finally:
        if own:
            api.close()
