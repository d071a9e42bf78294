"""One client connection of a proxy in HTTP mode: requests relayed one by one.

The link reads each request head from the client, picks the proxy's HTTP
faults that hit it, and either answers itself (``http_status``) or forwards
the request on its upstream connection (opened again if a fault or the server
closed it) and relays the response. A response without stream faults is
copied byte for byte. A server-sent event stream with stream faults is cut at
its blank lines and sent on as one chunk per event, so that a stall, a delay,
a cut or a corrupted event lands between whole events. Keep-alive follows the
two sides' ``Connection`` headers. A message the proxy cannot parse closes
the connection; it never stops the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from typing import TYPE_CHECKING

from chaosllm.proxy._http_faults import HttpFault, HttpStatus
from chaosllm.proxy._http_wire import (
    LAST_CHUNK,
    MAX_HEAD,
    Head,
    MalformedHttp,
    body_pieces,
    chunk,
    read_head,
    request_framing,
    response_framing,
)
from chaosllm.proxy._toxics import Toxic

if TYPE_CHECKING:
    from chaosllm.proxy._server import Proxy

__all__ = ["HttpLink"]

log = logging.getLogger("chaosllm.proxy")
_HOP = ("content-length", "transfer-encoding")


class _Cut(Exception):
    """A stream fault resets the connection."""


class HttpLink:
    """A client connection and its (re-openable) upstream connection."""

    def __init__(self, proxy: Proxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = upstream
        self.closed = False
        self.task: asyncio.Task[None] | None = None
        self.up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.writer: asyncio.StreamWriter | None = None

    # The proxy reads its faults per request, so a link keeps no per-fault state.
    def start(self, toxics: list[Toxic]) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def add_toxic(self, toxic: Toxic) -> None:
        """Faults are read per request; nothing to do on a live connection."""

    def remove_toxic(self, toxic: Toxic) -> None:
        """Faults are read per request; nothing to do on a live connection."""

    def reset(self) -> None:
        """Close the client connection with a TCP RST (SO_LINGER 0)."""
        with contextlib.suppress(OSError):
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._drop_upstream()
        if self.writer is not None:
            self.writer.transport.abort()
        self.client.close()
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.proxy.links.discard(self)

    def _drop_upstream(self) -> None:
        if self.up is not None:
            self.up[1].transport.abort()
            self.up = None
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.up is None:
            if self.upstream is None:
                self.upstream = await self.proxy.dial_upstream()
            self.up = await asyncio.open_connection(sock=self.upstream, limit=MAX_HEAD)
        return self.up

    # -- the exchange loop -----------------------------------------------------
    async def _run(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=self.client, limit=MAX_HEAD)
            self.writer = writer
            while not self.closed:
                request = await read_head(reader)
                if request is None or not await self._exchange(request, reader, writer):
                    break
        except _Cut:
            self.reset()
        except (MalformedHttp, OSError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as exc:
            log.info("proxy %s: HTTP connection closed: %s", self.proxy.name, exc)
        except asyncio.CancelledError:
            pass
        finally:
            self.close()

    async def _exchange(self, request: Head, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> bool:
        """One request and its response; False when the connection must close."""
        faults = [t for t in self.proxy.toxics.values()
                  if isinstance(t, HttpFault) and t.hits(request)]
        for fault in faults:
            fault.stats.requests += 1
        answer = next((f for f in faults if isinstance(f, HttpStatus)), None)
        if answer is not None:
            async for _wire, _data in body_pieces(reader, request_framing(request)):
                pass
            writer.write(answer.response())
            await writer.drain()
            return request.keep_alive
        up_reader, up_writer = await self._upstream()
        up_writer.write(request.raw)
        async for wire, _data in body_pieces(reader, request_framing(request)):
            up_writer.write(wire)
        await up_writer.drain()
        started = time.monotonic()
        response = await read_head(up_reader)
        while response is not None and response.start[1].startswith("1") \
                and response.start[1] != "101":
            writer.write(response.raw)
            response = await read_head(up_reader)
        if response is None:
            raise MalformedHttp("the upstream closed without a response")
        await self._hold_first_byte(faults, started)
        framing = response_framing(response, request.start[0])
        streamed = "text/event-stream" in (response.get("content-type") or "")
        stream_faults = [f for f in faults if f.streams]
        if not streamed:
            for fault in stream_faults:
                fault.stats.not_streamed += 1
            stream_faults = []
        if stream_faults and framing != 0:
            await self._relay_events(response, framing, up_reader, writer, stream_faults)
        else:
            writer.write(response.raw)
            async for wire, _data in body_pieces(up_reader, framing):
                writer.write(wire)
                await writer.drain()
        await writer.drain()
        if framing == "close" or not response.keep_alive:
            self._drop_upstream()
        return request.keep_alive and framing != "close" and response.start[1] != "101"

    async def _hold_first_byte(self, faults: list[HttpFault], started: float) -> None:
        delays = [f for f in faults if f.type == "first_byte_delay"]
        for fault in delays:
            await asyncio.sleep(fault.attributes["delay"] / 1000.0)
        for fault in delays:
            fault.stats.held(time.monotonic() - started)

    async def _relay_events(self, response: Head, framing: str | int,
                            up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            faults: list[HttpFault]) -> None:
        """Send the stream on one event per chunk, through the stream faults."""
        writer.write(response.rebuilt(drop=_HOP, add=(("Transfer-Encoding", "chunked"),)))
        buffer, index = b"", 0
        async for _wire, data in body_pieces(up_reader, framing):
            buffer += data.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                index += 1
                if await self._send_event(index, event + b"\n\n", writer, faults):
                    # Cut cleanly: the stream ends here; the rest of the
                    # upstream's answer is dropped with its connection.
                    self._drop_upstream()
                    writer.write(LAST_CHUNK)
                    return
        if buffer:
            writer.write(chunk(buffer))
        writer.write(LAST_CHUNK)

    async def _send_event(self, index: int, event: bytes, writer: asyncio.StreamWriter,
                          faults: list[HttpFault]) -> bool:
        """Send one event through the faults; True when a fault cuts the stream after it."""
        for fault in faults:
            delay = fault.delay_before(index)
            if delay > 0:
                await writer.drain()
                await asyncio.sleep(delay)
                fault.stats.held(delay)
                fault.stats.events += 1
        for fault in faults:
            rewritten = fault.rewrite(index, event)
            if rewritten is not event:
                fault.stats.events += 1
                event = rewritten
        writer.write(chunk(event))
        cut = False
        for fault in faults:
            how = fault.cut_after(index)
            if how is not None:
                fault.stats.events += 1
                fault.stats.cut += 1
                if how == "reset":
                    await writer.drain()
                    raise _Cut()
                cut = True
        return cut
