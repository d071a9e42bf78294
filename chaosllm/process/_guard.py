"""What every process fault does before its first signal: the policy check and the dry run.

The pattern is checked before the processes are looked up, and their number
after, so that a forbidden pattern is refused even when nothing matches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaosllm.app_policy import check_target
from chaosllm.dry_run import Planned, Settings, preview_if_dry
from chaosllm.process.procs import Proc, shown_cmdline


def before_fault(
    action: str,
    planned: Planned,
    pattern: str | None,
    choose: Callable[[], list[Proc]],
    settings: Settings,
) -> tuple[list[Proc], dict[str, Any] | None]:
    """The processes chosen, and in a dry run the preview to return (else None)."""
    policy = check_target("process", action, None, configuration=settings[0], secrets=settings[1],
                          process=pattern)  # fmt: skip
    chosen = choose()
    check_target("process", action, None, policy=policy, process=pattern, processes=len(chosen))
    would = {"pids": [p.pid for p in chosen], "commands": [shown_cmdline(p) for p in chosen]}
    return chosen, preview_if_dry(planned, *settings, lambda: would)
