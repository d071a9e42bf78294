"""Proxies and their collection: listen, accept, connect upstream, hold toxics.

Everything runs on one event loop, the HTTP API included, so a toxic change
is applied to every live connection between two reads, with no locking.

Beyond Toxiproxy's fields, a toxic (or a disable) may carry ``ttl_ms``: the
server then removes the toxic (or re-enables the proxy) itself when it
expires. Toxiproxy ignores the unknown field, so clients stay compatible.
Each proxy keeps what its toxics and its last partition did
(:mod:`chaosllm.proxy._stats`), removed toxics included, for :meth:`Proxy.stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from chaosllm.proxy._address import is_ip, parse_address
from chaosllm.proxy._http import HttpLink
from chaosllm.proxy._http_faults import HttpFault, make_fault
from chaosllm.proxy._link import Link, tune_socket
from chaosllm.proxy._stats import PartitionStats
from chaosllm.proxy._toxics import Toxic, ToxicError

__all__ = ["Proxy", "Collection", "ApiError", "split_address"]

UPSTREAM_CONNECT_TIMEOUT = 2.0
MODES = ("tcp", "http")
log = logging.getLogger("chaosllm.proxy")


class ApiError(Exception):
    """An API failure with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def split_address(address: Any, what: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 as ``[::1]:port``) -> ``(host, port)``; a bad one is a 400."""
    try:
        return parse_address(address, what)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


class Proxy:
    """One listening address relayed to one upstream address."""

    def __init__(self, name: str, listen: str, upstream: str, mode: str = "tcp") -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.mode = mode
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self.links: set[Link | HttpLink] = set()
        self.listener: socket.socket | None = None
        self.reenable: asyncio.TimerHandle | None = None
        self.disabled_until: float | None = None
        # The final figures of removed toxics, by name, and of the last partition.
        # Kept as objects: a stream stall still in progress when its fault is
        # removed counts when it ends, so the totals are read, not copied.
        self.removed_toxics: dict[str, tuple[Toxic, float, bool]] = {}
        self.partition: PartitionStats | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "mode": self.mode,
            "toxics": [toxic.to_json() for toxic in self.toxics.values()],
        }
        if self.disabled_until is not None:
            data["disabled_until"] = self.disabled_until
        return data

    def stats(self) -> dict[str, Any]:
        """What each toxic (live or removed) and the last partition did."""
        return {
            "toxics": {name: toxic.to_json() for name, toxic in self.toxics.items()},
            "removed_toxics": {name: {**toxic.to_json(), "removed_at": at, "expired": expired}
                               for name, (toxic, at, expired) in self.removed_toxics.items()},
            "partition": self.partition.to_json() if self.partition is not None else None,
        }

    # -- listening ------------------------------------------------------------
    def start(self) -> None:
        if self.enabled:
            return
        host, port = split_address(self.listen, "listen")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            if not is_ip(host):
                host, family = socket.gethostbyname(host), socket.AF_INET
        except OSError as exc:
            raise ApiError(400, f"could not resolve {host} to listen for proxy {self.name}: {exc}") from None
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(512)
        except OSError as exc:
            sock.close()
            raise ApiError(
                500, f"could not listen on {self.listen} for proxy {self.name}: {exc}"
            ) from None
        sock.setblocking(False)
        bound_port = sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.listen = f"{shown}:{bound_port}"
        self.listener = sock
        self.enabled = True
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_accept)

    def stop(self) -> None:
        """Stop listening and drop every connection, as Toxiproxy does."""
        if self.listener is not None:
            asyncio.get_running_loop().remove_reader(self.listener.fileno())
            self.listener.close()
            self.listener = None
        self.enabled = False
        for link in list(self.links):
            link.close()

    def _on_accept(self) -> None:
        assert self.listener is not None
        for _ in range(64):
            try:
                client, _addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            tune_socket(client)
            asyncio.get_running_loop().create_task(self._connect(client))

    async def dial_upstream(self) -> socket.socket:
        """A new connection to the upstream address (OSError, ApiError or a timeout if not)."""
        loop = asyncio.get_running_loop()
        host, port = split_address(self.upstream, "upstream")
        if not is_ip(host):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            host = str(infos[0][4][0])
        upstream = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            tune_socket(upstream)
            await asyncio.wait_for(loop.sock_connect(upstream, (host, port)),
                                   UPSTREAM_CONNECT_TIMEOUT)
        except BaseException:
            upstream.close()
            raise
        return upstream

    async def _connect(self, client: socket.socket) -> None:
        try:
            upstream = await self.dial_upstream()
        except (OSError, ApiError, asyncio.TimeoutError):
            client.close()
            return
        if not self.enabled:
            upstream.close()
            client.close()
            return
        link = (HttpLink if self.mode == "http" else Link)(self, client, upstream)
        self.links.add(link)
        link.start(list(self.toxics.values()))

    # -- toxics ---------------------------------------------------------------
    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self.toxics:
            raise ApiError(409, f"toxic already exists: {toxic.name}")
        if isinstance(toxic, HttpFault) != (self.mode == "http"):
            kind = "an HTTP fault" if isinstance(toxic, HttpFault) else "a TCP toxic"
            raise ApiError(400, f"{toxic.type} is {kind}, and proxy {self.name} is in "
                                f"{self.mode.upper()} mode (create the proxy with mode "
                                f"{'http' if isinstance(toxic, HttpFault) else 'tcp'})")
        self.toxics[toxic.name] = toxic
        for link in list(self.links):
            link.add_toxic(toxic)

    def remove_toxic(self, name: str, expired: bool = False) -> Toxic:
        toxic = self.toxics.pop(name, None)
        if toxic is None:
            raise ApiError(404, f"toxic not found: {name}")
        for link in list(self.links):
            link.remove_toxic(toxic)
        self.removed_toxics[name] = (toxic, time.time(), expired)
        return toxic

    def disable(self) -> None:
        """Stop the proxy as a partition, counting the connections it drops."""
        if self.enabled:
            self.partition = PartitionStats(len(self.links))
        self.stop()

    def enable(self, expired: bool = False) -> None:
        if not self.enabled and self.partition is not None:
            self.partition.ended(expired)
        self.start()

    def reset_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)


class Collection:
    """Every proxy of the server, by name, and the operations of the API."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.expiry: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError(404, f"proxy not found: {name}")
        return proxy

    def create(self, body: Any, replace: bool = False) -> Proxy:
        if not isinstance(body, dict):
            raise ApiError(400, "proxy must be a JSON object")
        name, upstream = body.get("name"), body.get("upstream")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "missing required field: name")
        if not isinstance(upstream, str) or not upstream:
            raise ApiError(400, "missing required field: upstream")
        listen = body.get("listen") or "127.0.0.1:0"
        split_address(listen, "listen")
        split_address(upstream, "upstream")
        mode = body.get("mode") or "tcp"
        if mode not in MODES:
            raise ApiError(400, f"mode must be tcp or http, got {mode!r}")
        if name in self.proxies:
            existing = self.proxies[name]
            if not replace:
                raise ApiError(409, f"proxy already exists: {name}")
            if (existing.upstream == upstream and existing.mode == mode
                    and _same_listen(existing.listen, listen)):
                return existing
            self.delete(name)
        proxy = Proxy(name, listen, upstream, mode)
        if body.get("enabled", True):
            proxy.start()
        self.proxies[name] = proxy
        log.info("proxy %s created: %s -> %s", name, proxy.listen, upstream)
        return proxy

    def populate(self, body: Any) -> list[Proxy]:
        if isinstance(body, dict) and isinstance(body.get("proxies"), list):
            body = body["proxies"]
        if not isinstance(body, list):
            raise ApiError(400, "populate expects a list of proxies")
        return [self.create(item, replace=True) for item in body]

    def update(self, name: str, body: Any) -> Proxy:
        proxy = self.get(name)
        if not isinstance(body, dict):
            raise ApiError(400, "proxy update must be a JSON object")
        ttl = _ttl(body)
        listen, upstream = body.get("listen"), body.get("upstream")
        moved = (listen and not _same_listen(proxy.listen, listen)) or (
            upstream and upstream != proxy.upstream)
        if moved:
            if upstream:
                split_address(upstream, "upstream")
                proxy.upstream = upstream
            was_enabled = proxy.enabled
            proxy.stop()
            if listen:
                split_address(listen, "listen")
                proxy.listen = listen
            if was_enabled:
                proxy.start()
        if "enabled" in body:
            self._cancel_reenable(proxy)
            if body["enabled"]:
                proxy.enable()
            else:
                proxy.disable()
                if ttl is not None:
                    proxy.disabled_until = time.time() + ttl
                    proxy.reenable = asyncio.get_running_loop().call_later(
                        ttl, self._reenable, proxy)
            log.info("proxy %s %s", name, "enabled" if proxy.enabled else "disabled")
        return proxy

    def _reenable(self, proxy: Proxy) -> None:
        proxy.reenable = None
        proxy.disabled_until = None
        if self.proxies.get(proxy.name) is proxy:
            with contextlib.suppress(ApiError):
                proxy.enable(expired=True)
            log.info("proxy %s enabled at the end of its partition", proxy.name)

    @staticmethod
    def _cancel_reenable(proxy: Proxy) -> None:
        if proxy.reenable is not None:
            proxy.reenable.cancel()
            proxy.reenable = None
        proxy.disabled_until = None

    def delete(self, name: str) -> None:
        proxy = self.get(name)
        self._cancel_reenable(proxy)
        for toxic_name in list(proxy.toxics):
            self._cancel_expiry(name, toxic_name)
        proxy.stop()
        del self.proxies[name]
        log.info("proxy %s deleted", name)

    def reset(self) -> None:
        for proxy in self.proxies.values():
            self._cancel_reenable(proxy)
            for toxic_name in list(proxy.toxics):
                self._cancel_expiry(proxy.name, toxic_name)
            proxy.reset_toxics()
            proxy.enable()
        log.info("reset: every proxy enabled, every toxic removed")

    def add_toxic(self, name: str, body: Any) -> Toxic:
        proxy = self.get(name)
        try:
            toxic = make_fault(body)
        except ToxicError as exc:
            raise ApiError(400, str(exc)) from None
        ttl = _ttl(body)
        proxy.add_toxic(toxic)
        if ttl is not None:
            toxic.expires_at = time.time() + ttl
            self.expiry[(name, toxic.name)] = asyncio.get_running_loop().call_later(
                ttl, self._expire, name, toxic)
        log.info("proxy %s: toxic %s added %s", name, toxic.name, toxic.to_json())
        return toxic

    def update_toxic(self, name: str, toxic_name: str, body: Any) -> Toxic:
        toxic = self.get_toxic(name, toxic_name)
        if not isinstance(body, dict):
            raise ApiError(400, "toxic update must be a JSON object")
        try:
            toxic.update(body.get("toxicity"), body.get("attributes"))
        except ToxicError as exc:
            raise ApiError(400, str(exc)) from None
        return toxic

    def get_toxic(self, name: str, toxic_name: str) -> Toxic:
        proxy = self.get(name)
        toxic = proxy.toxics.get(toxic_name)
        if toxic is None:
            raise ApiError(404, f"toxic not found: {toxic_name}")
        return toxic

    def remove_toxic(self, name: str, toxic_name: str) -> None:
        self._cancel_expiry(name, toxic_name)
        self.get(name).remove_toxic(toxic_name)
        log.info("proxy %s: toxic %s removed", name, toxic_name)

    def _expire(self, name: str, toxic: Toxic) -> None:
        self.expiry.pop((name, toxic.name), None)
        proxy = self.proxies.get(name)
        if proxy is not None and proxy.toxics.get(toxic.name) is toxic:
            proxy.remove_toxic(toxic.name, expired=True)
            log.info("proxy %s: toxic %s expired", name, toxic.name)

    def _cancel_expiry(self, name: str, toxic_name: str) -> None:
        handle = self.expiry.pop((name, toxic_name), None)
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        for name in list(self.proxies):
            self.delete(name)


def _ttl(body: dict[str, Any]) -> float | None:
    value = body.get("ttl_ms")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ApiError(400, f"ttl_ms must be a non-negative number, got {value!r}")
    return float(value) / 1000.0


def _same_listen(current: str, requested: str) -> bool:
    """``127.0.0.1:0`` matches whatever port was bound for it."""
    if current == requested:
        return True
    host, port = split_address(requested, "listen")
    bound_host, _ = split_address(current, "listen")
    return port == 0 and host == bound_host
