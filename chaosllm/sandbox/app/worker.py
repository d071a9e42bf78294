"""The order worker: RabbitMQ ``orders`` -> PostgreSQL ``orders``, idempotently.

``python -m chaosllm.sandbox.app.worker --port N --postgres-dsn ... --rabbitmq-url ...``.
Messages are taken in batches and written with one ``INSERT ... ON CONFLICT
DO NOTHING``, then acknowledged; a redelivered order is therefore written
once. A message that is not a valid order is rejected without requeue and
goes to the dead-letter queue. While PostgreSQL is unreachable the batch is
returned to the queue and nothing is lost.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

from prometheus_client import Counter, Gauge

from chaosllm.sandbox.app._data import ORDERS_QUEUE, Pool, declare_queues
from chaosllm.sandbox.app._resilience import Dependency, Unavailable
from chaosllm.sandbox.app._service import Service

__all__ = ["parse_order", "main"]

PERSISTED = Counter("sandbox_orders_persisted_total", "Orders written to PostgreSQL")
DUPLICATES = Counter("sandbox_orders_duplicates_total",
                     "Redelivered orders that were already written")  # fmt: skip
DEAD = Counter("sandbox_orders_dead_lettered_total", "Poison messages sent to the dead-letter queue")
RETRIES = Counter("sandbox_orders_retried_total", "Orders returned to the queue after a failure")
CONNECTED = Gauge("sandbox_worker_connected", "1 while the worker is consuming from RabbitMQ")
QUEUED = Gauge("sandbox_orders_queued", "Orders waiting in RabbitMQ (not yet delivered)")

INSERT = """
INSERT INTO orders (order_id, tenant_id, model_id, tokens)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[])
ON CONFLICT (order_id) DO NOTHING RETURNING order_id
"""
BATCH = 50


def parse_order(body: bytes) -> tuple[str, str, str, int] | None:
    """The order in a message, or None for a poison message."""
    try:
        data = json.loads(body)
        order = (str(data["orderId"]), str(data["tenantId"]), str(data["modelId"]),
                 int(data["tokens"]))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None
    return order if order[0] and order[3] > 0 else None


def _write(pool: Pool, orders: list[tuple[str, str, str, int]]) -> int:
    columns = [list(col) for col in zip(*orders, strict=True)]
    # Duplicates inside one batch are collapsed before the insert.
    rows = pool.run(lambda c: c.execute(INSERT, columns).fetchall())
    return len(rows)


def consume(args: argparse.Namespace, db: Dependency, stop: threading.Event) -> None:
    import pika

    pool = Pool(args.postgres_dsn, 1, "sandbox-worker")
    while not stop.is_set():
        try:
            params = pika.URLParameters(args.rabbitmq_url)
            params.socket_timeout = 2
            params.heartbeat = 10
            conn = pika.BlockingConnection(params)
            channel = conn.channel()
            declare_queues(channel)
            channel.basic_qos(prefetch_count=BATCH)
            CONNECTED.set(1)
            batch: list[tuple[Any, tuple[str, str, str, int]]] = []
            counted = 0.0
            for method, _props, body in channel.consume(ORDERS_QUEUE, inactivity_timeout=0.2):
                if time.monotonic() - counted >= 1.0:
                    counted = time.monotonic()
                    depth = channel.queue_declare(ORDERS_QUEUE, passive=True).method.message_count
                    QUEUED.set(depth)
                if method is not None:
                    order = parse_order(body)
                    if order is None:
                        channel.basic_reject(method.delivery_tag, requeue=False)
                        DEAD.inc()
                    else:
                        batch.append((method.delivery_tag, order))
                if batch and (method is None or len(batch) >= BATCH):
                    last = batch[-1][0]
                    unique = list({o[0]: o for _, o in batch}.values())
                    try:
                        written = db.call(lambda rows=unique: _write(pool, rows))  # type: ignore[misc]
                    except Unavailable:
                        channel.basic_nack(last, multiple=True, requeue=True)
                        RETRIES.inc(len(batch))
                        batch = []
                        time.sleep(0.5)
                        continue
                    channel.basic_ack(last, multiple=True)
                    PERSISTED.inc(written)
                    DUPLICATES.inc(len(batch) - written)
                    batch = []
                if stop.is_set():
                    break
            conn.close()
        except Exception:
            CONNECTED.set(0)
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The sandbox order worker")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--postgres-dsn", required=True)
    parser.add_argument("--rabbitmq-url", required=True)
    args = parser.parse_args(argv)
    db = Dependency("postgres", max_concurrent=1, wait=5.0)
    stop = threading.Event()
    threading.Thread(target=consume, args=(args, db, stop), daemon=True).start()
    Service("worker", args.port, {}, health=lambda: {"status": "ok", **db.status()}).serve()


if __name__ == "__main__":
    main()
