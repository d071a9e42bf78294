"""HTTP/1.1 on the wire, as far as a proxy needs it: heads, framing and bodies.

A message head is read up to its blank line and parsed into a start line and
headers, keeping the original bytes so that an untouched message is forwarded
exactly as it came. The body's framing follows RFC 9112: chunked,
Content-Length, none, or (for a response only) until the connection closes.
:func:`body_pieces` walks a body and yields each piece twice, as it was on the
wire and as decoded data, so that a relay can copy the wire bytes while a
stream fault reads the data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

__all__ = ["Head", "MalformedHttp", "read_head", "request_framing", "response_framing",
           "body_pieces", "chunk", "LAST_CHUNK", "MAX_HEAD"]

MAX_HEAD = 64 * 1024
LAST_CHUNK = b"0\r\n\r\n"
_READ = 64 * 1024


class MalformedHttp(ValueError):
    """A message that is not HTTP/1.x as the proxy can relay it."""


@dataclass
class Head:
    """A request or response head: start line parts and headers, in order."""

    start: tuple[str, str, str]
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes = b""

    def get(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every ``name`` header, lower-cased."""
        lowered = name.lower()
        return {token.strip().lower() for key, value in self.headers if key.lower() == lowered
                for token in value.split(",") if token.strip()}

    def rebuilt(self, drop: tuple[str, ...] = (), add: tuple[tuple[str, str], ...] = ()) -> bytes:
        """The head with the ``drop`` headers removed and ``add`` appended."""
        dropped = {name.lower() for name in drop}
        lines = [" ".join(self.start)]
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() not in dropped]
        lines += [f"{k}: {v}" for k, v in add]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @property
    def keep_alive(self) -> bool:
        connection = self.tokens("connection")
        version = self.start[0] if self.start[0].startswith("HTTP/") else self.start[2]
        if version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """The next head, or None at a clean end of stream before any byte of it."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise MalformedHttp("the connection closed inside a message head") from None
    except asyncio.LimitOverrunError:
        raise MalformedHttp(f"a message head longer than {MAX_HEAD} bytes") from None
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise MalformedHttp("a message head that is not text") from None
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) != 3 or not (parts[0].startswith("HTTP/1.") or parts[2].startswith("HTTP/1.")):
        raise MalformedHttp(f"not an HTTP/1.x start line: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise MalformedHttp(f"a malformed header line: {line[:80]!r}")
        headers.append((name, value.strip()))
    return Head((parts[0], parts[1], parts[2]), headers, raw)


def _framing(head: Head) -> str | int | None:
    if "chunked" in head.tokens("transfer-encoding"):
        return "chunked"
    length = head.get("content-length")
    if length is None:
        return None
    if not length.isdigit():
        raise MalformedHttp(f"a Content-Length that is not a number: {length[:40]!r}")
    return int(length)


def request_framing(head: Head) -> str | int:
    """``"chunked"`` or the body's length (0 when it has none)."""
    framing = _framing(head)
    return 0 if framing is None else framing


def response_framing(head: Head, method: str) -> str | int:
    """``"chunked"``, a length, or ``"close"`` (the body runs to the end of the connection)."""
    status = head.start[1]
    if method == "HEAD" or status.startswith("1") or status in ("204", "304"):
        return 0
    framing = _framing(head)
    return "close" if framing is None else framing


async def body_pieces(reader: asyncio.StreamReader,
                      framing: str | int) -> AsyncIterator[tuple[bytes, bytes]]:
    """``(wire bytes, data)`` for each piece of a body, until its end."""
    if framing == "chunked":
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise MalformedHttp(f"a malformed chunk size: {size_text[:20]!r}") from None
            if size == 0:
                trailer = await reader.readuntil(b"\r\n")
                while trailer != b"\r\n":
                    size_line += trailer
                    trailer = await reader.readuntil(b"\r\n")
                yield size_line + trailer, b""
                return
            data = await reader.readexactly(size + 2)
            yield size_line + data, data[:-2]
    elif framing == "close":
        while data := await reader.read(_READ):
            yield data, data
    else:
        left = int(framing)
        while left > 0:
            data = await reader.read(min(left, _READ))
            if not data:
                raise MalformedHttp("the connection closed inside a message body")
            left -= len(data)
            yield data, data


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
