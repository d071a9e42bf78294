"""The HTTP API, shaped like Toxiproxy's so that its clients work unchanged.

A small HTTP/1.1 server (keep-alive, JSON bodies) on the same event loop as
the proxies. Routes::

    GET    /version                          GET/POST /proxies
    POST   /populate                         POST     /reset
    GET/POST/PATCH/DELETE /proxies/{name}
    GET/POST /proxies/{name}/toxics
    GET/POST/PATCH/DELETE /proxies/{name}/toxics/{toxic}
    GET    /proxies/{name}/stats             (chaosllm only: what the faults did)

Errors are ``{"error": "...", "status": 404}``, as Toxiproxy sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import unquote, urlsplit

from chaosllm import __version__
from chaosllm.proxy._server import ApiError, Collection

__all__ = ["serve_api", "handle"]

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            413: "Payload Too Large", 500: "Internal Server Error"}
_MAX_BODY = 1 << 20


def handle(collection: Collection, method: str, path: str, body: Any) -> tuple[int, Any]:
    """Route one request; returns ``(status, JSON-able payload or None)``."""
    parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/") if p]
    if parts == ["version"] and method == "GET":
        return 200, {"version": f"chaosllm-{__version__}"}
    if parts == ["reset"] and method == "POST":
        collection.reset()
        return 204, None
    if parts == ["populate"] and method == "POST":
        return 201, {"proxies": [p.to_json() for p in collection.populate(body)]}
    if not parts or parts[0] != "proxies":
        raise ApiError(404, f"no such route: {method} {path}")
    if len(parts) == 1:
        if method == "GET":
            return 200, {name: p.to_json() for name, p in collection.proxies.items()}
        if method == "POST":
            return 201, collection.create(body).to_json()
    elif len(parts) == 2:
        name = parts[1]
        if method == "GET":
            return 200, collection.get(name).to_json()
        if method in ("POST", "PATCH"):
            return 200, collection.update(name, body).to_json()
        if method == "DELETE":
            collection.delete(name)
            return 204, None
    elif len(parts) == 3 and parts[2] == "toxics":
        name = parts[1]
        if method == "GET":
            return 200, [t.to_json() for t in collection.get(name).toxics.values()]
        if method == "POST":
            return 200, collection.add_toxic(name, body).to_json()
    elif len(parts) == 3 and parts[2] == "stats":
        if method == "GET":
            return 200, collection.get(parts[1]).stats()
    elif len(parts) == 4 and parts[2] == "toxics":
        name, toxic = parts[1], parts[3]
        if method == "GET":
            return 200, collection.get_toxic(name, toxic).to_json()
        if method in ("POST", "PATCH"):
            return 200, collection.update_toxic(name, toxic, body).to_json()
        if method == "DELETE":
            collection.remove_toxic(name, toxic)
            return 204, None
    else:
        raise ApiError(404, f"no such route: {method} {path}")
    raise ApiError(405, f"method {method} not allowed on {path}")


def _response(status: int, payload: Any, keep_alive: bool) -> bytes:
    body = b"" if payload is None else json.dumps(payload).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    if payload is not None:
        head.append("Content-Type: application/json")
    head.append(f"Content-Length: {len(body)}")
    head.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _serve_client(
    collection: Collection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in lines[1:]:
                key, sep, value = line.partition(":")
                if sep:
                    headers[key.strip().lower()] = value.strip()
            keep_alive = headers.get("connection", "").lower() != "close" and version != "HTTP/1.0"
            length = int(headers.get("content-length") or 0)
            if length > _MAX_BODY:
                writer.write(_response(413, {"error": "body too large", "status": 413}, False))
                return
            if length and headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            raw = await reader.readexactly(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
                status, payload = handle(collection, method.upper(), target, body)
            except json.JSONDecodeError as exc:
                status, payload = 400, {"error": f"bad request body: {exc}", "status": 400}
            except ApiError as exc:
                status, payload = exc.status, {"error": str(exc), "status": exc.status}
            writer.write(_response(status, payload, keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve_api(collection: Collection, host: str, port: int) -> asyncio.Server:
    """Start the API server; the caller keeps the loop running."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_client(collection, reader, writer)

    return await asyncio.start_server(client, host, port, reuse_address=True)
