"""RabbitMQ fault actions: message loss, floods, poison messages, consumer lag, queue limits.

Queue contents and consumers are reached over AMQP; connections and policies
through the management API. A queue limit is the only fault that persists
in the broker, so it is written to the fault ledger and heals itself when
its duration ends. The other actions are one-off events with no rollback.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from chaosllm._clients.rabbitmq import Management, amqp_channel, rabbitmq_target
from chaosllm.arguments import strict
from chaosllm.faults import fault_handle, fault_seconds, restore_fault
from chaosllm.faults.effects import MEASURED_WHEN_REMOVED, counted, ended, unknown, with_effect
from chaosllm.faults.watch import start_watch, stop_watch
from chaosllm.rabbitmq._effects import LIMIT_NOT_COUNTED, QueueAtLimit, instant, published
from chaosllm.rabbitmq._guard import before_fault, planned_for
from chaosllm.rabbitmq._limit import apply_limit, check_limit, ledger_id, policy_name
from chaosllm.rabbitmq._queues import (
    MAX_PUBLISH_COUNT,
    check_flood,
    check_fraction,
    check_int,
    close_consumers,
    drop_ready,
    publish,
    queue_ref,
    stat,
)

__all__ = [
    "purge_queue",
    "drop_messages",
    "flood_queue",
    "publish_poison_messages",
    "close_consumer_connections",
    "set_queue_limit",
    "remove_queue_limit",
]

ROLLBACKS = {"set_queue_limit": "remove_queue_limit"}

MAX_DROP = 100_000
# Valid JSON would be handled; this is neither UTF-8 nor complete JSON,
# although its content type promises both.
POISON_BODY = b'{"chaosllm": "poison", "payload": "\xff\xfe\xfd'


@strict
def purge_queue(
    queue: str,
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Remove every ready message from `queue` (queue.purge): total message loss.

    Messages delivered to consumers and not yet acknowledged stay. There is
    no rollback: the messages are gone.

    ```json
    {"type": "action", "name": "lose-all-orders",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "purge_queue", "arguments": {"queue": "orders"}}}
    ```
    """
    ref = queue_ref(queue, rabbitmq_url, None, configuration, secrets)
    early = before_fault("purge_queue", planned_for("rabbitmq-purge", f"purge-{queue}", ref, queue=queue),
                         ref, (configuration, secrets), dropped=lambda ready: ready)
    if early is not None:
        return early
    with amqp_channel(f"purge {ref.label}", ref.url) as channel:
        purged = int(channel.queue_purge(queue).method.message_count)
    result = {**instant("rabbitmq-purge", queue, ref.url), "target": rabbitmq_target(ref.url),
              "queue": queue, "purged": purged}
    return counted(result, purged, {"messages_purged": purged})


@strict
def drop_messages(
    queue: str,
    fraction: float = 0.5,
    limit: int = 1000,
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lose a random `fraction` of the first `limit` ready messages of `queue`.

    The messages are taken from the head of the queue without acknowledging
    them; the chosen ones are acknowledged (and so lost) and the others are
    returned, which puts them back at their original positions (they arrive
    with the redelivered flag). If the connection breaks half-way, the broker
    returns every message not yet acknowledged.

    ```json
    {"type": "action", "name": "lose-a-third",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "drop_messages",
                  "arguments": {"queue": "orders", "fraction": 0.3, "limit": 500}}}
    ```
    """
    ref = queue_ref(queue, rabbitmq_url, None, configuration, secrets)
    share = check_fraction(fraction)
    check_int(limit, "limit", 1, MAX_DROP)
    early = before_fault(
        "drop_messages", planned_for("rabbitmq-drop", f"drop-{queue}", ref, queue=queue, fraction=share,
                                  limit=limit),
        ref, (configuration, secrets), dropped=lambda ready: math.floor(share * min(ready, limit) + 0.5),
    )  # fmt: skip
    if early is not None:
        return early
    with amqp_channel(f"drop messages from {ref.label}", ref.url) as channel:
        examined, dropped = drop_ready(channel, queue, share, limit)
        depth, _ = stat(channel, queue)
    result = {
        **instant("rabbitmq-drop", queue, ref.url),
        "target": rabbitmq_target(ref.url),
        "queue": queue,
        "examined": examined,
        "dropped": dropped,
        "requeued": examined - dropped,
        "depth": depth,
    }
    return counted(result, dropped, {"messages_dropped": dropped})


@strict
def flood_queue(
    queue: str,
    count: int = 1000,
    size_bytes: int = 1024,
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Publish `count` messages of `size_bytes` each to `queue`: a sudden backlog.

    Bounded: at most 1,000,000 messages, 16 MiB each and 1 GiB in all. The
    messages are transient, typed `application/octet-stream` and carry the
    header `x-chaosllm: flood`. When the call returns, every message the
    broker accepted is in the queue: `published` is `sent` then. When the
    queue is full and set to reject publishes, `refused` is true and
    `published` is null (the broker does not say how many it took); `depth`
    shows what the queue holds.

    ```json
    {"type": "action", "name": "flood-orders",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "flood_queue",
                  "arguments": {"queue": "orders", "count": 5000, "size_bytes": 2048}}}
    ```
    """
    import pika

    ref = queue_ref(queue, rabbitmq_url, None, configuration, secrets)
    check_flood(count, size_bytes)
    planned = planned_for("rabbitmq-flood", f"flood-{queue}", ref, queue=queue, count=count,
                       size_bytes=size_bytes)
    early = before_fault("flood_queue", planned, ref, (configuration, secrets))
    if early is not None:
        return early
    body = b"x" * size_bytes
    properties = pika.BasicProperties(
        content_type="application/octet-stream", delivery_mode=1, headers={"x-chaosllm": "flood"}
    )
    with amqp_channel(f"flood {ref.label}", ref.url) as channel:
        stat(channel, queue)  # a missing queue would silently swallow the messages
        accepted = publish(channel, queue, count, lambda _seq: (body, properties))
        depth, _ = stat(channel, queue)
    result = {
        **instant("rabbitmq-flood", queue, ref.url),
        "target": rabbitmq_target(ref.url),
        "queue": queue,
        "sent": count,
        "published": count if accepted else None,
        "bytes": count * size_bytes,
        "refused": not accepted,
        "depth": depth,
    }
    return published(result, accepted, count, depth)


@strict
def publish_poison_messages(
    queue: str,
    count: int = 10,
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Publish `count` messages that no consumer can process to `queue`.

    Each claims `application/json` in UTF-8 but is truncated and not valid
    UTF-8, and carries the header `x-chaosllm: poison` and a message id that
    starts with the returned `message_id_prefix`. A consumer that rejects
    them without requeueing sends them to the queue's dead-letter exchange
    (see the probe `dead_letter_depth`); one that requeues them loops.

    ```json
    {"type": "action", "name": "poison-orders",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "publish_poison_messages",
                  "arguments": {"queue": "orders", "count": 20}}}
    ```
    """
    import pika

    ref = queue_ref(queue, rabbitmq_url, None, configuration, secrets)
    check_int(count, "count", 1, MAX_PUBLISH_COUNT)
    planned = planned_for("rabbitmq-poison", f"poison-{queue}", ref, queue=queue, count=count)
    early = before_fault("publish_poison_messages", planned, ref, (configuration, secrets))
    if early is not None:
        return early
    prefix = f"chaosllm-poison-{uuid.uuid4().hex[:8]}-"

    def make(seq: int) -> tuple[bytes, Any]:
        return POISON_BODY, pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=f"{prefix}{seq}",
            headers={"x-chaosllm": "poison"},
        )

    with amqp_channel(f"publish poison messages to {ref.label}", ref.url) as channel:
        stat(channel, queue)
        accepted = publish(channel, queue, count, make)
    result = {
        **instant("rabbitmq-poison", queue, ref.url),
        "target": rabbitmq_target(ref.url),
        "queue": queue,
        "sent": count,
        "published": count if accepted else None,
        "refused": not accepted,
        "message_id_prefix": prefix,
    }
    return published(result, accepted, count, None)


@strict
def close_consumer_connections(
    queue: str,
    rabbitmq_url: str | None = None,
    rabbitmq_management_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Close the connections of every consumer of `queue`: consumer lag builds up.

    The connections are closed through the management API, with a reason
    the clients can log. Whatever else those connections carried is closed
    too. Consumers that reconnect on their own will come back; this is what
    it tests. Because the management API lists a new consumer only after its
    next statistics round, this waits up to 8 s for the listing to catch up
    with the consumer count the queue itself reports.

    ```json
    {"type": "action", "name": "disconnect-order-workers",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "close_consumer_connections", "arguments": {"queue": "orders"}}}
    ```
    """
    ref = queue_ref(queue, rabbitmq_url, rabbitmq_management_url, configuration, secrets)
    planned = planned_for("rabbitmq-close-consumers", f"close-consumers-{queue}", ref, queue=queue)
    early = before_fault("close_consumer_connections", planned, ref, (configuration, secrets),
                         management=True)
    if early is not None:
        return early
    before, closed, after = close_consumers(ref, f"close the consumer connections of {ref.label}")
    result = {
        **instant("rabbitmq-close-consumers", queue, ref.url),
        "target": rabbitmq_target(ref.url),
        "queue": queue,
        "consumers_before": before,
        "closed_connections": closed,
        "consumers_after": after,
    }
    return counted(result, len(closed), {"connections_closed": len(closed),
                                         "consumers_lost": max(0, before - after)})


@strict
def set_queue_limit(
    queue: str,
    max_length: int = 1000,
    overflow: str = "drop-head",
    duration: str | None = "60s",
    name: str | None = None,
    allow_unbounded: bool = False,
    rabbitmq_url: str | None = None,
    rabbitmq_management_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cap `queue` at `max_length` ready messages for `duration`, with a policy.

    `overflow` says what the broker does beyond the cap: "drop-head" drops
    (or dead-letters) the oldest messages, "reject-publish" refuses new ones,
    "reject-publish-dlx" refuses and dead-letters them. The limit is the
    policy `chaosllm-queue-limit-<queue>`, matching exactly this queue; it
    outranks the policy the queue had and keeps that policy's settings
    (dead-lettering, TTLs). The fault goes to the fault ledger first; a
    detached healer removes it when the duration ends, and
    `remove_queue_limit` or `chaosllm cleanup` earlier. Applying it again
    while it holds changes the limit but not the duration. A limit with no
    duration (`null`) needs `allow_unbounded: true` and lasts until it is
    removed. An
    `x-max-length` queue argument still applies if it is smaller, and an
    `x-overflow` argument wins over the policy. RabbitMQ counts no message
    a limit dropped or refused, so while it holds the queue's depth is
    sampled every 250 ms; `remove_queue_limit` reports whether it reached
    the limit.

    ```json
    {"type": "action", "name": "cap-orders",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "set_queue_limit",
                  "arguments": {"queue": "orders", "max_length": 100,
                                "overflow": "reject-publish", "duration": "2m"}}}
    ```
    """
    ref = queue_ref(queue, rabbitmq_url, rabbitmq_management_url, configuration, secrets)
    check_limit(max_length, overflow)
    seconds = fault_seconds(duration, allow_unbounded, "queue limit")
    planned = planned_for("rabbitmq-queue-limit", name or f"queue-limit-{queue}", ref, queue=queue,
                          max_length=max_length, overflow=overflow, duration=duration)
    early = before_fault(
        "set_queue_limit", planned, ref, (configuration, secrets), management=True,
        dropped=(lambda ready: max(0, ready - max_length)) if overflow == "drop-head" else None,
    )  # fmt: skip
    if early is not None:
        return early
    mgmt = Management(ref.management_url, f"limit the length of {ref.label}")
    pname, original = apply_limit(mgmt, ref, max_length, overflow, seconds)
    handle = fault_handle(
        "rabbitmq-queue-limit", name or f"queue-limit-{queue}", f"{ref.label} on {mgmt.target}",
        {"queue": queue, "max_length": max_length, "overflow": overflow, "duration": duration,
         "policy": pname, "outranks": original["name"] if original else None},
        seconds,
    )  # fmt: skip
    # Re-applied while it holds: the watch starts again against the new limit.
    fault_id = ledger_id(mgmt, ref.vhost, queue)
    stop_watch(fault_id)
    start_watch(fault_id, QueueAtLimit(ref.url, queue, max_length, ref.label), seconds)
    return unknown(handle, f"{MEASURED_WHEN_REMOVED}: the queue's depth is sampled while it holds")


@strict
def remove_queue_limit(
    queue: str,
    rabbitmq_url: str | None = None,
    rabbitmq_management_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Remove the limit that `set_queue_limit` put on `queue`.

    The queue's own policy applies again. Returns `{"removed": false}` when
    there is no limit to remove. Its `effect` is "observed" when the queue
    was seen at its limit while it held (the broker then drops or refuses
    what comes in), "none" when it never was, with `deepest_seen` and
    `samples_at_limit`; "unknown" when this process did not watch it.

    ```json
    {"type": "action", "name": "uncap-orders",
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.actions",
                  "func": "remove_queue_limit", "arguments": {"queue": "orders"}}}
    ```
    """
    ref = queue_ref(queue, rabbitmq_url, rabbitmq_management_url, configuration, secrets)
    mgmt = Management(ref.management_url, f"remove the limit of {ref.label}")
    pname = policy_name(queue)
    out: dict[str, Any] = {"target": mgmt.target, "queue": queue, "policy": pname}
    # The watch stops first, while the limit still holds.
    outcome = stop_watch(ledger_id(mgmt, ref.vhost, queue))
    result = restore_fault(ledger_id(mgmt, ref.vhost, queue))
    if result["removed"]:
        out.update(removed=True, restored_policy=result["result"]["restored_policy"])
    else:
        # Not in this ledger (another machine's run, say): the policy is still ours to remove.
        out.update(removed=mgmt.delete_policy(ref.vhost, pname), restored_policy=None)
    ended(out, "rabbitmq-queue-limit", f"queue-limit-{queue}", out["removed"])
    if outcome is not None:
        return with_effect(out, outcome[0], outcome[1])
    return unknown(out, LIMIT_NOT_COUNTED) if out["removed"] else out
