"""What every stress fault does before stress-ng starts: the policy check and the dry run.

The policy's ``stress`` section bounds what a run touches; in a dry run the
fault returns what it would start and starts nothing.
"""

from __future__ import annotations

import os
from typing import Any

from chaosllm.app_policy import check_target
from chaosllm.dry_run import Planned, preview_if_dry
from chaosllm.stress._stressng import parse_size

__all__ = ["stress_scope", "before_stress"]


def stress_scope(func: str, args: Any) -> dict[str, Any]:
    """What a stress fault touches, as the blast-radius policy sees it (``stress`` section)."""
    kind = {"stress_cpu": "cpu", "stress_memory": "memory", "fill_disk": "disk"}[func]
    scope: dict[str, Any] = {"stress": kind}
    workers = args.get("workers", 0 if kind == "cpu" else 1)
    if kind != "disk" and isinstance(workers, int) and not isinstance(workers, bool):
        scope["workers"] = workers
    if kind == "cpu" and isinstance(args.get("load", 100), int):
        scope["load"] = args.get("load", 100)
    if kind != "cpu" and isinstance(args.get("size"), str):
        scope["size_mb"] = parse_size(args["size"], "size") / 2**20
    if kind == "disk" and isinstance(args.get("path"), str):
        scope["path"] = os.path.realpath(args["path"])
    return scope


def before_stress(
    func: str, name: str, spec: dict[str, Any], configuration: Any, secrets: Any, **machine: Any
) -> dict[str, Any] | None:
    """Refuse a stress run the blast-radius policy forbids; in a dry run, the preview to return
    (what it would start, and ``machine``: what the machine has, such as the memory available)."""
    scope = stress_scope(func, spec)
    check_target("stress", func, None, configuration=configuration, secrets=secrets, **scope)
    planned = Planned(f"stress-{scope['stress']}", name, "localhost", spec)
    return preview_if_dry(planned, configuration, secrets,
                          lambda: {**scope, "cpus": os.cpu_count(), **machine})  # fmt: skip
