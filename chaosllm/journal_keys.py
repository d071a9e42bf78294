"""The names chaosllm writes into a Chaos Toolkit journal.

The writers (the fault actions, the guard and the metrics control) and the
reader (``chaosllm.report``) both import these, so that a journal written by
one version is read by the same keys. This module imports nothing.
"""

from __future__ import annotations

__all__ = [
    "EFFECT_KEY",
    "EFFECTS",
    "ENDED_AT_KEY",
    "EVIDENCE_KEY",
    "FAULT_HANDLE_KEYS",
    "GUARD_EXTENSION",
    "LOAD_EXTENSION",
    "METRICS_EXTENSION",
    "REMOVED_KEY",
    "ROLLBACKS_EXTENSION",
    "SLO_TOLERANCE_MODULE",
    "VERDICTS",
]

# Keys every fault action's result carries; a result with all of them is a fault handle.
FAULT_HANDLE_KEYS = frozenset(("kind", "name", "target", "started_at", "expires_at"))
# The journal extension the abort guard writes its verdict to.
GUARD_EXTENSION = "chaosllm-guard"
# The journal extension the rollbacks control writes what it rolled back and what is left to.
ROLLBACKS_EXTENSION = "chaosllm-rollbacks"
# The journal extension the metrics control writes its series to.
METRICS_EXTENSION = "chaosllm-metrics"
# The journal extension the sandbox's load control writes its request summary to.
LOAD_EXTENSION = "sandbox-load"
# The module of the SLO tolerances, as experiments name it.
SLO_TOLERANCE_MODULE = "chaosllm.slo.tolerances"

# Every fault action's result says whether its fault took effect, measured on the
# target where the target can tell: EFFECT_KEY holds one of EFFECTS and
# EVIDENCE_KEY a flat mapping of what was measured (counts, seconds, PIDs), with
# a "reason" entry when the effect is "unknown". A lasting fault whose effect
# builds up over its window (a latency toxic) may answer "unknown" when applied;
# its rollback's result then carries the final EFFECT_KEY and EVIDENCE_KEY for
# the whole window, and a report takes the rollback's over the action's.
EFFECT_KEY = "effect"
EVIDENCE_KEY = "evidence"
EFFECTS = ("observed", "none", "unknown")
# A rollback's result: whether it removed anything (False when the fault was
# already gone), and when, as an ISO 8601 UTC timestamp.
REMOVED_KEY = "removed"
ENDED_AT_KEY = "ended_at"

# The one verdict a report gives each run.
VERDICTS = ("passed", "failed", "inconclusive", "aborted", "interrupted")
