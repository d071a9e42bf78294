"""CPU, memory and disk stress through stress-ng, each for a duration.

stress-ng's ``--timeout`` bounds every run, so it ends even if ``chaos`` is
killed; the run is also in the fault ledger, so ``stop_stress`` (by PID or
name) and ``chaosllm cleanup`` can end it early. Memory and disk sizes are
absolute limits that the experiment sets, checked against what the machine
has free: never "a share of the host". Before stress-ng starts, every fault
checks the blast-radius policy's ``stress`` section, and in a dry run
(``CHAOSLLM_DRY_RUN=1``) returns what it would start without starting it.
"""

from __future__ import annotations

import os
from typing import Any

from chaosllm.arguments import strict
from chaosllm.errors import InvalidArgument
from chaosllm.faults import Ledger, fault_seconds, restore_fault
from chaosllm.stress._policy import before_stress
from chaosllm.stress._stressng import ENTRY_PREFIX, parse_size, start, stop_pid
from chaosllm.stress._usage import stress_outcome

__all__ = ["stress_cpu", "stress_memory", "fill_disk", "stop_stress"]

ROLLBACKS = {"stress_cpu": "stop_stress", "stress_memory": "stop_stress", "fill_disk": "stop_stress"}

# Refuse memory stress above this share of MemAvailable: the fault must load
# the target, not take the machine down.
MAX_SHARE_OF_AVAILABLE = 0.8


def _seconds(duration: str) -> float:
    seconds = fault_seconds(duration, allow_unbounded=False, what="stress run")
    assert seconds is not None
    return seconds


def _workers(workers: int, what: str, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(workers, bool) or not isinstance(workers, int) or not low <= workers <= 256:
        raise InvalidArgument(f"{what} must be an integer between {low} and 256, got {workers!r}")
    return workers


def _mem_available() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


@strict
def stress_cpu(
    workers: int = 0,
    load: int = 100,
    duration: str = "30s",
    name: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load `workers` CPUs (0 = every CPU) to `load` percent for `duration`.

    ```json
    {"type": "action", "name": "burn-cpu",
     "provider": {"type": "python", "module": "chaosllm.stress.actions",
                  "func": "stress_cpu",
                  "arguments": {"workers": 2, "load": 90, "duration": "60s"}}}
    ```
    """
    _workers(workers, "workers", allow_zero=True)
    if isinstance(load, bool) or not isinstance(load, int) or not 1 <= load <= 100:
        raise InvalidArgument(f"load must be a percentage between 1 and 100, got {load!r}")
    seconds = _seconds(duration)
    spec = {"workers": workers, "load": load, "duration": duration}
    early = before_stress("stress_cpu", name or "stress-cpu", spec, configuration, secrets)
    if early is not None:
        return early
    args = ["--cpu", str(workers), "--cpu-load", str(load)]
    return start("cpu", name or "stress-cpu", args, seconds, spec)


@strict
def stress_memory(
    size: str,
    workers: int = 1,
    duration: str = "30s",
    name: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Hold `size` of memory in total ("512M", "1G"), spread over `workers`,
    for `duration`. `size` is an absolute limit; it is refused when it is
    more than 80 % of the memory the machine has available.

    ```json
    {"type": "action", "name": "squeeze-memory",
     "provider": {"type": "python", "module": "chaosllm.stress.actions",
                  "func": "stress_memory",
                  "arguments": {"size": "512M", "duration": "60s"}}}
    ```
    """
    total = parse_size(size, "size")
    _workers(workers, "workers")
    seconds = _seconds(duration)
    spec = {"size": size, "bytes": total, "workers": workers, "duration": duration}
    available = _mem_available()
    early = before_stress("stress_memory", name or "stress-memory", spec, configuration, secrets,
                          available_bytes=available)  # fmt: skip
    if total > available * MAX_SHARE_OF_AVAILABLE:
        raise InvalidArgument(
            f"could not stress memory: size {size} is more than "
            f"{MAX_SHARE_OF_AVAILABLE:.0%} of the {available // 2**20} MiB available"
        )
    if early is not None:
        return early
    # stress-ng shares --vm-bytes among its vm workers: it is the total.
    args = ["--vm", str(workers), "--vm-bytes", str(total), "--vm-keep", "--vm-populate",
            "--oomable"]
    return start("memory", name or "stress-memory", args, seconds, spec)


@strict
def fill_disk(
    path: str,
    size: str = "256M",
    duration: str = "30s",
    name: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write up to `size` of files under the directory `path` for `duration`
    (stress-ng's hdd stressor); they are removed when the run ends. Refused
    when `size` is more than 90 % of the free space.

    ```json
    {"type": "action", "name": "fill-data-disk",
     "provider": {"type": "python", "module": "chaosllm.stress.actions",
                  "func": "fill_disk",
                  "arguments": {"path": "/var/lib/app", "size": "1G", "duration": "60s"}}}
    ```
    """
    total = parse_size(size, "size")
    seconds = _seconds(duration)
    if not isinstance(path, str) or not os.path.isdir(path):
        raise InvalidArgument(f"could not fill disk: {path!r} is not a directory")
    spec = {"path": path, "size": size, "bytes": total, "duration": duration}
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    early = before_stress("fill_disk", name or f"fill-disk-{path}", spec, configuration, secrets,
                          free_bytes=free)  # fmt: skip
    if total > free * 0.9:
        raise InvalidArgument(
            f"could not fill disk at {path}: size {size} is more than 90% of the "
            f"{free // 2**20} MiB free"
        )
    if early is not None:
        return early
    args = ["--hdd", "1", "--hdd-bytes", str(total), "--temp-path", path]
    return start("disk", name or f"fill-disk-{path}", args, seconds, spec)


@strict
def stop_stress(
    pid: int | None = None,
    name: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stop a stress run by its `pid` (from the fault handle) or its `name`;
    with neither, stop every run chaosllm started. `removed: false` when
    nothing was running.

    ```json
    {"type": "action", "name": "stop-cpu-burn",
     "provider": {"type": "python", "module": "chaosllm.stress.actions",
                  "func": "stop_stress", "arguments": {"name": "stress-cpu"}}}
    ```
    """
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid <= 1):
        raise InvalidArgument(f"pid must be a process id, got {pid!r}")
    entries = {k: v for k, v in Ledger().entries().items() if k.startswith(ENTRY_PREFIX)}
    if name is not None:
        entries = {k: v for k, v in entries.items() if k == ENTRY_PREFIX + name}
    if pid is not None:
        entries = {k: v for k, v in entries.items() if v["state"]["pid"] == pid}
    stopped = []
    for entry_id, entry in entries.items():
        result = restore_fault(entry_id)
        if (result.get("result") or {}).get("stopped"):
            stopped.append(entry["state"]["pid"])
    if pid is not None and not entries and stop_pid(pid):
        stopped.append(pid)
    return stress_outcome({"removed": bool(stopped), "pids": stopped}, name, pid)
