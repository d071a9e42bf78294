"""Process faults on ``sleep`` children this test starts itself."""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chaosllm.errors import InvalidArgument, PolicyViolation, TargetNotFound
from chaosllm.faults import Ledger
from chaosllm.process import actions, probes
from chaosllm.process.procs import read_proc
from chaosllm.sandbox.app.launcher import wait_until

# These tests signal real processes.
pytestmark = pytest.mark.integration


@pytest.fixture
def sleepers() -> Iterator[Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]]:
    """Start n ``sleep`` processes with a unique argument; returns (pattern, procs)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(n: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
        arg = f"3000.{random.randrange(10**8):08d}"
        procs = [subprocess.Popen(["sleep", arg]) for _ in range(n)]
        started.extend(procs)
        wait_until(lambda: all(read_proc(p.pid) and "sleep" in read_proc(p.pid).cmdline  # type: ignore[union-attr]
                               for p in procs), 5, "sleep children")
        return rf"^sleep {re.escape(arg)}$", procs

    yield start
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait()


def _state(pid: int) -> str:
    proc = read_proc(pid)
    return proc.state if proc else "gone"


def test_kill_one_then_all(sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]) -> None:
    pattern, procs = sleepers(3)
    assert probes.process_count(pattern) == 3
    result = actions.kill_processes(pattern=pattern)
    assert result["signal"] == "SIGKILL" and len(result["pids"]) == 1
    assert result["effect"] == "observed" and result["evidence"]["processes_exited"] == 1
    victim = next(p for p in procs if p.pid == result["pids"][0])
    assert victim.wait(5) == -signal.SIGKILL
    assert probes.process_count(pattern) == 2
    result = actions.kill_processes(pattern=pattern, signal="TERM", count=None)
    assert sorted(result["pids"]) == sorted(p.pid for p in procs if p is not victim)
    assert all(p.wait(5) for p in procs)
    assert probes.process_count(pattern) == 0
    with pytest.raises(TargetNotFound, match="no process matches"):
        actions.kill_processes(pattern=pattern)


def test_kill_by_pidfile(tmp_path: os.PathLike[str],
                         sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]) -> None:
    _, (proc,) = sleepers(1)
    pidfile = os.path.join(tmp_path, "app.pid")
    with open(pidfile, "w") as fh:
        fh.write(f"{proc.pid}\n")
    assert probes.process_count(pidfile=pidfile) == 1
    assert actions.kill_processes(pidfile=pidfile, signal="SIGTERM")["pids"] == [proc.pid]
    assert proc.wait(5) == -signal.SIGTERM


def test_refuses_pid_1_self_and_ancestors(tmp_path: os.PathLike[str]) -> None:
    for pid in (1, os.getpid(), os.getppid()):
        pidfile = os.path.join(tmp_path, f"{pid}.pid")
        with open(pidfile, "w") as fh:
            fh.write(str(pid))
        with pytest.raises(InvalidArgument, match="refusing"):
            actions.kill_processes(pidfile=pidfile, signal="SIGCONT")
    # A pattern that matches this very process never selects it (SIGCONT is harmless).
    own = shlex.join(sys.argv)
    mine = read_proc(os.getpid())
    assert mine is not None
    try:
        result = actions.kill_processes(pattern=re.escape(mine.cmdline), signal="SIGCONT",
                                        count=None)
    except TargetNotFound:
        result = {"pids": []}
    assert os.getpid() not in result["pids"] and os.getppid() not in result["pids"], own


def test_bad_selectors_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        actions.kill_processes()
    with pytest.raises(InvalidArgument):
        actions.kill_processes(pattern="   ")
    with pytest.raises(InvalidArgument):
        actions.kill_processes(pattern="(")
    with pytest.raises(InvalidArgument):
        actions.kill_processes(pattern="x", signal="SIGNOPE")
    with pytest.raises(InvalidArgument):
        actions.kill_processes(pattern="x", count=0)
    with pytest.raises(InvalidArgument, match="allow_unbounded"):
        actions.suspend_processes(pattern="x", duration=None)


def test_suspend_resumes_after_duration(
    sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]
) -> None:
    pattern, procs = sleepers(2)
    handle = actions.suspend_processes(pattern=pattern, count=None, duration="2s")
    assert sorted(handle["spec"]["pids"]) == sorted(p.pid for p in procs)
    wait_until(lambda: probes.process_count(pattern, state="T") == 2, 3, "SIGSTOP")
    again = actions.suspend_processes(pattern=pattern, count=None, duration="2s")
    assert again["spec"]["already_present"] is True
    wait_until(lambda: probes.process_count(pattern, state="T") == 0, 8, "resume")
    assert all(_state(p.pid) in ("S", "R") for p in procs)
    wait_until(lambda: Ledger().entries() == {}, 10, "ledger cleared")


def test_resume_early_is_idempotent(
    sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]
) -> None:
    pattern, (proc,) = sleepers(1)
    handle = actions.suspend_processes(pattern=pattern, duration="60s")
    assert handle["effect"] == "observed" and handle["evidence"]["pids"] == [proc.pid]
    wait_until(lambda: _state(proc.pid) == "T", 3, "SIGSTOP")
    result = actions.resume_processes(pattern=pattern)
    assert {k: result[k] for k in ("removed", "target", "pids", "kind", "effect")} == {
        "removed": True, "target": f"pattern {pattern!r}", "pids": [proc.pid],
        "kind": "process-suspend", "effect": "observed"}
    assert result["evidence"] == {"processes_resumed": 1} and result["ended_at"]
    wait_until(lambda: _state(proc.pid) == "S", 3, "SIGCONT")
    again = actions.resume_processes(pattern=pattern)
    assert again["removed"] is False and "effect" not in again  # the action's effect stands
    assert Ledger().entries() == {}


def test_suspended_process_resumes_when_the_caller_is_killed(
    sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]
) -> None:
    pattern, (proc,) = sleepers(1)
    code = (
        "import json, time\n"
        "from chaosllm.process import actions\n"
        f"h = actions.suspend_processes(pattern={pattern!r}, duration='1s')\n"
        "print(json.dumps(h), flush=True)\n"
        "time.sleep(60)\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert caller.stdout is not None
    handle = json.loads(caller.stdout.readline())
    caller.kill()
    caller.wait()
    assert handle["spec"]["pids"] == [proc.pid]
    wait_until(lambda: _state(proc.pid) == "T", 3, "SIGSTOP")
    wait_until(lambda: _state(proc.pid) == "S", 10, "resume after the caller died")


def test_command_lines_shown_with_credentials_masked() -> None:
    marker = f"cmdline-{random.randrange(10**8):08d}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker,
                             "--requirepass", "S3CRETPW", "--db-password=S3CRETPW",
                             "amqp://guest:S3CRETPW@127.0.0.1:5672/%2F", "--no-auth", "--port", "1"])
    try:
        wait_until(lambda: marker in (read_proc(proc.pid) or read_proc(1)).cmdline, 5,  # type: ignore[union-attr]
                   "python child")
        result = actions.kill_processes(pattern=re.escape(marker), signal="SIGTERM")
        assert result["pids"] == [proc.pid]
        (shown,) = result["commands"]
        assert "S3CRETPW" not in json.dumps(result)
        assert "amqp://guest:***@127.0.0.1" in shown and "--requirepass ***" in shown
        assert "--no-auth --port 1" in shown
    finally:
        proc.kill()
        proc.wait()


def test_a_pattern_never_matches_another_users_process(tmp_path: os.PathLike[str]) -> None:
    import pytest

    from chaosllm.process import actions as process_actions
    from chaosllm.process import probes as process_probes

    if os.geteuid() != 0:
        pytest.skip("starting a process as another user needs root")
    marker = f"chaosllm-other-user-{random.randrange(10**9)}"
    mine = subprocess.Popen(["sh", "-c", f"sleep 300; : {marker}"])
    other = subprocess.Popen(["sh", "-c", f"sleep 300; : {marker}"], preexec_fn=lambda: os.setuid(65534))
    try:
        assert process_probes.process_count(pattern=marker) == 1
        result = process_actions.kill_processes(pattern=marker, signal="SIGTERM", count=None)
        assert result["pids"] == [mine.pid]
        assert mine.wait(5) is not None and other.poll() is None
        pidfile = os.path.join(tmp_path, "other.pid")
        with open(pidfile, "w") as fh:
            fh.write(str(other.pid))
        assert process_actions.kill_processes(pidfile=pidfile, signal="SIGTERM")["pids"] == [other.pid]
        assert other.wait(5) is not None  # named by its pidfile: allowed
    finally:
        for proc in (mine, other):
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)


def test_policy_refuses_a_forbidden_process_before_any_signal(
    sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]],
) -> None:
    pattern, procs = sleepers(2)
    for rules, rule in (({"patterns": ["^sandbox-worker$"]}, "blast_radius.process.patterns"),
                        ({"max_processes": 1}, "2 processes, more than .*max_processes 1")):
        config = {"blast_radius": {"process": rules}}
        with pytest.raises(PolicyViolation, match=rule):
            actions.kill_processes(pattern=pattern, count=None, configuration=config)
        with pytest.raises(PolicyViolation, match=rule):
            actions.suspend_processes(pattern=pattern, count=None, configuration=config)
    assert [_state(p.pid) for p in procs] == ["S", "S"] and Ledger().entries() == {}


def test_dry_run_lists_the_pids_and_signals_nothing(
    sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    pattern, procs = sleepers(2)
    monkeypatch.setenv("CHAOSLLM_DRY_RUN", "1")
    killed = actions.kill_processes(pattern=pattern, count=None)
    assert killed["dry_run"] is True and killed["effect"] == "none"
    assert sorted(killed["would_touch"]["pids"]) == sorted(p.pid for p in procs)
    suspended = actions.suspend_processes(pattern=pattern, count=1, duration="5s")
    assert len(suspended["would_touch"]["pids"]) == 1
    assert [_state(p.pid) for p in procs] == ["S", "S"] and Ledger().entries() == {}


def test_the_controls_policy_argument_reaches_the_actions(
    sleepers: Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]],
) -> None:
    from chaosllm.controls.blast_radius import configure_control

    pattern, procs = sleepers(2)
    configuration: dict[str, Any] = {}
    configure_control(policy={"process": {"max_processes": 1}}, configuration=configuration)
    for action in (actions.kill_processes, actions.suspend_processes):
        with pytest.raises(PolicyViolation, match="max_processes 1.*the blast-radius control's policy"):
            action(pattern=pattern, count=None, configuration=dict(configuration))
    assert [_state(p.pid) for p in procs] == ["S", "S"] and Ledger().entries() == {}
