"""StressChaos fault actions: CPU and memory stressors inside the selected pods."""

from __future__ import annotations

import re
from typing import Annotated, Any

from chaosllm.arguments import Range
from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._values import containers_field
from chaosllm.errors import InvalidArgument

__all__ = ["stress_cpu", "stress_memory"]


@fault_action("StressChaos", "stress-cpu")
def stress_cpu(
    workers: Annotated[int, Range(1, 8192)] = 1,
    load: Annotated[int, Range(0, 100)] = 50,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Load the selected pods' CPU: `workers` stressors each at `load` percent.

    ```json
    {"type": "action", "name": "burn-cpu",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "stress_cpu",
                  "arguments": {"label_selectors": "app=inference", "workers": 2, "load": 80,
                                "duration": "2m"}}}
    ```
    """
    return {"stressors": {"cpu": {"workers": workers, "load": load}},
            **containers_field(container_names)}


@fault_action("StressChaos", "stress-memory")
def stress_memory(
    workers: Annotated[int, Range(1, 8192)] = 1,
    size: str = "256MB",
    oom_score_adj: Annotated[int, Range(-1000, 1000)] = 0,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Allocate `size` of memory ("256MB", "50%") in each of `workers` stressors in the selected pods.

    ```json
    {"type": "action", "name": "memory-pressure",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "stress_memory",
                  "arguments": {"label_selectors": "app=inference", "size": "1GB", "duration": "2m"}}}
    ```
    """
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)?", str(size)):
        raise InvalidArgument(f"size {size!r} must be an amount such as '256MB' or '50%'")
    memory = {"workers": workers, "size": size, "oomScoreAdj": oom_score_adj}
    return {"stressors": {"memory": memory}, **containers_field(container_names)}
