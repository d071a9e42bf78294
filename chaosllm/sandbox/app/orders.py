"""Whether the orders accepted during a load run reached PostgreSQL, each exactly once,
and whether each answered completion was billed once, to the provider that answered.

The gateway accepts an order once the broker confirmed it; the worker writes
it to the ``orders`` table. Comparing the two, after the queue had time to
drain, is the sandbox's data-consistency check. A completion is billed in
``llm_usage`` under its request id, once, whatever retries and fallback it
took.
"""

from __future__ import annotations

import time
from typing import Any

from chaosllm.slo._criterion import criterion

__all__ = ["compare_orders", "compare_billing"]


def compare_orders(accepted: list[str], dsn: str, timeout: float, configuration: Any,
                   secrets: Any) -> dict[str, Any]:  # fmt: skip
    """Accepted, persisted, missing and duplicated orders, waiting up to
    ``timeout`` seconds for the missing ones to arrive."""
    from chaosllm._clients.postgres import postgres_connection

    deadline = time.monotonic() + timeout
    while True:
        with postgres_connection("check orders", dsn, configuration, secrets) as conn:
            rows = conn.execute(
                "SELECT order_id, count(*) FROM orders WHERE order_id = ANY(%s) GROUP BY order_id",
                (accepted,),
            ).fetchall()
        persisted = {r[0]: r[1] for r in rows}
        missing = [o for o in accepted if o not in persisted]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    duplicates = sum(1 for c in persisted.values() if c > 1)
    return {"accepted": len(accepted), "persisted": len(persisted), "missing": len(missing),
            "duplicates": duplicates, "missing_sample": missing[:5],
            "consistent": not missing and not duplicates}  # fmt: skip


def compare_billing(answered: dict[str, str], dsn: str, configuration: Any,
                    secrets: Any) -> dict[str, Any]:  # fmt: skip
    """Answered completions (request id -> provider) against their ``llm_usage`` rows."""
    from chaosllm._clients.postgres import postgres_connection

    with postgres_connection("check billing", dsn, configuration, secrets) as conn:
        rows = conn.execute(
            "SELECT request_id, provider, count(*) FROM llm_usage WHERE request_id = ANY(%s)"
            " GROUP BY request_id, provider", (list(answered),),
        ).fetchall()
    billed: dict[str, list[str]] = {}
    for request_id, provider, count in rows:
        billed.setdefault(request_id, []).extend([provider] * int(count))
    unbilled = [r for r in answered if r not in billed]
    twice = [r for r, providers in billed.items() if len(providers) > 1]
    wrong = [r for r, providers in billed.items() if answered[r] not in providers]
    return criterion(bool(answered) and not unbilled and not twice and not wrong,
                     answered=len(answered), billed=len(billed), unbilled=len(unbilled),
                     billed_twice=len(twice), billed_to_another_provider=len(wrong),
                     fallback_answers=sum(1 for p in answered.values() if p != "primary"))
