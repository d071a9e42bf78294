"""stress-ng runs: bounded by time and by the memory limit, stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosllm.errors import InvalidArgument
from chaosllm.faults import Ledger
from chaosllm.process.procs import read_proc
from chaosllm.sandbox.app.launcher import wait_until
from chaosllm.stress import actions, probes
from tests.conftest import IN_CI

# These tests run stress-ng.
pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _stress_ng() -> Iterator[None]:
    if shutil.which("stress-ng") is None:
        if IN_CI:
            pytest.fail("CI=true and stress-ng is not installed")
        pytest.skip("stress-ng is not installed")
    yield
    actions.stop_stress()  # whatever a failed test left running


def _group(pgid: int) -> list[int]:
    """Every live process of the stress run's process group."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def test_cpu_stress_is_stopped_by_pid_leaving_nothing() -> None:
    handle = actions.stress_cpu(workers=2, load=30, duration="30s")
    pid = handle["spec"]["pid"]
    wait_until(lambda: len(_group(pid)) >= 3, 5, "stress-ng workers")  # leader + 2 workers
    again = actions.stress_cpu(workers=2, load=30, duration="30s")
    assert again["spec"]["pid"] == pid and again["spec"]["already_present"] is True
    assert [run["pid"] for run in probes.stress_runs()] == [pid]
    assert handle["effect"] == "unknown" and handle["evidence"]["reason"] == "measured when removed"
    stopped = actions.stop_stress(pid=pid)
    assert (stopped["removed"], stopped["pids"], stopped["kind"]) == (True, [pid], "stress-cpu")
    # The CPU time stress-ng's workers really took, as it printed it when stopped.
    assert stopped["effect"] == "observed" and stopped["evidence"]["cpu_total_seconds"] > 0
    assert 0 < stopped["evidence"]["cores_used"] <= 2.5
    wait_until(lambda: _group(pid) == [], 5, "stress-ng gone")
    assert actions.stop_stress(pid=pid)["removed"] is False
    assert probes.stress_runs() == [] and Ledger().entries() == {}


def test_stress_ends_by_itself_at_its_duration() -> None:
    handle = actions.stress_cpu(workers=1, load=10, duration="1s", name="short")
    pid = handle["spec"]["pid"]
    assert _group(pid)
    started = time.monotonic()
    wait_until(lambda: _group(pid) == [], 8, "stress-ng timeout")
    assert time.monotonic() - started < 8
    wait_until(lambda: Ledger().entries() == {}, 10, "healer cleared the ledger")
    # Its healer kept what it took: a later stop still reports it, and when it ended.
    late = actions.stop_stress(name="short")
    assert late["removed"] is False and late["name"] == "short" and late["effect"] == "observed"
    assert late["evidence"]["run_seconds"] >= 1 and late["ended_at"] > handle["started_at"]


def test_memory_stress_stays_within_its_limit() -> None:
    limit = 64 * 2**20
    handle = actions.stress_memory("64M", workers=2, duration="20s", name="mem")
    pid = handle["spec"]["pid"]
    assert handle["spec"]["bytes"] == limit
    # Wait until the workers have touched their memory, then check the total.
    wait_until(lambda: _rss(_group(pid)) > limit * 0.8, 10, "memory held")
    time.sleep(0.5)
    held = _rss(_group(pid))
    # Each process has a few MiB of its own besides the memory it holds.
    assert limit * 0.8 < held <= limit + 5 * 8 * 2**20
    stopped = actions.stop_stress(name="mem")
    assert stopped["pids"] == [pid] and stopped["effect"] == "observed"
    assert limit * 0.8 < stopped["evidence"]["peak_rss_bytes"] <= limit + 5 * 8 * 2**20
    wait_until(lambda: _group(pid) == [], 5, "stress-ng gone")


def test_sizes_are_absolute_and_checked() -> None:
    with pytest.raises(InvalidArgument, match="absolute size"):
        actions.stress_memory("50%")
    with pytest.raises(InvalidArgument, match="available"):
        actions.stress_memory("100T")
    with pytest.raises(InvalidArgument):
        actions.stress_cpu(load=150)
    with pytest.raises(InvalidArgument):
        actions.stress_cpu(duration="0s")
    with pytest.raises(InvalidArgument, match="not a stress-ng process"):
        actions.stop_stress(pid=os.getpid())
    assert probes.stress_runs() == []


def test_fill_disk_writes_under_path_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    handle = actions.fill_disk(str(target), size="8M", duration="20s", name="disk")
    pid = handle["spec"]["pid"]
    assert handle["spec"]["bytes"] == 8 * 2**20
    # stress-ng writes into its own folder under the path (files unlinked while open).
    wait_until(lambda: any(target.iterdir()), 10, "stress-ng folder")
    assert all(p.name.startswith("tmp-stress-ng") for p in target.iterdir())
    stopped = actions.stop_stress(name="disk")
    assert stopped["kind"] == "stress-disk" and stopped["removed"] is True
    assert stopped["effect"] == "observed" and stopped["evidence"]["cpu_total_seconds"] > 0
    wait_until(lambda: _group(pid) == [], 5, "stress-ng gone")
    wait_until(lambda: not any(target.iterdir()), 5, "folder removed")
    with pytest.raises(InvalidArgument, match="not a directory"):
        actions.fill_disk(str(tmp_path / "missing"), size="1M")
    with pytest.raises(InvalidArgument, match="free"):
        actions.fill_disk(str(target), size="1000T")


def test_refused_pid_is_shown_without_its_credentials() -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 300; :", "sh", "--password=S3CRETPW"],
                            start_new_session=True)
    try:
        wait_until(lambda: "S3CRETPW" in (read_proc(proc.pid) or read_proc(1)).cmdline, 5,  # type: ignore[union-attr]
                   "python child")
        with pytest.raises(InvalidArgument, match="not a stress-ng process") as info:
            actions.stop_stress(pid=proc.pid)
        assert "S3CRETPW" not in str(info.value) and "--password=***" in str(info.value)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the shell and its sleep
        proc.wait()


def test_a_run_that_stress_ng_refuses_at_once_is_an_error_not_a_fault() -> None:
    from chaosllm.errors import FaultFailed
    from chaosllm.faults import Ledger
    from chaosllm.stress import actions as stress_actions

    with pytest.raises(FaultFailed, match="it exited at once"):
        stress_actions.stress_memory("100", duration="5s", name="too-small")  # below stress-ng's 4K
    assert Ledger().entries() == {}
