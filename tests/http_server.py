"""A small HTTP server of a test's own, on a free loopback port, served in a thread."""

from __future__ import annotations

import http.server
import threading


class ThreadedHTTPServer:
    """Serve ``handler`` (a ``BaseHTTPRequestHandler`` class) until :meth:`close`."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
