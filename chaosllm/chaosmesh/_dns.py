"""DNSChaos fault action: make the selected pods' DNS lookups fail or return random addresses."""

from __future__ import annotations

from typing import Any

from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._values import containers_field
from chaosllm.errors import InvalidArgument

__all__ = ["inject_dns_fault"]


@fault_action("DNSChaos", "dns")
def inject_dns_fault(
    action: str = "error",
    patterns: list[str] | None = None,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Make DNS lookups of `patterns` fail ("error") or return random addresses ("random").

    ```json
    {"type": "action", "name": "dns-outage",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_dns_fault",
                  "arguments": {"label_selectors": "app=gateway", "patterns": ["*.svc.cluster.local"],
                                "duration": "30s"}}}
    ```
    """
    if action not in ("error", "random"):
        raise InvalidArgument(f"action must be 'error' or 'random', got {action!r}")
    part: dict[str, Any] = {"action": action}
    if patterns:
        part["patterns"] = list(patterns)
    return {**part, **containers_field(container_names)}
