"""Run ``chaos`` the way a user does, as a subprocess of this venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CHAOS = [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()"]
CHAOSLLM = [sys.executable, "-m", "chaosllm.cli"]


def chaos_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env.setdefault("CHAOSTOOLKIT_NO_CHECK_NEWER_VERSION", "1")
    return env


def chaos_args(workdir: Path, *args: str) -> list[str]:
    return [
        *CHAOS, "--no-version-check", "--log-file", str(workdir / "chaostoolkit.log"),
        "--settings", str(workdir / "settings.yaml"), *args,
    ]  # fmt: skip


def run_experiment(
    experiment: Path | dict[str, Any],
    workdir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    extra_args: tuple[str, ...] = (),
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``chaos run`` an experiment file or dict; returns the process and its journal."""
    if isinstance(experiment, dict):
        path = workdir / "experiment.json"
        path.write_text(json.dumps(experiment))
    else:
        path = experiment
    journal = workdir / "journal.json"
    (workdir / "settings.yaml").touch()
    proc = subprocess.run(
        chaos_args(workdir, "run", "--journal-path", str(journal), *extra_args, str(path)),
        capture_output=True, text=True, timeout=timeout, env=chaos_env(env), cwd=workdir,
    )  # fmt: skip
    data = json.loads(journal.read_text()) if journal.exists() else {}
    return proc, data


def validate(
    path: Path, workdir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (workdir / "settings.yaml").touch()
    return subprocess.run(
        chaos_args(workdir, "validate", str(path)),
        capture_output=True, text=True, timeout=120, env=chaos_env(env), cwd=workdir,
    )  # fmt: skip
