"""NetworkChaos fault actions: delay, loss, duplication, corruption, bandwidth and partition.

Every one of them also takes the family's arguments (:func:`_network_arguments`):
the direction and the pods or external hosts on the other side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from chaosllm.arguments import Range
from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._selector import SELECTOR_KEYS, check_mode
from chaosllm.chaosmesh._values import check_latency, check_percent
from chaosllm.errors import InvalidArgument

UINT32 = 2**32 - 1  # the tc bucket fields are 32-bit

__all__ = [
    "inject_network_delay",
    "inject_network_loss",
    "inject_network_duplicate",
    "inject_network_corrupt",
    "inject_network_bandwidth",
    "inject_network_partition",
]

DIRECTIONS = ("to", "from", "both")

def _network_arguments(
    direction: str = "to",
    target: dict[str, Any] | None = None,
    external_targets: list[str] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Network arguments (every NetworkChaos action): `direction` ("to", "from" or
    "both"; the last two need a `target`), `target` (the pods on the other
    side: `{"selector": {...}, "mode": "all"}`), `external_targets` (IPs,
    CIDRs or host names outside the cluster) and `device` (the interface).
    """
    if direction not in DIRECTIONS:
        raise InvalidArgument(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    part: dict[str, Any] = {"direction": direction}
    if target:
        unknown = sorted(set(target) - {"selector", "mode", "value"})
        if unknown or not isinstance(target.get("selector"), Mapping):
            raise InvalidArgument(
                "target must be {'selector': {...}, 'mode': ..., 'value': ...}"
                + (f"; unknown field(s) {', '.join(unknown)}" if unknown else "")
            )
        bad = sorted(set(target["selector"]) - set(SELECTOR_KEYS))
        if bad:
            raise InvalidArgument(f"target selector has unknown field(s) {', '.join(bad)}")
        mode = str(target.get("mode", "all"))
        value = check_mode(mode, target.get("value"))
        part["target"] = {"selector": dict(target["selector"]), "mode": mode,
                          **({"value": value} if value else {})}
    if external_targets:
        part["externalTargets"] = [str(t) for t in external_targets]
    if direction != "to" and not target:
        raise InvalidArgument(f"direction {direction!r} needs a target (pods to cut off from)")
    if device:
        part["device"] = device
    return part


def _netem(action: str, percent: str | float, correlation: str | float) -> dict[str, Any]:
    """Loss, duplicate and corrupt: a percentage of packets and its correlation."""
    amounts = {action: check_percent(percent, action),
               "correlation": check_percent(correlation, "correlation")}
    return {"action": action, action: amounts}


@fault_action("NetworkChaos", "network-delay", shared=_network_arguments)
def inject_network_delay(
    latency: str = "100ms", jitter: str = "0ms", correlation: str | float = "0"
) -> dict[str, Any]:
    """Delay the selected pods' network traffic by `latency` (± `jitter`).

    ```json
    {"type": "action", "name": "slow-catalog",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_delay",
                  "arguments": {"namespace": "shop", "label_selectors": "app=catalog",
                                "latency": "200ms", "duration": "60s"}}}
    ```
    """
    delay = {"latency": check_latency(latency, "latency"), "jitter": check_latency(jitter, "jitter"),
             "correlation": check_percent(correlation, "correlation")}
    return {"action": "delay", "delay": delay}


@fault_action("NetworkChaos", "network-loss", shared=_network_arguments)
def inject_network_loss(loss: str | float = "10", correlation: str | float = "0") -> dict[str, Any]:
    """Drop `loss` percent of the selected pods' packets.

    ```json
    {"type": "action", "name": "lossy-gateway",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_loss",
                  "arguments": {"label_selectors": "app=gateway", "loss": "25", "duration": "30s"}}}
    ```
    """
    return _netem("loss", loss, correlation)


@fault_action("NetworkChaos", "network-duplicate", shared=_network_arguments)
def inject_network_duplicate(duplicate: str | float = "10", correlation: str | float = "0") -> dict[str, Any]:
    """Duplicate `duplicate` percent of the selected pods' packets.

    ```json
    {"type": "action", "name": "duplicate-packets",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_duplicate",
                  "arguments": {"label_selectors": "app=queue", "duplicate": "40", "duration": "30s"}}}
    ```
    """
    return _netem("duplicate", duplicate, correlation)


@fault_action("NetworkChaos", "network-corrupt", shared=_network_arguments)
def inject_network_corrupt(corrupt: str | float = "10", correlation: str | float = "0") -> dict[str, Any]:
    """Corrupt `corrupt` percent of the selected pods' packets.

    ```json
    {"type": "action", "name": "corrupt-packets",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_corrupt",
                  "arguments": {"label_selectors": "app=queue", "corrupt": "5", "duration": "30s"}}}
    ```
    """
    return _netem("corrupt", corrupt, correlation)


@fault_action("NetworkChaos", "network-bandwidth", shared=_network_arguments)
def inject_network_bandwidth(
    rate: str = "1mbps",
    limit: Annotated[int, Range(1, UINT32)] = 20971520,
    buffer: Annotated[int, Range(1, UINT32)] = 10000,
    peakrate: Annotated[int, Range(0)] | None = None,
    minburst: Annotated[int, Range(0, UINT32)] | None = None,
) -> dict[str, Any]:
    """Limit the selected pods' bandwidth to `rate` (a token bucket: `limit` bytes queued, `buffer` burst).

    ```json
    {"type": "action", "name": "thin-pipe",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_bandwidth",
                  "arguments": {"label_selectors": "app=recommendations", "rate": "1mbps",
                                "duration": "2m"}}}
    ```
    """
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(bps|kbps|mbps|gbps|tbps)", str(rate).lower()):
        raise InvalidArgument(f"rate {rate!r} must be a number and unit such as '1mbps' or '500kbps'")
    bandwidth: dict[str, Any] = {"rate": rate.lower(), "limit": limit, "buffer": buffer}
    if peakrate is not None:
        bandwidth["peakrate"] = peakrate
    if minburst is not None:
        bandwidth["minburst"] = minburst
    return {"action": "bandwidth", "bandwidth": bandwidth}


@fault_action("NetworkChaos", "network-partition", shared=_network_arguments)
def inject_network_partition() -> dict[str, Any]:
    """Cut the selected pods off from `target` pods and/or `external_targets`.

    ```json
    {"type": "action", "name": "split-db",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_partition",
                  "arguments": {"label_selectors": "app=catalog", "direction": "both",
                                "target": {"selector": {"labelSelectors": {"app": "postgres"}},
                                           "mode": "all"},
                                "duration": "30s"}}}
    ```
    """
    return {"action": "partition"}
