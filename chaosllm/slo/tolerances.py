"""Tolerances for probe results: ``below``, ``above``, ``between`` and ``slo_met``.

Use them as Chaos Toolkit probe tolerances; Chaos Toolkit passes the probe's
result as ``value``, and the threshold stays in the journal with the
tolerance's arguments::

    "tolerance": {"type": "probe", "name": "error-ratio-under-1-percent",
                  "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                               "func": "below", "arguments": {"threshold": "1%"}}}

Thresholds are numbers, percentages ("1%") or durations ("500ms" = 0.5).
A dict result (``slo_status``) is tested on ``target`` (default ``"value"``).
No data (``null``) never passes, unless ``allow_no_data`` is true.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.thresholds import parse_threshold

__all__ = ["below", "above", "between", "slo_met", "no_alerts"]

logger = logging.getLogger("chaostoolkit")


def _number(value: Any, target: str | None) -> float | None:
    if isinstance(value, dict):
        value = value.get(target or "value")
    elif target is not None:
        raise InvalidArgument(f"target {target!r} given, but the probe returned {type(value).__name__}")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"expected a number to compare, got {value!r}")
    return float(value)


def _judge(name: str, value: Any, target: str | None, allow_no_data: bool,
           test: Callable[[float], bool]) -> bool:
    number = _number(value, target)
    if number is None:
        logger.info("tolerance %s: no data", name)
        return allow_no_data
    return test(number)


def below(
    value: Any = None,
    threshold: float | str = 0.0,
    inclusive: bool = False,
    target: str | None = None,
    allow_no_data: bool = False,
) -> bool:
    """True when the probe's value is under ``threshold`` (or equal, if ``inclusive``).

    ```json
    {"type": "probe", "name": "p95-under-500ms",
     "provider": {"type": "python", "module": "chaosllm.slo.tolerances", "func": "below",
                  "arguments": {"threshold": "500ms", "inclusive": true}}}
    ```
    """
    limit = parse_threshold(threshold)
    return _judge("below", value, target, allow_no_data,
                  lambda n: n <= limit if inclusive else n < limit)


def above(
    value: Any = None,
    threshold: float | str = 0.0,
    inclusive: bool = False,
    target: str | None = None,
    allow_no_data: bool = False,
) -> bool:
    """True when the probe's value is over ``threshold`` (or equal, if ``inclusive``).

    ```json
    {"type": "probe", "name": "availability-over-95-percent",
     "provider": {"type": "python", "module": "chaosllm.slo.tolerances", "func": "above",
                  "arguments": {"threshold": "95%", "inclusive": true}}}
    ```
    """
    limit = parse_threshold(threshold)
    return _judge("above", value, target, allow_no_data,
                  lambda n: n >= limit if inclusive else n > limit)


def between(
    value: Any = None,
    lower: float | str = 0.0,
    upper: float | str = 0.0,
    target: str | None = None,
    allow_no_data: bool = False,
) -> bool:
    """True when ``lower <= value <= upper``.

    ```json
    {"type": "probe", "name": "hit-ratio-normal",
     "provider": {"type": "python", "module": "chaosllm.slo.tolerances", "func": "between",
                  "arguments": {"lower": 0.8, "upper": 1.0}}}
    ```
    """
    low, high = parse_threshold(lower, "lower"), parse_threshold(upper, "upper")
    if low > high:
        raise InvalidArgument(f"between: lower {low:g} is above upper {high:g}")
    return _judge("between", value, target, allow_no_data, lambda n: low <= n <= high)


def slo_met(value: Any = None, max_burn_rate: float | None = None) -> bool:
    """True when an ``slo_status`` result is met (and burns no faster than ``max_burn_rate``).

    ```json
    {"type": "probe", "name": "slo-met",
     "provider": {"type": "python", "module": "chaosllm.slo.tolerances", "func": "slo_met",
                  "arguments": {"max_burn_rate": 10}}}
    ```
    """
    if not isinstance(value, dict) or "met" not in value:
        raise InvalidArgument("slo_met expects the result of chaosllm.slo.probes.slo_status")
    if value.get("met") is not True:
        return False
    burn = value.get("burn_rate")
    return max_burn_rate is None or burn is None or float(burn) <= float(max_burn_rate)


def no_alerts(value: Any = None, severity: str | None = None) -> bool:
    """True when an ``alertmanager_alerts`` result holds no alert (of ``severity``, if given).

    ```json
    {"type": "probe", "name": "no-critical-alert",
     "provider": {"type": "python", "module": "chaosllm.slo.tolerances", "func": "no_alerts",
                  "arguments": {"severity": "critical"}}}
    ```
    """
    if not isinstance(value, dict) or not isinstance(value.get("alerts"), list):
        raise InvalidArgument("no_alerts expects the result of "
                              "chaosllm.alertmanager.probes.alertmanager_alerts")
    return not [a for a in value["alerts"]
                if severity is None or (a.get("labels") or {}).get("severity") == severity]
