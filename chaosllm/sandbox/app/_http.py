"""The threaded loopback HTTP server under every sandbox process (services and the front)."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Responder", "serve_http"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


Responder = Callable[[str, str, bytes, str], tuple[int, bytes, str]]


def serve_http(port: int, respond: Responder) -> None:
    """Serve GET and POST on 127.0.0.1:``port`` until the process ends.

    ``respond(method, path, body, content_type)`` returns the status, the
    body and its content type."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "application/json")
            status, body, out_type = respond(method, self.path, raw, ctype)
            self.send_response(status)
            self.send_header("Content-Type", out_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._reply("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._reply("POST")

        def log_message(self, *args: Any) -> None:
            pass

    with _Server(("127.0.0.1", port), Handler) as server:
        server.serve_forever(poll_interval=0.2)
