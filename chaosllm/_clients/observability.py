"""Grafana, Loki and Jaeger (query) HTTP APIs: one client factory each.

Each URL is a setting with no default (``grafana_url``, ``loki_url``,
``jaeger_url``: argument, secrets, configuration, then ``CHAOSLLM_<KEY>``).
Grafana takes a bearer token (``grafana_token``), Loki an optional tenant
(``loki_tenant``, sent as ``X-Scope-OrgID``) and bearer token
(``loki_token``); secrets are the place for the tokens. Tokens and URL
credentials never appear in a message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients.jsonapi import JsonApi, open_api
from chaosllm.settings import get_setting, require_setting

__all__ = ["grafana_api", "loki_api", "jaeger_api"]


class GrafanaApi(JsonApi):
    service = "Grafana"
    setting = "grafana_url"


class LokiApi(JsonApi):
    service = "Loki"
    setting = "loki_url"


class JaegerApi(JsonApi):
    service = "the Jaeger query API"
    setting = "jaeger_url"


Settings = Mapping[str, Any] | None


@contextlib.contextmanager
def grafana_api(action: str, url: str | None, configuration: Settings,
                secrets: Settings) -> Iterator[JsonApi]:  # fmt: skip
    token = get_setting("grafana_token", None, configuration, secrets)
    url = require_setting("grafana_url", url, configuration, secrets)
    with open_api(GrafanaApi, action, url, configuration, secrets, "http://127.0.0.1:3000",
                  token=token) as api:  # fmt: skip
        yield api


@contextlib.contextmanager
def loki_api(action: str, url: str | None, configuration: Settings,
             secrets: Settings) -> Iterator[JsonApi]:  # fmt: skip
    tenant = get_setting("loki_tenant", None, configuration, secrets)
    token = get_setting("loki_token", None, configuration, secrets)
    url = require_setting("loki_url", url, configuration, secrets)
    with open_api(LokiApi, action, url, configuration, secrets, "http://127.0.0.1:3100",
                  token=token, headers={"X-Scope-OrgID": str(tenant)} if tenant else None) as api:
        yield api


@contextlib.contextmanager
def jaeger_api(action: str, url: str | None, configuration: Settings,
               secrets: Settings) -> Iterator[JsonApi]:  # fmt: skip
    url = require_setting("jaeger_url", url, configuration, secrets)
    with open_api(JaegerApi, action, url, configuration, secrets, "http://127.0.0.1:16686") as api:
        yield api
