"""PodChaos fault actions: kill pods, make them fail, kill containers."""

from __future__ import annotations

from typing import Annotated, Any

from chaosllm.arguments import Range
from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._values import containers_field
from chaosllm.errors import InvalidArgument

__all__ = ["kill_pods", "fail_pods", "kill_containers"]


@fault_action("PodChaos", "pod-kill")
def kill_pods(grace_period: Annotated[int, Range(0)] = 0) -> dict[str, Any]:
    """Kill the selected pods (their controllers restart them).

    ```json
    {"type": "action", "name": "kill-one-gateway",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "kill_pods",
                  "arguments": {"label_selectors": "app=gateway", "mode": "one", "duration": "30s"}}}
    ```
    """
    return {"action": "pod-kill", "gracePeriod": grace_period}


@fault_action("PodChaos", "pod-failure")
def fail_pods() -> dict[str, Any]:
    """Make the selected pods fail (their containers replaced by a pause image) for `duration`.

    ```json
    {"type": "action", "name": "fail-catalog",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "fail_pods",
                  "arguments": {"label_selectors": "app=catalog", "duration": "60s"}}}
    ```
    """
    return {"action": "pod-failure"}


@fault_action("PodChaos", "container-kill")
def kill_containers(container_names: list[str]) -> dict[str, Any]:
    """Kill the named containers in the selected pods.

    ```json
    {"type": "action", "name": "kill-sidecar",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "kill_containers",
                  "arguments": {"label_selectors": "app=gateway", "container_names": ["envoy"],
                                "duration": "30s"}}}
    ```
    """
    if not container_names:
        raise InvalidArgument("container_names must name at least one container")
    return {"action": "container-kill", **containers_field(container_names)}
