"""Sandbox actions: start and stop the open-loop load generator.

The sandbox is found through ``sandbox_dir`` (argument, secrets,
configuration or ``CHAOSLLM_SANDBOX_DIR``), by default
``$CHAOSLLM_STATE_DIR/sandbox``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.sandbox import launcher
from chaosllm.sandbox._load import pid_path, read_results, results_path, summarise
from chaosllm.sandbox.stack import read_state, run_dir

__all__ = ["start_load", "stop_load"]

ROLLBACKS = {"start_load": "stop_load"}


def start_load(
    rate: float = 20.0,
    duration: str = "60s",
    target: str = "gateway",
    mix: str | None = None,
    name: str = "load",
    max_requests: int | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start open-loop load at `rate` requests/s for at most `duration`.

    `target` is "gateway" (the GraphQL front, with the operation `mix`, e.g.
    "catalog=45,tenants=15,recommendations=20,order=20") or "recs" (ml-recs
    directly, to overload it). A run with the same `name` is stopped first;
    its results are replaced. Stop it early with `stop_load`.

    ```json
    {"type": "action", "name": "overload-recommendations",
     "provider": {"type": "python", "module": "chaosllm.sandbox.actions",
                  "func": "start_load",
                  "arguments": {"rate": 150, "duration": "25s", "target": "recs",
                                "name": "flood"}}}
    ```
    """
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 2000:
        raise InvalidArgument(f"rate must be between 0 and 2000 requests/s, got {rate!r}")
    seconds = parse_duration(duration)
    if target not in ("gateway", "recs"):
        raise InvalidArgument(f"target must be 'gateway' or 'recs', got {target!r}")
    directory = run_dir(configuration, secrets)
    state = read_state(directory)
    service = state["services"]["gateway" if target == "gateway" else "ml-recs"]
    stop_load(name, configuration, secrets)
    out = results_path(directory, name)
    out.parent.mkdir(exist_ok=True)
    out.write_text("")
    out.with_suffix(".start").write_text(f"{time.time():.3f}\n")
    cmd = [sys.executable, "-m", "chaosllm.sandbox.loadgen", "--url", service["url"],
           "--out", str(out), "--rate", str(rate), "--duration", str(seconds),
           "--target", target]  # fmt: skip
    if mix:
        cmd += ["--mix", mix]
    if max_requests:
        cmd += ["--max-requests", str(int(max_requests))]
    proc = launcher._spawn(cmd, out.with_suffix(".log"))
    pid_path(directory, name).write_text(f"{proc.pid}\n")
    return {"name": name, "pid": proc.pid, "rate": rate, "duration": duration,
            "target": target, "results": str(out)}  # fmt: skip


def stop_load(
    name: str = "load",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stop load run `name` (requests in flight finish) and summarise it.

    Stopping a run that already ended returns its summary with
    `"stopped": false`.

    ```json
    {"type": "action", "name": "stop-flood",
     "provider": {"type": "python", "module": "chaosllm.sandbox.actions",
                  "func": "stop_load", "arguments": {"name": "flood"}}}
    ```
    """
    directory = run_dir(configuration, secrets)
    pidfile = pid_path(directory, name)
    stopped = False
    if pidfile.exists():
        pid = int(pidfile.read_text())
        if launcher._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while launcher._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            launcher.stop_pid(pid, 0.5)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            stopped = True
        pidfile.unlink()
    summary: dict[str, Any] = {"name": name, "stopped": stopped}
    if results_path(directory, name).exists():
        summary.update(summarise(read_results(directory, name)))
    return summary
