"""Alertmanager's API v2: ``alertmanager_api(...)``.

The URL is the ``alertmanager_url`` setting (argument, secrets,
configuration, then ``CHAOSLLM_ALERTMANAGER_URL``); there is no default.
Credentials in it are sent as HTTP Basic authentication and never shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients.jsonapi import JsonApi, open_api
from chaosllm.settings import require_setting

__all__ = ["AlertmanagerApi", "alertmanager_api", "resolve_url"]

EXAMPLE_URL = "http://127.0.0.1:9093"


class AlertmanagerApi(JsonApi):
    service = "Alertmanager"
    setting = "alertmanager_url"


def resolve_url(alertmanager_url: str | None, configuration: Mapping[str, Any] | None,
                secrets: Mapping[str, Any] | None) -> str:  # fmt: skip
    """The URL the silence control records in the ledger, so that cleanup finds the server."""
    return str(require_setting("alertmanager_url", alertmanager_url, configuration, secrets)).rstrip("/")


@contextlib.contextmanager
def alertmanager_api(action: str, alertmanager_url: str | None = None,
                     configuration: Mapping[str, Any] | None = None,
                     secrets: Mapping[str, Any] | None = None) -> Iterator[JsonApi]:  # fmt: skip
    """An Alertmanager client; errors name ``action`` and the URL (masked)."""
    with open_api(AlertmanagerApi, action, alertmanager_url, configuration, secrets,
                  EXAMPLE_URL) as api:  # fmt: skip
        yield api
