"""What every process fault does before its first signal: the policy check and the dry run.

The pattern is checked before the processes are looked up, and their number
after, so that a forbidden pattern is refused even when nothing matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaosllm.app_policy import check_target
from chaosllm.dry_run import dry_run_requested, preview
from chaosllm.process.procs import Proc, describe, shown_cmdline


def before_fault(
    action: str,
    kind: str,
    name: str,
    pattern: str | None,
    pidfile: str | None,
    choose: Callable[[], list[Proc]],
    spec: dict[str, Any],
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> tuple[list[Proc], dict[str, Any] | None]:
    """The processes chosen, and in a dry run the preview to return (else None)."""
    policy = check_target("process", action, None, configuration=configuration, secrets=secrets,
                          process=pattern)  # fmt: skip
    chosen = choose()
    check_target("process", action, None, policy=policy, process=pattern, processes=len(chosen))
    if not dry_run_requested(None, configuration, secrets):
        return chosen, None
    would = {"pids": [p.pid for p in chosen], "commands": [shown_cmdline(p) for p in chosen]}
    return chosen, preview(kind, name, describe(pattern, pidfile), spec, would)
