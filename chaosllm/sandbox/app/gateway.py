"""One replica of the marketplace's GraphQL gateway.

``python -m chaosllm.sandbox.app.gateway --port N --postgres-dsn ... --redis-url ...
--rabbitmq-url ... --recs-url ...``. Every dependency is reached through the
fault proxy and guarded by a breaker and a bulkhead. The catalog and tenants
are read through a Redis cache that serves stale entries when PostgreSQL is
slow or gone; recommendations fall back to a popularity list; orders are
published with publisher confirms and written by the worker. Completions go
to the primary model provider (through the fault proxy) with retries and a
fallback provider (``completions.py``), once tenant-mgmt admitted the tokens
under the tenant's rate limit (a 429 otherwise); each request's tokens are
billed once, by its ``requestId``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from typing import Any

from prometheus_client import Counter

from chaosllm.sandbox.app._data import MODELS, ORDERS_QUEUE, Pool, declare_queues
from chaosllm.sandbox.app._resilience import FALLBACKS, Dependency, Unavailable
from chaosllm.sandbox.app._service import Service
from chaosllm.sandbox.app.completions import Completions, Provider
from chaosllm.sandbox.app.tenantmgmt import RateLimited, admit

__all__ = ["SDL", "Gateway", "main"]

SDL = """
type Model { id: ID! name: String! provider: String! pricePerMillionTokens: Float!
             contextWindow: Int! }
type Catalog { source: String! models: [Model!]! }
type Tenant { id: ID! name: String! plan: String! }
type Recommendation { model: Model! score: Float! }
type Recommendations { tenantId: ID! source: String! items: [Recommendation!]! }
type Order { orderId: ID! status: String! }
input OrderInput { orderId: ID! tenantId: ID! modelId: ID! tokens: Int! }
input CompletionInput { requestId: ID! tenantId: ID! prompt: String! maxTokens: Int = 16 }
type Completion { requestId: ID! text: String! provider: String! completionTokens: Int!
                  attempts: [String!]! billed: Boolean! }
type Query {
  catalog(provider: String): Catalog!
  model(id: ID!): Model
  tenants: [Tenant!]!
  recommendations(tenantId: ID!, limit: Int = 3): Recommendations!
}
type Mutation { placeOrder(input: OrderInput!): Order!
                complete(input: CompletionInput!): Completion! }
"""

CACHE = Counter("sandbox_cache_requests_total", "Cache lookups by result (hit, stale, miss)",
                ["cache", "result"])  # fmt: skip
ORDERS_ACCEPTED = Counter("sandbox_orders_accepted_total",
                          "Orders confirmed by the broker and accepted")  # fmt: skip
FRESH_FOR = 5.0  # seconds an entry is served without asking PostgreSQL
KEEP_FOR = 600  # seconds Redis keeps an entry to serve while PostgreSQL is away


class StaleCache:
    """Read-through cache: fresh hit, else one refresher per key while the others
    are served the stale copy; if the refresh fails, the stale copy is served."""

    def __init__(self, redis: Any, guard: Dependency, db: Dependency) -> None:
        self.redis, self.guard, self.db = redis, guard, db
        self._local: dict[str, tuple[Any, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        for result in ("hit", "stale", "miss"):
            for cache in ("catalog", "tenants"):
                CACHE.labels(cache, result)

    def _cached(self, key: str) -> tuple[Any, float] | None:
        try:
            raw = self.guard.call(lambda: self.redis.get(f"sandbox:{key}"))
        except Unavailable:
            raw = None
        if raw:
            entry = json.loads(raw)
            self._local[key] = (entry["v"], entry["at"])
            return entry["v"], entry["at"]
        return self._local.get(key)

    def get(self, key: str, load: Any) -> tuple[Any, str]:
        entry = self._cached(key)
        if entry is not None and time.time() - entry[1] < FRESH_FOR:
            CACHE.labels(key, "hit").inc()
            return entry[0], "cache"
        lock = self._locks.setdefault(key, threading.Lock())
        if not (lock.acquire(timeout=5) if entry is None else lock.acquire(blocking=False)):
            CACHE.labels(key, "stale").inc()
            return entry[0], "stale"  # type: ignore[index]
        try:
            value = self.db.call(load)
        except Unavailable:
            if entry is None:
                CACHE.labels(key, "miss").inc()
                raise
            FALLBACKS.labels("postgres", "stale_cache").inc()
            CACHE.labels(key, "stale").inc()
            return entry[0], "stale"
        finally:
            lock.release()
        CACHE.labels(key, "miss").inc()
        now = time.time()
        self._local[key] = (value, now)
        payload = json.dumps({"v": value, "at": now})
        try:
            self.guard.call(lambda: self.redis.set(f"sandbox:{key}", payload, ex=KEEP_FOR))
        except Unavailable:
            pass
        return value, "database"


class Publisher:
    """One confirmed AMQP channel per replica; pika is not thread-safe, so a lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._conn: Any = None
        self._channel: Any = None

    def publish(self, body: bytes) -> None:
        import pika

        with self._lock:
            try:
                if self._conn is None or self._conn.is_closed:
                    params = pika.URLParameters(self.url)
                    params.socket_timeout = 2
                    params.blocked_connection_timeout = 2
                    params.heartbeat = 0
                    self._conn = pika.BlockingConnection(params)
                    self._channel = self._conn.channel()
                    self._channel.confirm_delivery()
                    declare_queues(self._channel)
                # With confirms on, basic_publish returns only once the broker has
                # the message, and raises if it was nacked or unroutable.
                self._channel.basic_publish(
                    "", ORDERS_QUEUE, body, pika.BasicProperties(delivery_mode=2), mandatory=True
                )
            except Exception:
                conn, self._conn = self._conn, None
                if conn is not None and conn.is_open:
                    try:
                        conn.close()
                    except Exception:
                        pass
                raise


def _model(row: Any) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "provider": row[2],
            "pricePerMillionTokens": row[3], "contextWindow": row[4]}  # fmt: skip


class Gateway:
    """The GraphQL root: one method per top-level field."""

    def __init__(self, args: argparse.Namespace) -> None:
        import redis

        self.replica = args.replica
        self.recs_url = args.recs_url
        self.postgres = Dependency("postgres", max_concurrent=4, wait=1.0)
        self.redis_dep = Dependency("redis", max_concurrent=16, wait=0.2)
        self.rabbitmq = Dependency("rabbitmq", max_concurrent=8, wait=2.0)
        self.recs = Dependency("ml-recs", max_concurrent=4, wait=0.05)
        self.pool = Pool(args.postgres_dsn, 4, f"sandbox-gateway-{args.replica}")
        client = redis.Redis.from_url(args.redis_url, socket_timeout=0.3,
                                      socket_connect_timeout=0.3)  # fmt: skip
        self.cache = StaleCache(client, self.redis_dep, self.postgres)
        self.publisher = Publisher(args.rabbitmq_url)
        self._route = threading.local()
        self.models: Completions | None = None
        self.tenants_url: str | None = args.tenants_url
        if args.llm_primary_url:
            fallback = Provider("fallback", args.llm_fallback_url, args.llm_fallback_model) \
                if args.llm_fallback_url else None
            self.models = Completions(Provider("primary", args.llm_primary_url, args.llm_primary_model),
                                      fallback, first_token_deadline=args.first_token_deadline)  # fmt: skip

    def _models(self) -> tuple[list[dict[str, Any]], str]:
        def load() -> list[dict[str, Any]]:
            return self.pool.run(lambda c: [_model(r) for r in c.execute(
                "SELECT id, name, provider, price_per_mtok, context_window FROM models ORDER BY id"
            )])  # fmt: skip

        try:
            value, source = self.cache.get("catalog", load)
        except Unavailable:
            # Even with cache and database gone the catalog is not empty: the
            # built-in list is the last resort.
            FALLBACKS.labels("postgres", "builtin").inc()
            return [_model(r) for r in MODELS], "builtin"
        return value, source

    # GraphQL resolvers: graphql-core calls them with (info, **arguments).
    def catalog(self, info: Any, provider: str | None = None) -> dict[str, Any]:
        models, source = self._models()
        if provider:
            models = [m for m in models if m["provider"] == provider]
        return {"source": source, "models": models}

    def model(self, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
        return next((m for m in self._models()[0] if m["id"] == id), None)

    def tenants(self, info: Any) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            rows = self.pool.run(lambda c: list(c.execute(
                "SELECT id, name, plan FROM tenants ORDER BY id")))  # fmt: skip
            return [{"id": r[0], "name": r[1], "plan": r[2]} for r in rows]

        return list(self.cache.get("tenants", load)[0])

    def recommendations(self, info: Any, tenantId: str, limit: int = 3) -> dict[str, Any]:  # noqa: N803
        models = self._models()[0]
        by_id = {m["id"]: m for m in models}

        def ask() -> list[dict[str, Any]]:
            body = json.dumps({"tenantId": tenantId, "limit": limit, "models": list(by_id)})
            req = urllib.request.Request(self.recs_url + "/recommend", body.encode(),
                                         {"Content-Type": "application/json"})  # fmt: skip
            with urllib.request.urlopen(req, timeout=0.5) as resp:
                return list(json.load(resp)["items"])

        try:
            items = self.recs.call(ask)
            source = "ml-recs"
        except Unavailable:
            FALLBACKS.labels("ml-recs", "popular").inc()
            cheapest = sorted(models, key=lambda m: m["pricePerMillionTokens"])[:limit]
            items = [{"modelId": m["id"], "score": 0.0} for m in cheapest]
            source = "fallback"
        return {"tenantId": tenantId, "source": source,
                "items": [{"model": by_id[i["modelId"]], "score": i["score"]}
                          for i in items if i["modelId"] in by_id]}  # fmt: skip

    def placeOrder(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: N802,A002
        if input["tokens"] <= 0:
            raise ValueError("tokens must be positive")
        body = json.dumps({k: input[k] for k in ("orderId", "tenantId", "modelId", "tokens")})
        self.rabbitmq.call(lambda: self.publisher.publish(body.encode()))
        ORDERS_ACCEPTED.inc()
        return {"orderId": input["orderId"], "status": "accepted"}

    def complete(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        if self.models is None:
            raise Unavailable("no model provider is configured (--llm-primary-url)")
        max_tokens = int(input.get("maxTokens") or 16)
        if not 1 <= max_tokens <= 1024:
            raise ValueError("maxTokens must be from 1 to 1024")
        if self.tenants_url:
            admit(self.tenants_url, str(input["tenantId"]), max_tokens)
        answer = self.models.complete(str(input["prompt"]), max_tokens)

        def bill(conn: Any) -> bool:
            cur = conn.execute(
                "INSERT INTO llm_usage (request_id, tenant_id, provider, prompt_tokens, completion_tokens)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (request_id) DO NOTHING",
                (input["requestId"], input["tenantId"], answer.provider, answer.prompt_tokens,
                 answer.completion_tokens),
            )  # fmt: skip
            return bool(cur.rowcount == 1)

        billed = self.postgres.call(lambda: self.pool.run(bill))
        return {"requestId": input["requestId"], "text": answer.text, "provider": answer.provider,
                "completionTokens": answer.completion_tokens, "attempts": answer.attempts,
                "billed": billed}  # fmt: skip

    def health(self) -> dict[str, Any]:
        deps = (self.postgres, self.redis_dep, self.rabbitmq, self.recs)
        return {"status": "ok", "replica": self.replica,
                "dependencies": {d.name: d.status() for d in deps}}  # fmt: skip


def build_handler(gateway: Gateway) -> Any:
    from graphql import build_schema, graphql_sync, parse

    schema = build_schema(SDL)

    def handle(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        source = body.get("query")
        if not isinstance(source, str):
            return 400, {"errors": [{"message": "a JSON body with 'query' is required"}]}
        route = "graphql"
        try:
            op = parse(source).definitions[0]
            route = op.selection_set.selections[0].name.value  # type: ignore[attr-defined]
        except Exception:
            pass
        result = graphql_sync(schema, source, root_value=gateway,
                              variable_values=body.get("variables"))  # fmt: skip
        payload: dict[str, Any] = {"data": result.data, "_route": route}
        if result.errors:
            payload["errors"] = [{"message": e.message} for e in result.errors]
            unavailable = any(isinstance(e.original_error, Unavailable) for e in result.errors)
            limited = any(isinstance(e.original_error, RateLimited) for e in result.errors)
            return (503 if unavailable else 429 if limited else 400), payload
        return 200, payload

    return handle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One replica of the sandbox GraphQL gateway")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--replica", type=int, default=0)
    parser.add_argument("--postgres-dsn", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--rabbitmq-url", required=True)
    parser.add_argument("--recs-url", required=True)
    parser.add_argument("--llm-primary-url", help="the primary model provider (through the proxy)")
    parser.add_argument("--llm-primary-model", default="sandbox-primary")
    parser.add_argument("--llm-fallback-url", help="the fallback model provider")
    parser.add_argument("--llm-fallback-model", default="sandbox-fallback")
    parser.add_argument("--first-token-deadline", type=float, default=2.0)
    parser.add_argument("--tenants-url", help="tenant-mgmt, which admits completion tokens per tenant")
    args = parser.parse_args(argv)
    gateway = Gateway(args)
    Service("gateway", args.port, {"POST /graphql": build_handler(gateway)},
            health=gateway.health).serve()  # fmt: skip


if __name__ == "__main__":
    main()
