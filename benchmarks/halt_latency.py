"""Halt latency: how fast ``chaosllm halt`` stops N concurrent ``chaos run``.

Each trial starts N experiments with ``chaos run`` (each freezes its own
``sleep`` process with ``suspend_processes``, a ledger fault, then holds for
60 s; its rollback resumes it; it uses ``chaosllm.controls.rollbacks``) in a
private ``$CHAOSLLM_STATE_DIR``, waits until every fault is in force, then runs
``chaosllm halt``. Figures, from the moment the halt command starts:

- thawed: until the frozen process runs again (the fault is gone);
- exited: until the ``chaos`` process has exited (its rollbacks played,
  its journal written).

Run: ``python benchmarks/halt_latency.py --runs 2 --trials 5``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHAOS = [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()", "--no-version-check"]
CHAOSLLM = [sys.executable, "-m", "chaosllm.cli"]


def _experiment(pidfile: Path) -> dict[str, object]:
    target = {"pidfile": str(pidfile)}
    return {
        "title": "hold", "description": "a frozen process, held for 60 s",
        "method": [{"type": "action", "name": "freeze", "pauses": {"after": 60},
                    "provider": {"type": "python", "module": "chaosllm.process.actions",
                                 "func": "suspend_processes",
                                 "arguments": {**target, "duration": "120s"}}}],
        "rollbacks": [{"type": "action", "name": "thaw",
                       "provider": {"type": "python", "module": "chaosllm.process.actions",
                                    "func": "resume_processes", "arguments": target}}],
        "controls": [{"name": "chaosllm-rollbacks",
                      "provider": {"type": "python", "module": "chaosllm.controls.rollbacks"}}],
    }  # fmt: skip


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def trial(runs: int, workdir: Path) -> tuple[list[float], list[float]]:
    env = {**os.environ, "CHAOSLLM_STATE_DIR": str(workdir / "state"),
           "CHAOSTOOLKIT_NO_CHECK_NEWER_VERSION": "1"}  # fmt: skip
    sleepers, chaos = [], []
    for n in range(runs):
        sleeper = subprocess.Popen(["sleep", "600"])
        sleepers.append(sleeper)
        pidfile = workdir / f"s{n}.pid"
        pidfile.write_text(str(sleeper.pid))
        path = workdir / f"e{n}.json"
        path.write_text(json.dumps(_experiment(pidfile)))
        (workdir / "settings.yaml").touch()
        chaos.append(subprocess.Popen(
            [*CHAOS, "--settings", str(workdir / "settings.yaml"), "run", "--journal-path",
             str(workdir / f"j{n}.json"), str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=workdir))  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not all(_state(s.pid) == "T" for s in sleepers):
            if time.monotonic() > deadline:
                raise RuntimeError("the faults never came into force")
            time.sleep(0.02)
        time.sleep(0.5)  # every run now holds in its pause
        started = time.monotonic()
        halt = subprocess.Popen([*CHAOSLLM, "halt", "--reason", "benchmark"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        thawed: dict[int, float] = {}
        exited: dict[int, float] = {}
        while len(thawed) < runs or len(exited) < runs:
            now = time.monotonic() - started
            for n, s in enumerate(sleepers):
                if n not in thawed and _state(s.pid) != "T":
                    thawed[n] = now
            for n, c in enumerate(chaos):
                if n not in exited and c.poll() is not None:
                    exited[n] = now
            if now > 30:
                raise RuntimeError(f"runs still going after 30 s: {exited}")
            time.sleep(0.005)
        halt.wait(30)
        return list(thawed.values()), list(exited.values())
    finally:
        for process in [*chaos, *sleepers]:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="concurrent runs per trial")
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    thawed: list[float] = []
    exited: list[float] = []
    for _ in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            t, e = trial(args.runs, Path(tmp))
        thawed += t
        exited += e
    print(f"chaosllm halt, {args.runs} concurrent runs x {args.trials} trials "
          f"({len(exited)} runs), seconds from the halt command's start:")  # fmt: skip
    print(f"  fault removed: median {statistics.median(thawed):.3f}  max {max(thawed):.3f}")
    print(f"  run exited:    median {statistics.median(exited):.3f}  max {max(exited):.3f}")


if __name__ == "__main__":
    main()
