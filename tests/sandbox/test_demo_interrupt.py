"""Ctrl-C in the middle of a demo fault: the fault is healed and nothing is left running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chaosllm.sandbox.app import launcher, stack
from chaosllm.sandbox.app.state import status
from tests.conftest import IN_CI

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# The partition is in place while the method pauses after this action.
FAULT_ACTION = "Action: partition-the-database"
FAULT_IN_PLACE = "Pausing after activity"


def test_ctrl_c_during_a_fault_heals_it_and_stops_everything(tmp_path: Path) -> None:
    try:
        for binary in ("redis-server", "rabbitmq-server", "prometheus"):
            launcher.find_binary(binary)
    except launcher.MissingBinary as exc:
        if IN_CI:
            pytest.fail(f"CI=true and a server binary is missing: {exc}")
        pytest.skip(str(exc))
    state_dir = tmp_path / "state"
    env = {**os.environ, "CHAOSLLM_STATE_DIR": str(state_dir)}
    env.pop("CHAOSLLM_SANDBOX_DIR", None)
    directory = state_dir / "sandbox"
    demo = subprocess.Popen(
        [sys.executable, "-m", "chaosllm.sandbox.app.demo", "--only", "4",
         "--journals", str(tmp_path / "journals"), "--reports", str(tmp_path / "reports")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    lines: list[str] = []
    faulted = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            if FAULT_IN_PLACE in line and lines and FAULT_ACTION in lines[-1]:
                faulted.set()
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert faulted.wait(180), "".join(lines)[-3000:]
        proxies = json.loads((directory / "state.json").read_text())["settings"]["proxy_api_url"]
        assert _postgres_proxy_enabled(proxies) is False  # the partition holds
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C reaches the demo and chaos alike
        assert demo.wait(120) == 130, "".join(lines)[-3000:]
        reader.join(10)
    finally:
        if demo.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
        stack.down(directory)
    output = "".join(lines)
    assert "interrupted: restoring faults left in the ledger" in output
    assert "nothing running, no port open" in output
    after = status(directory)
    assert not after["running"], after
    assert all(not row["alive_pids"] and not row["open_ports"] for row in after["services"])
    ledger = state_dir / "ledger.json"
    assert not ledger.exists() or json.loads(ledger.read_text()) == {}


def _postgres_proxy_enabled(api_url: str) -> bool | None:
    import urllib.request

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{api_url}/proxies/postgres", timeout=2) as resp:
            enabled = bool(json.load(resp)["enabled"])
        if not enabled:
            return False
        time.sleep(0.1)
    return True
