"""The marketplace's data: schema, seed rows, queue names and a tiny pool.

PostgreSQL is the source of truth for models, tenants, orders and token usage.
Orders are unique by ``order_id`` and usage by ``request_id``, which makes the
worker's writes and the gateway's billing idempotent.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["SCHEMA", "MODELS", "TENANTS", "PLANS", "ORDERS_QUEUE", "DEAD_QUEUE", "QUEUE_ARGUMENTS",
           "seed", "declare_queues", "Pool"]  # fmt: skip

T = TypeVar("T")

ORDERS_QUEUE = "orders"
DEAD_QUEUE = "orders.dead"
# Poison messages are rejected without requeue and land in the dead-letter queue.
QUEUE_ARGUMENTS = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": DEAD_QUEUE}

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id text PRIMARY KEY, name text NOT NULL, provider text NOT NULL,
    price_per_mtok double precision NOT NULL, context_window integer NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (id text PRIMARY KEY, name text NOT NULL, plan text NOT NULL);
CREATE TABLE IF NOT EXISTS tenant_plans (plan text PRIMARY KEY, tokens_per_minute integer NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id text PRIMARY KEY, tenant_id text NOT NULL, model_id text NOT NULL,
    tokens integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS llm_usage (
    request_id text PRIMARY KEY, tenant_id text NOT NULL, provider text NOT NULL,
    prompt_tokens integer NOT NULL, completion_tokens integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
"""

MODELS = [
    ("llama-3-70b", "Llama 3 70B", "meta", 0.9, 8192),
    ("llama-3-8b", "Llama 3 8B", "meta", 0.2, 8192),
    ("mistral-large", "Mistral Large", "mistral", 8.0, 32768),
    ("mixtral-8x7b", "Mixtral 8x7B", "mistral", 0.7, 32768),
    ("gemma-7b", "Gemma 7B", "google", 0.2, 8192),
    ("qwen-72b", "Qwen 72B", "alibaba", 0.9, 32768),
    ("phi-3-mini", "Phi-3 Mini", "microsoft", 0.1, 4096),
    ("command-r", "Command R", "cohere", 0.5, 131072),
    ("falcon-40b", "Falcon 40B", "tii", 0.8, 2048),
    ("yi-34b", "Yi 34B", "01-ai", 0.8, 4096),
    ("dbrx", "DBRX", "databricks", 1.2, 32768),
    ("deepseek-67b", "DeepSeek 67B", "deepseek", 0.9, 4096),
]
# Completion tokens each plan may use per minute, enforced at the gateway.
PLANS = [("starter", 6000), ("team", 30000), ("enterprise", 300000)]

TENANTS = [
    ("acme", "Acme Corp", "enterprise"),
    ("globex", "Globex", "team"),
    ("initech", "Initech", "starter"),
    ("umbrella", "Umbrella", "enterprise"),
    ("hooli", "Hooli", "team"),
    ("stark", "Stark Industries", "enterprise"),
]


def seed(dsn: str) -> None:
    """Create the schema and insert the catalog and tenants (idempotent)."""
    from chaosllm._clients.postgres import connect

    with connect(dsn) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO models VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                            MODELS)  # fmt: skip
            cur.executemany("INSERT INTO tenants VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
                            TENANTS)  # fmt: skip
            cur.executemany("INSERT INTO tenant_plans VALUES (%s,%s) ON CONFLICT DO NOTHING",
                            PLANS)  # fmt: skip


def declare_queues(channel: Any) -> None:
    channel.queue_declare(DEAD_QUEUE, durable=True)
    channel.queue_declare(ORDERS_QUEUE, durable=True, arguments=QUEUE_ARGUMENTS)


class Pool:
    """At most ``size`` PostgreSQL connections, reused; a failed one is dropped."""

    def __init__(self, dsn: str, size: int, application_name: str) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue(maxsize=size)

    def run(self, func: Callable[[Any], T]) -> T:
        from chaosllm._clients.postgres import connect

        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = connect(self.dsn, application_name=self.application_name,
                           options="-c statement_timeout=3000")  # fmt: skip
        try:
            result = func(conn)
        except Exception:
            conn.close()
            raise
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()
        return result
