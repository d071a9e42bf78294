"""The "tenant-mgmt" service: tenants, their plans and per-tenant token rate limits.

``python -m chaosllm.sandbox.app.tenantmgmt --port N --postgres-dsn DSN``.
Plans (completion tokens per minute) and tenants come from PostgreSQL and
are read again every ``--refresh`` seconds. The gateway asks ``POST /admit``
with a tenant and the tokens a completion may use before it calls a model:
the service keeps one fixed one-minute window per tenant for every gateway
replica, and answers 200 (admitted, with what is left) or 429 with the
seconds until the window ends. An unknown tenant is a 404.

:func:`admit` is the gateway's side: it raises :class:`RateLimited` on a 429
and lets the request through (counting it) when the service cannot answer,
so that an outage of tenant-mgmt does not stop completions.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client import Counter

from chaosllm.sandbox.app._service import Service

__all__ = ["Limits", "RateLimited", "admit", "main"]

LIMITED = Counter("sandbox_tenant_rate_limited_total",
                  "Completion requests refused for a tenant over its token rate limit", ["tenant"])
ADMISSION_ERRORS = Counter("sandbox_tenant_admission_errors_total",
                           "Completion requests let through because tenant-mgmt did not answer")
ADMITTED_TOKENS = Counter("sandbox_tenant_tokens_admitted_total",
                          "Completion tokens admitted, by tenant", ["tenant"])


class Limits:
    """Per-tenant fixed one-minute windows of completion tokens."""

    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self.per_minute: dict[str, int] = {}
        self.plans: dict[str, str] = {}
        self.used: dict[str, tuple[int, int]] = {}  # tenant -> (window, tokens used)
        self.lock = threading.Lock()

    def load(self, tenants: dict[str, str], plans: dict[str, int]) -> None:
        with self.lock:
            self.plans = dict(tenants)
            self.per_minute = {t: plans.get(p, 0) for t, p in tenants.items()}

    def admit(self, tenant: str, tokens: int) -> tuple[int, dict[str, Any]]:
        if tenant not in self.per_minute:
            return 404, {"error": f"unknown tenant {tenant!r}"}
        now = self.clock()
        window = int(now // 60)
        with self.lock:
            limit = self.per_minute[tenant]
            start, used = self.used.get(tenant, (window, 0))
            used = used if start == window else 0
            if used + tokens > limit:
                LIMITED.labels(tenant).inc()
                return 429, {"admitted": False, "tenantId": tenant, "plan": self.plans[tenant],
                             "tokensPerMinute": limit, "used": used,
                             "retryAfter": math.ceil((window + 1) * 60 - now)}  # fmt: skip
            self.used[tenant] = (window, used + tokens)
        ADMITTED_TOKENS.labels(tenant).inc(tokens)
        return 200, {"admitted": True, "tenantId": tenant, "plan": self.plans[tenant],
                     "tokensPerMinute": limit, "remaining": limit - used - tokens}


class RateLimited(Exception):
    """A tenant is over its token rate limit."""


def admit(url: str, tenant: str, tokens: int, timeout: float = 0.3) -> None:
    """Ask tenant-mgmt at ``url`` to admit ``tokens`` for ``tenant``."""
    body = json.dumps({"tenantId": tenant, "tokens": tokens}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/admit", body,
                                     {"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        if exc.code == 429:
            refused = json.load(exc)
            raise RateLimited(f"tenant {tenant} is over its token rate limit "
                              f"({refused['tokensPerMinute']} tokens per minute); retry after "
                              f"{refused['retryAfter']} s") from None  # fmt: skip
        if exc.code == 404:
            raise ValueError(f"unknown tenant {tenant!r}") from None
        ADMISSION_ERRORS.inc()
    except (OSError, ValueError):
        ADMISSION_ERRORS.inc()


def _read(dsn: str) -> tuple[dict[str, str], dict[str, int]]:
    from chaosllm._clients.postgres import connect

    with connect(dsn, application_name="sandbox-tenant-mgmt") as conn:
        tenants = {r[0]: r[1] for r in conn.execute("SELECT id, plan FROM tenants")}
        plans = {r[0]: int(r[1]) for r in conn.execute(
            "SELECT plan, tokens_per_minute FROM tenant_plans")}
    return tenants, plans


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The sandbox tenant-mgmt service")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--postgres-dsn", required=True)
    parser.add_argument("--refresh", type=float, default=5.0, help="seconds between plan reloads")
    args = parser.parse_args(argv)
    limits = Limits()
    limits.load(*_read(args.postgres_dsn))

    def refresh() -> None:
        while True:
            time.sleep(args.refresh)
            try:
                limits.load(*_read(args.postgres_dsn))
            except Exception:  # keep the last plans while the database is away
                continue

    threading.Thread(target=refresh, daemon=True).start()

    def admit(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        tokens = body.get("tokens")
        if type(tokens) is not int or tokens < 1:
            return 400, {"error": "tokens must be a positive integer"}
        status, answer = limits.admit(str(body.get("tenantId")), tokens)
        return status, {**answer, "_route": "admit"}

    Service("tenant-mgmt", args.port, {"POST /admit": admit}).serve()


if __name__ == "__main__":
    main()
