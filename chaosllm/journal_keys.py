"""The names chaosllm writes into a Chaos Toolkit journal.

The writers (the fault actions, the guard and the metrics control) and the
reader (``chaosllm.report``) both import these, so that a journal written by
one version is read by the same keys. This module imports nothing.
"""

from __future__ import annotations

__all__ = [
    "FAULT_HANDLE_KEYS",
    "GUARD_EXTENSION",
    "METRICS_EXTENSION",
    "SLO_TOLERANCE_MODULE",
]

# Keys every fault action's result carries; a result with all of them is a fault handle.
FAULT_HANDLE_KEYS = frozenset(("kind", "name", "target", "started_at", "expires_at"))
# The journal extension the abort guard writes its verdict to.
GUARD_EXTENSION = "chaosllm-guard"
# The journal extension the metrics control writes its series to.
METRICS_EXTENSION = "chaosllm-metrics"
# The module of the SLO tolerances, as experiments name it.
SLO_TOLERANCE_MODULE = "chaosllm.slo.tolerances"
