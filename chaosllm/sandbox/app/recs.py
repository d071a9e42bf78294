"""The "ml-recs" recommendations service: CPU-heavy on purpose.

``python -m chaosllm.sandbox.app.recs --port N``. Each request scores every
candidate model with a deliberately expensive hash loop, at most
``--workers`` at a time (its CPU limit). A request that waited longer than
``--max-wait`` for a slot is shed with 503, so that the service recovers by
itself once an overload stops.
"""

from __future__ import annotations

import argparse
import hashlib
import threading
import time
from typing import Any

from prometheus_client import Counter

from chaosllm.sandbox.app._service import Service

__all__ = ["score", "main"]

SHED = Counter("sandbox_recs_shed_total", "Recommendation requests shed after waiting too long")


def score(tenant: str, model: str, rounds: int) -> float:
    digest = f"{tenant}:{model}".encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return round(digest[0] / 255, 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The sandbox ml-recs service")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2000, help="hash rounds per model scored")
    parser.add_argument("--max-wait", type=float, default=1.0)
    args = parser.parse_args(argv)
    slots = threading.Semaphore(args.workers)

    def recommend(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        tenant, limit = str(body["tenantId"]), int(body.get("limit", 3))
        models = [str(m) for m in body.get("models", [])]
        if not slots.acquire(timeout=args.max_wait):
            SHED.inc()
            return 503, {"error": "overloaded", "_route": "recommend"}
        try:
            started = time.perf_counter()
            scored = sorted(((score(tenant, m, args.rounds), m) for m in models), reverse=True)
        finally:
            slots.release()
        return 200, {"_route": "recommend", "tenantId": tenant,
                     "computeSeconds": round(time.perf_counter() - started, 4),
                     "items": [{"modelId": m, "score": s} for s, m in scored[:limit]]}  # fmt: skip

    Service("ml-recs", args.port, {"POST /recommend": recommend}).serve()


if __name__ == "__main__":
    main()
