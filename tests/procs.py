"""Process checks shared by the tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from chaosllm.sandbox.app.launcher import free_port, stop_pid, wait_until


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited and been reaped (no zombie left in /proc)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextlib.contextmanager
def model_provider(model: str, ttft: float, tokens_per_second: float) -> Iterator[str]:
    """The sandbox's model provider on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosllm.sandbox.app.provider", "--port", str(port), "--model", model,
         "--ttft", str(ttft), "--tokens-per-second", str(tokens_per_second)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: urllib.request.urlopen(f"{url}/healthz", timeout=1).status == 200, 20,
                   "the provider", proc)  # fmt: skip
        yield url
    finally:
        stop_pid(proc.pid, proc=proc)
