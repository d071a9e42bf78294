"""Client pauses that can be lifted early.

Redis 7.0 postpones every command of a normal client during ``CLIENT PAUSE
ALL``, ``CLIENT UNPAUSE`` included, so one long pause could not be rolled
back. Instead a holder thread renews short pauses back to back, and keeps
two renewals queued on its connection: the server postpones the queued
renewal before any other client's command, so when a slice ends the renewal
runs first and no other command slips through. Stopping the holder lifts
the pause once the queued slices have run (about 0.5 s); because the thread
lives in the ``chaos`` process, a killed process heals as quickly.

``WRITE`` pauses do not postpone ``CLIENT`` commands, so they are one pause
for the whole duration, lifted by ``CLIENT UNPAUSE``. Right after the unpause
the holder reads INFO on its own connection, so that the pause's effect is
measured at its real end, whether it was lifted or ran out.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from chaosllm.faults.handles import utcnow_iso

SLICE = 0.15
AHEAD = 2


class PauseHolder(threading.Thread):
    def __init__(self, client: Any, mode: str, seconds: float) -> None:
        super().__init__(daemon=True, name="chaosllm-redis-pause")
        self.client = client
        self.mode = mode
        self.seconds = seconds
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.info_after: dict[str, Any] | None = None
        self.ended_at: str | None = None
        self._stop_requested = threading.Event()

    def run(self) -> None:
        conn = self.client.connection_pool.get_connection()
        try:
            if self.mode == "ALL":
                self._hold_in_slices(conn, time.monotonic() + self.seconds)
            else:
                conn.send_command("CLIENT", "PAUSE", max(1, int(self.seconds * 1000)), self.mode)
                conn.read_response()
                self.started.set()
                self._stop_requested.wait(self.seconds)
            conn.send_command("CLIENT", "UNPAUSE")
            conn.read_response()
            self.ended_at = utcnow_iso()
            self.info_after = _read_info(conn)
        except BaseException as exc:  # reported to the caller waiting on `started`
            self.error = exc
        finally:
            self.started.set()
            conn.disconnect()
            self.client.close()

    def _hold_in_slices(self, conn: Any, deadline: float) -> None:
        queued: collections.deque[float] = collections.deque()  # lengths sent, not yet started

        def send_next(queued_end: float) -> None:
            length = min(SLICE, deadline - queued_end)
            if length >= 0.01 and not self._stop_requested.is_set():
                conn.send_command("CLIENT", "PAUSE", max(1, int(length * 1000)), self.mode)
                queued.append(length)

        send_next(time.monotonic())
        send_next(time.monotonic() + (queued[0] if queued else 0))
        while queued:
            conn.read_response()  # the oldest renewal has just started its slice
            now = time.monotonic()
            current = queued.popleft()
            self.started.set()
            # Slice lengths follow the real clock, so server-side timer drift
            # does not add up over a long pause.
            running_end = now + current + sum(queued)
            if len(queued) < AHEAD:
                send_next(running_end)

    def stop(self, timeout: float = 5.0) -> None:
        """Lift the pause and wait until it is lifted and measured."""
        self._stop_requested.set()
        if self is not threading.current_thread():
            self.join(timeout)


def _read_info(conn: Any) -> dict[str, Any] | None:
    from redis._parsers.helpers import parse_info

    try:
        conn.send_command("INFO", "everything")
        raw = conn.read_response()
    except Exception:  # the pause is lifted; only its evidence is lost
        return None
    return dict(parse_info(raw.decode() if isinstance(raw, bytes) else str(raw)))
