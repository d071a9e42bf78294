"""Whether the orders accepted during a load run reached PostgreSQL, each exactly once.

The gateway accepts an order once the broker confirmed it; the worker writes
it to the ``orders`` table. Comparing the two, after the queue had time to
drain, is the sandbox's data-consistency check.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["compare_orders"]


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
