"""docs/FIRST-EXPERIMENT.md, run as a reader would: its experiment file and every
shell command in it, in order, in one shell, against a real sandbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chaosllm.sandbox.app import stack
from chaosllm.sandbox.app.state import status
from tests.chaos_run import chaos_env
from tests.conftest import IN_CI

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "FIRST-EXPERIMENT.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if lang == language]


def test_the_guide_has_one_experiment_and_runs_every_step() -> None:
    experiment = blocks("json")
    assert len(experiment) == 1
    data = json.loads(experiment[0])
    assert data["rollbacks"] and "chaosllm.controls.rollbacks" in json.dumps(data["controls"])
    commands = "\n".join(blocks("sh"))
    for step in ("chaosllm sandbox up", "chaos validate", "CHAOSLLM_DRY_RUN=1 chaos run",
                 "chaos run --journal-path journals/first-experiment.json", "chaosllm report",
                 "chaosllm sandbox down"):  # fmt: skip
        assert step in commands, step


def test_the_guide_runs_from_an_empty_directory_to_a_passed_report(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "first-experiment.json").write_text(blocks("json")[0])
    script = "set -euo pipefail\n" + "\n".join(blocks("sh"))
    # The reader's activated virtualenv: chaos and chaosllm of this interpreter, first on PATH.
    env = chaos_env({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    sandbox_dir = Path(env["CHAOSLLM_STATE_DIR"]) / "sandbox"
    try:
        proc = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
    finally:
        if sandbox_dir.exists() and status(sandbox_dir)["running"]:
            stack.down(sandbox_dir)
    if proc.returncode and "is not installed (install it" in proc.stderr and not IN_CI:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    dry = json.loads((workdir / "journals/first-dry-run.json").read_text())
    (fault,) = [r for r in dry["run"] if r["activity"]["name"] == "slow-down-the-database"]
    assert fault["output"]["dry_run"] is True
    journal = json.loads((workdir / "journals/first-experiment.json").read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False
    (fault,) = [r for r in journal["run"] if r["activity"]["name"] == "slow-down-the-database"]
    assert fault["status"] == "succeeded" and not fault["output"].get("dry_run")
    report = (workdir / "reports/first-experiment.md").read_text()
    assert "passed" in report.split("\n## ", 1)[0].lower()
    assert (workdir / "reports/first-experiment.html").exists()
    assert "proxy" in proc.stdout and "postgres" in proc.stdout  # 'chaosllm proxy list'
    assert not status(sandbox_dir)["running"]
