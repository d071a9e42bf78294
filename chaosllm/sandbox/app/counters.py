"""The application's Prometheus counters, read back: how much one rose over a window.

Probes judge "breakers open when a dependency fails" from the counters the
services export (``sandbox_dependency_failures_total``,
``sandbox_circuit_breaker_opens_total``, ``sandbox_fallbacks_total``, all
labelled by ``dependency``), over the current load run unless a window is
given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.sandbox.app.loadrun import since

__all__ = ["DEPENDENCY_FAILURES", "BREAKER_OPENS", "FALLBACKS", "promql_range", "failures_imply"]

DEPENDENCY_FAILURES = "sandbox_dependency_failures_total"
BREAKER_OPENS = "sandbox_circuit_breaker_opens_total"
FALLBACKS = "sandbox_fallbacks_total"


def promql_range(directory: Path, window: str | None) -> str:
    """``window``, or the time since the current load run started ("5m" when unknown)."""
    start = since(directory, window)
    return f"{max(1, int(time.time() - start) + 1)}s" if start else "5m"


def _label(value: str) -> str:
    if not isinstance(value, str) or not value.replace("-", "").isalnum():
        raise InvalidArgument(f"dependency {value!r} must be a name such as 'postgres' or 'ml-recs'")
    return value


def _increase(counter: str, selector: str, window: str, configuration: Any, secrets: Any) -> float:
    from chaosllm.slo.promql import query_number

    query = f"sum(increase({counter}{{{selector}}}[{window}]))"
    return float(query_number("read a counter", query, None, configuration, secrets) or 0.0)


def failures_imply(outcome: str, dependency: str, directory: Path, window: str | None,
                   min_failures: int, configuration: Any, secrets: Any,
                   failure_reason: str | None = None) -> bool:  # fmt: skip
    """True when calls to ``dependency`` failed fewer than ``min_failures`` times
    in ``window`` (with ``failure_reason`` only, if given), or when they did and
    the ``outcome`` counter rose too."""
    selector = f'dependency="{_label(dependency)}"'
    window = promql_range(directory, window)
    failed = selector + (f',reason="{failure_reason}"' if failure_reason else "")
    if _increase(DEPENDENCY_FAILURES, failed, window, configuration, secrets) < min_failures:
        return True
    return _increase(outcome, selector, window, configuration, secrets) > 0
