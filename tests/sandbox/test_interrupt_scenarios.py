"""Ctrl-C and SIGTERM during each of the local scenarios leave nothing in force.

Each scenario runs with ``chaos run`` against the sandbox, as shipped, and is
signalled as soon as its first fault is in force (the first pause after an
action). Afterwards no toxic is on the proxy and every proxy is enabled,
Redis keeps its ``maxmemory``, no sandbox process is suspended, no stress-ng
run or load run of the scenario is left, the ledger and the run registry are
empty, and the console names what was rolled back. Ten runs of about 15 s.
"""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chaosllm.sandbox.app import loadrun
from chaosllm.sandbox.app.state import settings_env, status
from tests.controls.interrupting import Run, extension, ledger_entries, runs_left

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "experiments" / "scenarios" / "local").glob("*.json"))


def _proxies(api_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{api_url}/proxies", timeout=5) as resp:
        return dict(json.load(resp))


def _maxmemory(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        return str(client.config_get("maxmemory")["maxmemory"])
    finally:
        client.close()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _fault_pids(journal: dict[str, Any]) -> list[int]:
    """The processes the method started (stress-ng runs, load runs)."""
    pids = []
    for run in journal.get("run", []):
        output = run.get("output")
        if isinstance(output, dict):
            for key in ("pid",):
                if isinstance(output.get(key), int):
                    pids.append(output[key])
            spec = output.get("spec")
            if isinstance(spec, dict) and isinstance(spec.get("pid"), int):
                pids.append(spec["pid"])
    return pids


# The scenario varies fastest: the sandbox has the four other scenarios' time to settle
# before the same one runs again.
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_scenario_leaves_nothing_in_force(
    sandbox: dict[str, Any], tmp_path: Path, scenario: Path, signum: int
) -> None:
    settings = sandbox["settings"]
    directory = Path(sandbox["dir"])
    maxmemory = _maxmemory(settings["redis_url"])
    env = {**settings_env(sandbox), "CHAOSLLM_SANDBOX_DIR": str(directory)}
    run = Run(scenario, tmp_path / "run", env=env)
    run.wait_for("Pausing after activity", timeout=120)  # the first fault is in force
    run.signal(signum)
    code, journal = run.finish(120)

    name = signal.Signals(signum).name
    assert journal["status"] == "interrupted", run.output[-4000:]
    entry = extension(journal)
    assert entry["interrupted_by"] == name and entry["left"] == [], entry
    doc = json.loads(scenario.read_text())
    # A rollback may be a reference to an action of the method: that action is played.
    expected = [r.get("ref") or r["name"] for r in doc.get("rollbacks", [])]
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == expected
    if expected:
        assert f"run interrupted ({name}); rolled back by chaosllm-" in run.output, run.output[-4000:]
    else:  # scenario 2 kills processes: nothing lasts, nothing to roll back
        assert f"run interrupted ({name}); the experiment declares no rollbacks" in run.output
    for rollback in expected:
        assert f"{rollback} (succeeded)" in run.output
    assert "nothing left in force" in run.last_line

    for proxy in _proxies(settings["proxy_api_url"]).values():
        assert proxy["enabled"] and proxy.get("toxics", []) == [], proxy
    assert _maxmemory(settings["redis_url"]) == maxmemory
    for row in status(directory)["services"]:
        for pid in row["alive_pids"]:
            assert _state(pid) != "T", row
    for pid in _fault_pids(journal):
        assert _state(pid) in (None, "Z"), f"PID {pid} of the scenario is still running"
    assert not any(loadrun.pid_path(directory, n).exists() for n in ("flood", "load"))
    state_dir = tmp_path / "state"
    assert ledger_entries(state_dir) == {} and runs_left(state_dir) == []
