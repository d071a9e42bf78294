"""The experiments running on this machine: a file per run in ``$CHAOSLLM_STATE_DIR/runs/``.

The rollbacks control registers its run when the experiment starts and
removes the file when it ends. The file names the process (its PID, and its
start time so that a reused PID is not taken for it), the run's id and the
experiment's title; ``chaosllm halt`` lists the runs it stops. Every fault the
run writes to the ledger carries the run's id (:func:`current_run`), so that
the run restores its own faults and no one else's.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

from chaosllm.faults.handles import utcnow_iso
from chaosllm.faults.statedir import state_dir

__all__ = ["RUNS_DIR", "runs_dir", "current_run", "register_run", "unregister_run", "running_runs"]

RUNS_DIR = "runs"

# The run of this process, set while an experiment that uses the control runs.
_current: str | None = None


def runs_dir(create: bool = False) -> Path:
    path = state_dir(create=create) / RUNS_DIR
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def current_run() -> str | None:
    """The id of the run in progress in this process, or None."""
    return _current


def _proc(pid: int) -> Any:
    # Imported here: the fault ledger loads this module, and loads no backend package.
    from chaosllm.process.procs import read_proc

    return read_proc(pid)


def register_run(title: str) -> dict[str, Any]:
    """Write this process's run file and make its id the current run; returns the record."""
    global _current
    proc = _proc(os.getpid())
    run_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    record = {
        "run": run_id,
        "pid": os.getpid(),
        "start": proc.start if proc else None,
        "title": title,
        "host": socket.gethostname(),
        "started_at": utcnow_iso(),
    }
    path = runs_dir(create=True) / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh)
    os.replace(tmp, path)
    _current = run_id
    return record


def unregister_run(run_id: str) -> None:
    """Remove the run file of ``run_id`` (if it is still this process's)."""
    global _current
    path = runs_dir() / f"{os.getpid()}.json"
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("run") == run_id:
            path.unlink()
    if _current == run_id:
        _current = None


def _alive(record: dict[str, Any]) -> bool:
    pid = record.get("pid")
    proc = _proc(pid) if isinstance(pid, int) and pid > 0 else None
    return proc is not None and proc.state != "Z" and proc.start == record.get("start")


def running_runs() -> list[dict[str, Any]]:
    """The runs in progress here; files of runs whose process is gone are removed."""
    folder = runs_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written or removed right now
        if isinstance(record, dict) and _alive(record):
            found.append(record)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return found
