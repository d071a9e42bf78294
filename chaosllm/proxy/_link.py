"""One proxied connection: two directions, each relaying bytes on the event loop.

While a direction has no toxic and nothing scheduled, bytes go socket -> pipe
-> socket with ``splice(2)`` and never enter Python. Otherwise each chunk is
read, passed through the direction's toxic chain, and written when it is due.
Switching between the two paths never loses or reorders bytes: the fast path
only reads when its pipe is empty, and the toxic path falls back to the fast
path only once its schedule has drained. Removing a toxic flushes what it was
holding instead of dropping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, Any

from chaosllm.proxy._toxics import CLOSE, EOF, RESET, Toxic

if TYPE_CHECKING:
    from chaosllm.proxy._server import Proxy

__all__ = ["Link", "Direction", "tune_socket"]

_SPLICE = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
_PIPE_SIZE = 1 << 20
_READ_SIZE = 256 * 1024
_BULK = 64 * 1024
# Stop reading a source while this much is scheduled but not yet written.
_HIGH_WATER = 4 << 20
_F_SETPIPE_SZ = 1031


def tune_socket(sock: socket.socket) -> None:
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _pipe() -> tuple[int, int]:
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(w, _F_SETPIPE_SZ, _PIPE_SIZE)
    return r, w


class Direction:
    """Bytes from ``src`` to ``dst`` through the toxics of one stream."""

    def __init__(self, link: Link, stream: str, src: socket.socket, dst: socket.socket) -> None:
        self.link = link
        self.loop = link.loop
        self.stream = stream
        self.src, self.dst = src, dst
        self.src_fd, self.dst_fd = src.fileno(), dst.fileno()
        self.chain: list[tuple[Toxic, Any]] = []
        # (due, data, read at): the read time gives each toxic the hold it really added.
        self.pending: deque[tuple[float, Any, float]] = deque()
        self.pending_bytes = 0
        self.last_due = 0.0
        self.wbuf: memoryview | None = None
        self.pipe: tuple[int, int] | None = None
        self.in_pipe = 0
        self.reading = False
        self.writing = False
        self.eof = False
        self.done = False
        self.timer: asyncio.TimerHandle | None = None
        self.armed: dict[str, asyncio.TimerHandle] = {}

    # -- toxics ---------------------------------------------------------------
    def add_toxic(self, toxic: Toxic) -> None:
        # Toxicity is rolled once per connection, as Toxiproxy does.
        if toxic.toxicity < 1.0 and random.random() >= toxic.toxicity:
            return
        state = toxic.new_state()
        self.chain.append((toxic, state))
        toxic.stats.connections += 1
        toxic.attach(state, self)

    def remove_toxic(self, toxic: Toxic) -> None:
        for i, (item, state) in enumerate(self.chain):
            if item is toxic:
                del self.chain[i]
                toxic.detach(state, self)
                break
        else:
            return
        if not self.chain and self.pending:
            # Deliver what the removed toxics were holding, in order, now.
            now = self.loop.time()
            self.pending = deque((now, data, read) for _, data, read in self.pending)
            self.last_due = now
            self._process()

    def arm(self, toxic: Toxic, delay: float, reset: bool) -> None:
        self.disarm(toxic)
        self.armed[toxic.name] = self.loop.call_later(delay, self._cut, toxic, reset)

    def _cut(self, toxic: Toxic, reset: bool) -> None:
        if not self.link.closed:
            toxic.stats.cut += 1
        self.link.reset() if reset else self.link.close()

    def disarm(self, toxic: Toxic) -> None:
        handle = self.armed.pop(toxic.name, None)
        if handle is not None:
            handle.cancel()

    # -- reading --------------------------------------------------------------
    def start(self) -> None:
        self._resume_reading()

    def _resume_reading(self) -> None:
        # Never read while the pipe holds bytes: they must go out first.
        if not self.reading and not self.eof and not self.in_pipe and not self.link.closed:
            self.loop.add_reader(self.src_fd, self._on_readable)
            self.reading = True

    def _pause_reading(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.src_fd)
            self.reading = False

    def _on_readable(self) -> None:
        if self.chain or self.pending or self.wbuf is not None:
            self._read_chunk()
        else:
            self._splice_in()

    def _splice_in(self) -> None:
        if self.pipe is None:
            self.pipe = _pipe()
        # A big read suggests a bulk transfer: keep going without a trip
        # through the event loop. A small one is a message: return at once.
        for _ in range(16):
            try:
                n = os.splice(self.src_fd, self.pipe[1], _PIPE_SIZE, flags=_SPLICE)
            except BlockingIOError:
                return
            except OSError:
                self.link.close()
                return
            if n == 0:
                self._on_eof()
                return
            self.in_pipe += n
            self._drain_pipe()
            if self.in_pipe or n < _BULK:
                return

    def _drain_pipe(self) -> None:
        assert self.pipe is not None
        while self.in_pipe:
            try:
                n = os.splice(self.pipe[0], self.dst_fd, self.in_pipe, flags=_SPLICE)
            except BlockingIOError:
                self._pause_reading()
                self._want_write()
                return
            except OSError:
                self.link.close()
                return
            self.in_pipe -= n
        self._stop_writing()
        if self.pending:
            self._process()
        else:
            self._resume_reading()

    def _read_chunk(self) -> None:
        try:
            data = self.src.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.link.close()
            return
        if not data:
            self._on_eof()
            return
        self._feed([(self.loop.time(), data)])

    def _on_eof(self) -> None:
        self._pause_reading()
        self.eof = True
        self._feed([(self.loop.time(), EOF)])

    def _feed(self, items: list[tuple[float, Any]]) -> None:
        read_at = self.loop.time()
        for toxic, state in self.chain:
            toxic.stats.bytes += sum(len(data) for _, data in items if isinstance(data, bytes))
            items = toxic.on_data(state, items)
        delay = sum(toxic.close_delay for toxic, _ in self.chain)
        for due, data in items:
            if data is EOF:
                due += delay
            due = max(due, self.last_due)
            self.last_due = due
            self.pending.append((due, data, read_at))
            if isinstance(data, bytes):
                self.pending_bytes += len(data)
        if self.pending_bytes >= _HIGH_WATER:
            self._pause_reading()
        self._process()

    # -- writing --------------------------------------------------------------
    def _process(self) -> None:
        """Write every scheduled chunk that is due, then wait for the next."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.link.closed:
            return
        now = self.loop.time()
        while self.pending and self.wbuf is None and not self.in_pipe:
            due, data, read_at = self.pending[0]
            if due > now:
                self.timer = self.loop.call_at(due, self._process)
                break
            self.pending.popleft()
            if data is EOF:
                self._finish()
                return
            if data is CLOSE:
                self.link.close()
                return
            if data is RESET:
                self.link.reset()
                return
            self.pending_bytes -= len(data)
            for toxic, _ in self.chain:
                toxic.stats.held(now - read_at)
            try:
                n = self.dst.send(data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self.link.close()
                return
            if n < len(data):
                self.wbuf = memoryview(data)[n:]
                self._want_write()
                break
        if self.pending_bytes < _HIGH_WATER // 2:
            self._resume_reading()

    def _want_write(self) -> None:
        if not self.writing and not self.link.closed:
            self.loop.add_writer(self.dst_fd, self._on_writable)
            self.writing = True

    def _stop_writing(self) -> None:
        if self.writing:
            self.loop.remove_writer(self.dst_fd)
            self.writing = False

    def _on_writable(self) -> None:
        if self.in_pipe:
            self._drain_pipe()
            return
        if self.wbuf is not None:
            try:
                n = self.dst.send(self.wbuf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.link.close()
                return
            self.wbuf = self.wbuf[n:] if n < len(self.wbuf) else None
            if self.wbuf is not None:
                return
        self._stop_writing()
        self._process()

    def _finish(self) -> None:
        with contextlib.suppress(OSError):
            self.dst.shutdown(socket.SHUT_WR)
        self.done = True
        self.link.maybe_close()

    def stop(self) -> None:
        self._pause_reading()
        self._stop_writing()
        if self.timer is not None:
            self.timer.cancel()
        for handle in self.armed.values():
            handle.cancel()
        self.armed.clear()
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None


class Link:
    """A client connection and its upstream connection."""

    def __init__(self, proxy: Proxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.loop = asyncio.get_running_loop()
        self.client, self.upstream = client, upstream
        self.closed = False
        self.directions = {
            "upstream": Direction(self, "upstream", client, upstream),
            "downstream": Direction(self, "downstream", upstream, client),
        }

    def start(self, toxics: list[Toxic]) -> None:
        for toxic in toxics:
            self.directions[toxic.stream].add_toxic(toxic)
        for direction in self.directions.values():
            direction.start()

    def add_toxic(self, toxic: Toxic) -> None:
        self.directions[toxic.stream].add_toxic(toxic)

    def remove_toxic(self, toxic: Toxic) -> None:
        self.directions[toxic.stream].remove_toxic(toxic)

    def maybe_close(self) -> None:
        if all(d.done for d in self.directions.values()):
            self.close()

    def reset(self) -> None:
        """Close both sockets with a TCP RST (SO_LINGER 0)."""
        linger = struct.pack("ii", 1, 0)
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for direction in self.directions.values():
            direction.stop()
        for sock in (self.client, self.upstream):
            sock.close()
        self.proxy.links.discard(self)
