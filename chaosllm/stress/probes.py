"""Probes of the stress runs chaosllm started."""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.faults import Ledger
from chaosllm.process.procs import read_proc
from chaosllm.stress._stressng import ENTRY_PREFIX

__all__ = ["stress_runs"]


@strict
def stress_runs(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The stress-ng runs still going: name, PID, spec and deadline.

    ```json
    {"type": "probe", "name": "no-stress-left",
     "provider": {"type": "python", "module": "chaosllm.stress.probes",
                  "func": "stress_runs"},
     "tolerance": []}
    ```
    """
    runs = []
    for entry_id, entry in sorted(Ledger().entries().items()):
        if not entry_id.startswith(ENTRY_PREFIX):
            continue
        state = entry["state"]
        proc = read_proc(state["pid"])
        if proc is None or proc.start != state["start"] or proc.state in ("Z", "X"):
            continue
        runs.append({"name": entry_id[len(ENTRY_PREFIX):], "pid": state["pid"],
                     "spec": state["spec"], "expires_at": entry.get("expires_at")})
    return runs
