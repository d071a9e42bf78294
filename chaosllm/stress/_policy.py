"""What a stress run touches, for the blast-radius policy's ``stress`` section."""

from __future__ import annotations

import os
from typing import Any

from chaosllm.app_policy import check_target
from chaosllm.stress._stressng import parse_size

__all__ = ["stress_scope", "check_policy"]


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


def check_policy(func: str, args: dict[str, Any], configuration: Any, secrets: Any) -> None:
    """Refuse, before stress-ng starts, a stress run the blast-radius policy forbids."""
    check_target("stress", func, None, configuration=configuration, secrets=secrets,
                 **stress_scope(func, args))  # fmt: skip
