"""Argument checks, queue look-ups and the message and consumer work of the RabbitMQ activities.

Messages are read, acknowledged and published over AMQP; consumers' connections
are found and closed through the management API.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chaosllm._clients.rabbitmq import (
    Management,
    amqp_channel,
    resolve_amqp_url,
    resolve_management_url,
    vhost_of,
)
from chaosllm.errors import InvalidArgument

MAX_PUBLISH_COUNT = 1_000_000
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_FLOOD_BYTES = 1024 * 1024 * 1024
# The management API lists a new consumer only after its next statistics
# round (collect_statistics_interval, 5 s by default).
CONSUMER_LISTING_WAIT = 8.0


def check_queue(queue: Any) -> str:
    # AMQP short strings carry at most 255 bytes.
    if not isinstance(queue, str) or not queue or len(queue.encode()) > 255:
        raise InvalidArgument(f"queue must be a queue name of 1 to 255 bytes, got {queue!r}")
    return queue


def check_int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"fraction must be a number from 0 to 1, got {value!r}")
    return float(value)


def check_flood(count: Any, size_bytes: Any) -> None:
    check_int(count, "count", 1, MAX_PUBLISH_COUNT)
    check_int(size_bytes, "size_bytes", 0, MAX_MESSAGE_BYTES)
    if count * size_bytes > MAX_FLOOD_BYTES:
        raise InvalidArgument(
            f"count x size_bytes must stay within {MAX_FLOOD_BYTES} bytes, got {count * size_bytes}"
        )


def label(queue: str, vhost: str) -> str:
    """``queue 'orders'``, with the vhost when it is not the default one."""
    return f"queue {queue!r}" if vhost == "/" else f"queue {queue!r} in vhost {vhost!r}"


@dataclass
class QueueRef:
    """A checked queue name with the broker settings it was resolved against.

    The management URL is resolved when first used, so that the AMQP-only
    activities do not require ``rabbitmq_management_url``.
    """

    name: str
    url: str
    vhost: str
    _management: tuple[Any, ...] = field(default=(None, None, None), repr=False)

    @property
    def label(self) -> str:
        return label(self.name, self.vhost)

    @cached_property
    def management_url(self) -> str:
        return resolve_management_url(*self._management)


def queue_ref(
    queue: Any,
    rabbitmq_url: str | None,
    rabbitmq_management_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> QueueRef:
    """Check ``queue`` and resolve the settings; the vhost is the AMQP URL's."""
    check_queue(queue)
    url = resolve_amqp_url(rabbitmq_url, configuration, secrets)
    return QueueRef(queue, url, vhost_of(url), (rabbitmq_management_url, configuration, secrets))


def stat(channel: Any, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) from a passive declare.

    The broker answers from the queue itself, so unlike the management API's
    statistics (refreshed every few seconds) this is current. A missing queue
    closes the channel with 404, which the client factory turns into
    TargetNotFound.
    """
    ok = channel.queue_declare(queue, passive=True)
    return int(ok.method.message_count), int(ok.method.consumer_count)


def publish(channel: Any, queue: str, count: int, make: Callable[[int], tuple[bytes, Any]]) -> bool:
    """Publish ``count`` messages to ``queue`` through the default exchange.

    Waiting for a confirm per message would cost a round trip each, so all
    but the last go unconfirmed and only the last one is confirmed: the
    broker handles a channel's messages in order, so when that confirm
    arrives every message before it has reached the queue. Returns False
    when the broker refused the last message (a full queue that rejects
    publishes).
    """
    import pika.exceptions as pex

    for seq in range(count - 1):
        body, properties = make(seq)
        channel.basic_publish("", queue, body, properties)
    channel.confirm_delivery()
    body, properties = make(count - 1)
    try:
        channel.basic_publish("", queue, body, properties)
    except pex.NackError:
        return False
    return True


def drop_ready(channel: Any, queue: str, share: float, limit: int) -> tuple[int, int]:
    """Lose ``share`` of the first ``limit`` ready messages: (examined, dropped).

    The messages are taken without acknowledging them; the chosen ones are
    acknowledged and the others returned, which puts them back where they were.
    """
    ready, _ = stat(channel, queue)
    tags: list[int] = []
    while len(tags) < min(ready, limit):
        method, _properties, _body = channel.basic_get(queue, auto_ack=False)
        if method is None:  # consumers took the rest meanwhile
            break
        tags.append(method.delivery_tag)
    doomed = random.sample(tags, math.floor(share * len(tags) + 0.5))
    for tag in doomed:
        channel.basic_ack(tag)
    if len(doomed) < len(tags):
        channel.basic_nack(0, multiple=True, requeue=True)
    return len(tags), len(doomed)


def close_consumers(ref: QueueRef, action: str) -> tuple[int, list[str], int]:
    """Close the connections of the queue's consumers: (consumers before, connections closed, after).

    Waits up to :data:`CONSUMER_LISTING_WAIT` for the management API to list
    as many consumers as the queue reports, then up to 2 s for the queue to
    see them go.
    """
    with amqp_channel(action, ref.url) as channel:
        _, before = stat(channel, ref.name)
    mgmt = Management(ref.management_url, action)
    connections: set[str] = set()
    deadline = time.monotonic() + CONSUMER_LISTING_WAIT
    while before:
        listed = [
            consumer
            for consumer in mgmt.consumers(ref.vhost)
            if consumer.get("queue", {}).get("name") == ref.name
            and (consumer.get("channel_details") or {}).get("connection_name")
        ]
        connections = {c["channel_details"]["connection_name"] for c in listed}
        if len(listed) >= before or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    closed = sorted(name for name in connections if mgmt.close_connection(name))
    after = before
    deadline = time.monotonic() + 2.0
    while True:
        with amqp_channel(action, ref.url) as channel:
            _, after = stat(channel, ref.name)
        if not closed or after < before or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return before, closed, after
