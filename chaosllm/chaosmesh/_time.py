"""TimeChaos fault action: shift the selected pods' clocks."""

from __future__ import annotations

from typing import Any

from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._values import containers_field
from chaosllm.faults import parse_duration

__all__ = ["shift_time"]


@fault_action("TimeChaos", "time-shift")
def shift_time(
    time_offset: str,
    clock_ids: list[str] | None = None,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Shift the selected pods' clocks by `time_offset` ("-10m", "1h").

    ```json
    {"type": "action", "name": "clock-skew",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "shift_time",
                  "arguments": {"label_selectors": "app=tenants", "time_offset": "-5m",
                                "duration": "60s"}}}
    ```
    """
    parse_duration(str(time_offset).lstrip("-+"), "time_offset")
    part: dict[str, Any] = {"timeOffset": str(time_offset)}
    if clock_ids:
        part["clockIds"] = list(clock_ids)
    return {**part, **containers_field(container_names)}
