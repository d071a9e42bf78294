"""Network faults through the fault proxy: latency, bandwidth, black holes,
resets and partitions, and, on a proxy in HTTP mode, HTTP and streaming
faults (status answers, a held first byte, stalled, cut, corrupted or slow
event streams).

The actions speak Toxiproxy's documented API only, so they drive
``chaosllm proxy serve`` or a real Toxiproxy server (set ``proxy_api_url``).
Every fault has a duration and is written to the fault ledger, so that
``chaosllm cleanup`` removes it. The request carries ``ttl_ms``, so that
chaosllm's server ends the fault by itself when it expires, even if the
``chaos`` process is killed; a server that ignores it (Toxiproxy) gets a
detached healer that removes the fault instead.
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.proxy import path, proxy_api, resolve_api_url
from chaosllm.arguments import strict
from chaosllm.dry_run import Planned
from chaosllm.errors import FaultFailed, InvalidArgument
from chaosllm.faults import Ledger, fault_handle, fault_seconds, restore_fault
from chaosllm.proxy._guard import before_fault, before_reset
from chaosllm.proxy._http_actions import (
    inject_corrupt_event,
    inject_first_byte_delay,
    inject_http_status,
    inject_slow_stream,
    inject_stream_cut,
    inject_stream_stall,
)
from chaosllm.proxy._inject import (
    check_address,
    delete_toxic,
    disable,
    disabled_entry,
    enable,
    millis,
    toxic_action,
    toxic_entry,
)
from chaosllm.proxy._outcome import partition_applied, partition_ended, reset_outcome, toxic_ended
from chaosllm.redaction import redact_url

__all__ = [
    "create_proxy",
    "delete_proxy",
    "inject_latency",
    "inject_bandwidth_limit",
    "inject_timeout",
    "inject_reset_peer",
    "inject_toxic",
    "inject_http_status",
    "inject_first_byte_delay",
    "inject_stream_stall",
    "inject_stream_cut",
    "inject_corrupt_event",
    "inject_slow_stream",
    "remove_toxic",
    "disable_proxy",
    "enable_proxy",
    "reset_proxies",
]

ROLLBACKS = {
    "inject_latency": "remove_toxic",
    "inject_bandwidth_limit": "remove_toxic",
    "inject_timeout": "remove_toxic",
    "inject_reset_peer": "remove_toxic",
    "inject_toxic": "remove_toxic",
    "inject_http_status": "remove_toxic",
    "inject_first_byte_delay": "remove_toxic",
    "inject_stream_stall": "remove_toxic",
    "inject_stream_cut": "remove_toxic",
    "inject_corrupt_event": "remove_toxic",
    "inject_slow_stream": "remove_toxic",
    "disable_proxy": "enable_proxy",
}

TOXIC_TYPES = ("latency", "bandwidth", "timeout", "reset_peer", "slow_close", "slicer",
               "limit_data")


@strict
def create_proxy(
    name: str,
    listen: str,
    upstream: str,
    enabled: bool = True,
    mode: str = "tcp",
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a proxy from `listen` to `upstream` (both "host:port").

    `mode` "tcp" (the default) relays bytes and takes the TCP toxics;
    "http" relays HTTP/1.1 requests one by one and takes the HTTP faults
    (`inject_http_status`, `inject_first_byte_delay`, the stream faults);
    only chaosllm's proxy has it. Creating a proxy that already exists with
    the same upstream returns it unchanged. Port 0 in `listen` picks a free
    port; the result shows it.

    ```json
    {"type": "action", "name": "proxy-postgres",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "create_proxy",
                  "arguments": {"name": "postgres", "listen": "127.0.0.1:15432",
                                "upstream": "127.0.0.1:5432"}}}
    ```
    """
    check_address(listen, "listen")
    check_address(upstream, "upstream")
    if mode not in ("tcp", "http"):
        raise InvalidArgument(f"mode must be tcp or http, got {mode!r}")
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    planned = Planned("proxy-create", name, f"proxy {name}", {"proxy": name, "listen": listen,
                                                               "upstream": upstream})  # fmt: skip
    early = before_fault("create_proxy", planned, url, (configuration, secrets))
    if early is not None:
        return early
    body: dict[str, Any] = {"name": name, "listen": listen, "upstream": upstream,
                            "enabled": bool(enabled)}
    if mode != "tcp":
        body["mode"] = mode
    with proxy_api("create proxy " + name, url) as api:
        status, payload = api.request("POST", "/proxies", body, expect=(409,))
        if status == 409:
            _, payload = api.request("GET", path("proxies", name))
            if payload.get("upstream") != upstream:
                raise FaultFailed(
                    f"could not create proxy {name} through the proxy API {api.shown}: it "
                    f"already exists with upstream {payload.get('upstream')}, not {upstream}"
                )
    return dict(payload)


@strict
def delete_proxy(
    name: str,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Delete a proxy and drop its connections. A missing proxy is `removed: false`.

    ```json
    {"type": "action", "name": "unproxy-postgres",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "delete_proxy", "arguments": {"name": "postgres"}}}
    ```
    """
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    planned = Planned("proxy-delete", name, f"proxy {name}", {"proxy": name})
    early = before_fault("delete_proxy", planned, url, (configuration, secrets))
    if early is not None:
        return early
    with proxy_api("delete proxy " + name, url) as api:
        status, _ = api.request("DELETE", path("proxies", name), expect=(404,))
    return {"removed": status != 404, "name": name}


def _remove_toxic_entry(entry: dict[str, Any]) -> bool:
    """The ledger's restorer of a toxic (id "proxy.toxic")."""
    state = entry["state"]
    with proxy_api(f"remove toxic {state['name']}", state["proxy_api_url"]) as api:
        return delete_toxic(api, state["proxy"], state["name"])


@toxic_action
def inject_latency(latency: str = "500ms", jitter: str = "0ms") -> dict[str, Any]:
    """Delay every chunk by `latency` ± `jitter` for `duration`.

    ```json
    {"type": "action", "name": "slow-database",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_latency",
                  "arguments": {"proxy": "postgres", "latency": "500ms",
                                "duration": "60s"}}}
    ```
    """
    attributes = {"latency": millis(latency, "latency"), "jitter": millis(jitter, "jitter")}
    return {"type": "latency", "attributes": attributes}


@toxic_action
def inject_bandwidth_limit(rate_kbps: int) -> dict[str, Any]:
    """Limit throughput to `rate_kbps` kilobytes per second (Toxiproxy's `rate`).

    ```json
    {"type": "action", "name": "thin-pipe-to-redis",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_bandwidth_limit",
                  "arguments": {"proxy": "redis", "rate_kbps": 64, "duration": "30s"}}}
    ```
    """
    if isinstance(rate_kbps, bool) or not isinstance(rate_kbps, int) or rate_kbps <= 0:
        raise InvalidArgument(f"rate_kbps must be a positive integer, got {rate_kbps!r}")
    return {"type": "bandwidth", "attributes": {"rate": rate_kbps}}


@toxic_action
def inject_timeout(timeout: str = "0s") -> dict[str, Any]:
    """Black-hole the stream: data is swallowed, and after `timeout` (unless
    "0s") the connection is closed.

    ```json
    {"type": "action", "name": "blackhole-rabbitmq",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_timeout",
                  "arguments": {"proxy": "rabbitmq", "timeout": "5s", "duration": "30s"}}}
    ```
    """
    return {"type": "timeout", "attributes": {"timeout": millis(timeout, "timeout")}}


@toxic_action
def inject_reset_peer(timeout: str = "0s") -> dict[str, Any]:
    """Reset connections (TCP RST, "connection reset by peer") after `timeout`.

    ```json
    {"type": "action", "name": "reset-redis-connections",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_reset_peer",
                  "arguments": {"proxy": "redis", "timeout": "100ms", "duration": "20s"}}}
    ```
    """
    return {"type": "reset_peer", "attributes": {"timeout": millis(timeout, "timeout")}}


@toxic_action
def inject_toxic(type: str, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add any Toxiproxy toxic with its raw attributes (integers, Toxiproxy's
    units): `slow_close` (`delay` ms), `slicer` (`average_size`,
    `size_variation`, `delay` µs), `limit_data` (`bytes`), and the others.

    ```json
    {"type": "action", "name": "truncate-responses",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_toxic",
                  "arguments": {"proxy": "redis", "type": "limit_data",
                                "attributes": {"bytes": 1024}, "duration": "30s"}}}
    ```
    """
    if type not in TOXIC_TYPES:
        raise InvalidArgument(f"type must be one of {', '.join(TOXIC_TYPES)}, got {type!r}")
    clean: dict[str, int] = {}
    for key, value in (attributes or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"attribute {key} must be a non-negative integer, got {value!r}")
        clean[str(key)] = value
    return {"type": type, "attributes": clean}


@strict
def remove_toxic(
    proxy: str,
    name: str,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Remove a toxic now. Data it was holding is delivered, not dropped.
    A toxic that is already gone is `removed: false`.

    ```json
    {"type": "action", "name": "heal-database-latency",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "remove_toxic",
                  "arguments": {"proxy": "postgres", "name": "latency-postgres"}}}
    ```
    """
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    result = restore_fault(toxic_entry(url, proxy, name))
    if result["removed"]:
        removed = bool(result["result"])
    else:
        with proxy_api(f"remove toxic {name}", url) as api:
            status, _ = api.request("GET", path("proxies", proxy), expect=(404,))
            removed = status != 404 and delete_toxic(api, proxy, name)
    return toxic_ended({"proxy": proxy}, url, proxy, name, removed)


@strict
def disable_proxy(
    proxy: str,
    duration: str | None = "30s",
    name: str | None = None,
    allow_unbounded: bool = False,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Partition: stop the proxy listening and drop its connections for `duration`.

    ```json
    {"type": "action", "name": "partition-database",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "disable_proxy",
                  "arguments": {"proxy": "postgres", "duration": "30s"}}}
    ```
    """
    seconds = fault_seconds(duration, allow_unbounded, "proxy fault")
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    planned = Planned("proxy-partition", name or f"partition-{proxy}", f"proxy {proxy}",
                      {"proxy": proxy, "duration": duration})
    early = before_fault("disable_proxy", planned, url, (configuration, secrets))
    if early is not None:
        return early
    new = disable(proxy, seconds, url)
    handle = fault_handle("proxy-partition", name or f"partition-{proxy}", f"proxy {proxy}",
                          {"proxy": proxy, "duration": duration, "proxy_api_url": redact_url(url),
                           "already_present": not new}, seconds)
    return partition_applied(handle, url, proxy)


def _enable_entry(entry: dict[str, Any]) -> bool:
    """The ledger's restorer of a partition (id "proxy.partition")."""
    state = entry["state"]
    with proxy_api(f"enable proxy {state['proxy']}", state["proxy_api_url"]) as api:
        return enable(api, state["proxy"])


@strict
def enable_proxy(
    proxy: str,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """End a partition: the proxy listens again. `removed: false` if it was enabled.

    ```json
    {"type": "action", "name": "heal-partition",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "enable_proxy", "arguments": {"proxy": "postgres"}}}
    ```
    """
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    result = restore_fault(disabled_entry(url, proxy))
    if result["removed"]:
        removed = bool(result["result"])
    else:
        with proxy_api(f"enable proxy {proxy}", url) as api:
            removed = enable(api, proxy)
    return partition_ended({"proxy": proxy}, url, proxy, removed)


@strict
def reset_proxies(
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Enable every proxy and remove every toxic (Toxiproxy's `POST /reset`).

    ```json
    {"type": "action", "name": "reset-network",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "reset_proxies"}}
    ```
    """
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    early = before_reset(url, (configuration, secrets))
    if early is not None:
        return early
    with proxy_api("reset proxies", url) as api:
        _, before = api.request("GET", "/proxies")
        api.request("POST", "/reset")
    ledger = Ledger()
    shown = redact_url(url)  # as the ledger ids name the API
    prefixes = (f"proxy-toxic:{shown}/", f"proxy-disabled:{shown}/")
    cleared = [key for key in ledger.entries() if key.startswith(prefixes)]
    for key in cleared:
        restore_fault(key)
    result = {"reset": True, "proxy_api_url": shown, "faults_cleared": len(cleared)}
    return reset_outcome(result, url, before)
