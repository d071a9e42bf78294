"""Probes of the fault proxy (chaosllm's or a real Toxiproxy server)."""

from __future__ import annotations

from typing import Any

from chaosllm._clients.proxy import path, proxy_api
from chaosllm.arguments import strict
from chaosllm.errors import TargetUnreachable

__all__ = ["is_available", "list_proxies", "list_toxics", "proxy_enabled"]


@strict
def is_available(
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when the proxy API answers `GET /version`.

    ```json
    {"type": "probe", "name": "proxy-api-up",
     "provider": {"type": "python", "module": "chaosllm.proxy.probes",
                  "func": "is_available"},
     "tolerance": true}
    ```
    """
    try:
        with proxy_api("check the proxy API", proxy_api_url, configuration, secrets) as api:
            api.request("GET", "/version")
    except TargetUnreachable:
        return False
    return True


@strict
def list_proxies(
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every proxy by name, with its listen and upstream addresses, whether
    it is enabled, and its toxics.

    ```json
    {"type": "probe", "name": "proxies",
     "provider": {"type": "python", "module": "chaosllm.proxy.probes",
                  "func": "list_proxies"}}
    ```
    """
    with proxy_api("list proxies", proxy_api_url, configuration, secrets) as api:
        _, payload = api.request("GET", "/proxies")
    return dict(payload or {})


@strict
def list_toxics(
    proxy: str,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> list[Any]:
    """The toxics active on `proxy`, as Toxiproxy describes them.

    ```json
    {"type": "probe", "name": "database-toxics",
     "provider": {"type": "python", "module": "chaosllm.proxy.probes",
                  "func": "list_toxics", "arguments": {"proxy": "postgres"}},
     "tolerance": []}
    ```
    """
    with proxy_api(f"list toxics of proxy {proxy}", proxy_api_url, configuration, secrets) as api:
        _, payload = api.request("GET", path("proxies", proxy, "toxics"))
    return list(payload or [])


@strict
def proxy_enabled(
    proxy: str,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when `proxy` is listening (not partitioned).

    ```json
    {"type": "probe", "name": "database-reachable",
     "provider": {"type": "python", "module": "chaosllm.proxy.probes",
                  "func": "proxy_enabled", "arguments": {"proxy": "postgres"}},
     "tolerance": true}
    ```
    """
    with proxy_api(f"read proxy {proxy}", proxy_api_url, configuration, secrets) as api:
        _, payload = api.request("GET", path("proxies", proxy))
    return bool(payload.get("enabled"))
