"""Alertmanager's API v2: ``alertmanager_api(...)``.

The URL is the ``alertmanager_url`` setting (argument, secrets,
configuration, then ``CHAOSLLM_ALERTMANAGER_URL``); there is no default.
Credentials in it are sent as HTTP Basic authentication and never shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT, check_url
from chaosllm._clients.jsonapi import JsonApi
from chaosllm.settings import require_setting

__all__ = ["AlertmanagerApi", "alertmanager_api", "resolve_url"]

EXAMPLE_URL = "http://127.0.0.1:9093"


class AlertmanagerApi(JsonApi):
    service = "Alertmanager"
    setting = "alertmanager_url"


def resolve_url(alertmanager_url: str | None, configuration: Mapping[str, Any] | None,
                secrets: Mapping[str, Any] | None) -> str:  # fmt: skip
    url = str(require_setting("alertmanager_url", alertmanager_url, configuration, secrets)).rstrip("/")
    return check_url("alertmanager_url", url, ("http", "https"), EXAMPLE_URL)


@contextlib.contextmanager
def alertmanager_api(action: str, alertmanager_url: str | None = None,
                     configuration: Mapping[str, Any] | None = None,
                     secrets: Mapping[str, Any] | None = None) -> Iterator[AlertmanagerApi]:  # fmt: skip
    """Yield an :class:`AlertmanagerApi`; errors name ``action`` and the URL (masked)."""
    api = AlertmanagerApi(resolve_url(alertmanager_url, configuration, secrets), action,
                          DEFAULT_CONNECT_TIMEOUT)  # fmt: skip
    try:
        yield api
    finally:
        api.close()
