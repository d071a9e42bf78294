"""Helpers for tests that interrupt ``chaos run``: a frozen process as the fault,
and a run started in the background, signalled once a line shows up."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.chaos_run import chaos_args, chaos_env

ROLLBACKS_CONTROL = {"name": "chaosllm-rollbacks",
                     "provider": {"type": "python", "module": "chaosllm.controls.rollbacks"}}  # fmt: skip
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def freeze_experiment(pidfile: Path, pause: float = 60, **extra: Any) -> dict[str, Any]:
    """Suspend the process of ``pidfile`` (a ledger fault), pause, resume it as the rollback."""
    target = {"pidfile": str(pidfile)}
    return {
        "title": f"freeze {pidfile.stem}", "description": "a frozen process as the fault",
        "method": [{"type": "action", "name": "freeze",
                    "provider": {"type": "python", "module": "chaosllm.process.actions",
                                 "func": "suspend_processes",
                                 "arguments": {**target, "duration": "120s"}},
                    "pauses": {"after": pause}}],
        "rollbacks": [{"type": "action", "name": "thaw",
                       "provider": {"type": "python", "module": "chaosllm.process.actions",
                                    "func": "resume_processes", "arguments": target}}],
        "controls": [ROLLBACKS_CONTROL],
        **extra,
    }  # fmt: skip


def state_of(pid: int, settle: float = 2.0) -> str:
    """The process state letter, once a stop or a continue in flight has landed
    (a stopped process passes through R to T while it takes the signal)."""
    deadline = time.monotonic() + settle
    while True:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("T", "S") or time.monotonic() > deadline:
            return state
        time.sleep(0.01)


@contextmanager
def sleeper(workdir: Path, name: str = "sleeper") -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process to freeze, with its pidfile; killed afterwards."""
    proc = subprocess.Popen(["sleep", "600"])
    pidfile = workdir / f"{name}.pid"
    pidfile.write_text(str(proc.pid))
    try:
        yield proc, pidfile
    finally:
        proc.kill()
        proc.wait(5)


class Run:
    """``chaos run`` in the background, its console (stdout and stderr) read line by line."""

    def __init__(self, experiment: dict[str, Any] | Path, workdir: Path, *extra: str,
                 env: dict[str, str] | None = None) -> None:  # fmt: skip
        workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(experiment, dict):
            path = workdir / "experiment.json"
            path.write_text(json.dumps(experiment))
        else:
            path = experiment
        self.journal_path = workdir / "journal.json"
        settings = workdir / "settings.yaml"
        if not settings.exists():
            settings.touch()
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.proc = subprocess.Popen(
            chaos_args(workdir, "run", "--journal-path", str(self.journal_path), *extra, str(path)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir,
            env=chaos_env(env), start_new_session=True,
        )  # fmt: skip
        self.ended_at: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(ANSI.sub("", line))
                self._seen.notify_all()
        self.proc.wait()
        self.ended_at = time.monotonic()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.ended_at is not None:
                    raise AssertionError(f"never saw {text!r}:\n{self.output[-4000:]}")
                self._seen.wait(min(left, 0.5))

    def signal(self, signum: int = signal.SIGINT) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 120) -> tuple[int, dict[str, Any]]:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._reader.join(10)
        journal = json.loads(self.journal_path.read_text()) if self.journal_path.exists() else {}
        return code, journal

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def last_line(self) -> str:
        lines = [line for line in self.lines if line.strip()]
        return lines[-1] if lines else ""


def extension(journal: dict[str, Any]) -> dict[str, Any]:
    found = [e for e in journal.get("extensions", []) if e.get("name") == "chaosllm-rollbacks"]
    assert len(found) == 1, journal.get("extensions")
    return found[0]


def ledger_entries(state_dir: Path) -> dict[str, Any]:
    path = state_dir / "ledger.json"
    return json.loads(path.read_text()) if path.exists() else {}


def runs_left(state_dir: Path) -> list[str]:
    folder = state_dir / "runs"
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
