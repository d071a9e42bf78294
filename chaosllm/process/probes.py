"""Probes of local processes."""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.process.procs import find

__all__ = ["process_count"]


@strict
def process_count(
    pattern: str | None = None,
    pidfile: str | None = None,
    state: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many live processes match `pattern` (a regular expression over the
    command line) or the PID in `pidfile`; `state` filters by the one-letter
    state of /proc ("T" = stopped, "S" = sleeping, "R" = running). The caller
    and its ancestors are not counted.

    ```json
    {"type": "probe", "name": "gateway-replicas",
     "provider": {"type": "python", "module": "chaosllm.process.probes",
                  "func": "process_count",
                  "arguments": {"pattern": "chaosllm.sandbox.app.gateway"}},
     "tolerance": {"type": "range", "range": [2, 10]}}
    ```
    """
    return len(find(pattern, pidfile, state=state))
