"""Client pauses that can be lifted early.

Redis 7.0 postpones every command of a normal client during ``CLIENT PAUSE
ALL``, ``CLIENT UNPAUSE`` included, so one long pause could not be rolled
back. Instead a holder thread renews short pauses back to back, and keeps
two renewals queued on its connection: the server postpones the queued
renewal before any other client's command, so when a slice ends the renewal
runs first and no other command slips through. Stopping the holder lifts
the pause within two slices; because the thread lives in the ``chaos``
process, a killed process heals within two slices as well.
"""

from __future__ import annotations

import threading
import time
from typing import Any

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
        self._stop_requested = threading.Event()

    def run(self) -> None:
        conn = self.client.connection_pool.get_connection()
        deadline = time.monotonic() + self.seconds
        planned_end = time.monotonic()  # when the last renewal sent will end
        outstanding = 0

        def send_next() -> bool:
            nonlocal planned_end, outstanding
            length = min(SLICE, deadline - planned_end)
            if length < 0.01 or self._stop_requested.is_set():
                return False
            conn.send_command("CLIENT", "PAUSE", max(1, int(length * 1000)), self.mode)
            planned_end += length
            outstanding += 1
            return True

        try:
            for _ in range(AHEAD):
                send_next()
            while outstanding:
                conn.read_response()
                outstanding -= 1
                if not self.started.is_set():
                    planned_end = time.monotonic() + SLICE * outstanding
                self.started.set()
                send_next()
            conn.send_command("CLIENT", "UNPAUSE")
            conn.read_response()
        except BaseException as exc:  # reported to the caller waiting on `started`
            self.error = exc
        finally:
            self.started.set()
            conn.disconnect()
            self.client.close()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_requested.set()
        if self is not threading.current_thread():
            self.join(timeout)
