"""RabbitMQ probes: availability, queue depth, consumers and dead letters.

Depths and consumer counts come from a passive queue.declare, which the
queue answers itself, so they are current; the management API's figures
lag by its statistics interval (5 s by default).
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.rabbitmq import Management, amqp_channel, resolve_amqp_url
from chaosllm.arguments import strict
from chaosllm.errors import ChaosLLMError
from chaosllm.rabbitmq._policies import dead_letter_queues
from chaosllm.rabbitmq._queues import queue_ref, stat

__all__ = ["is_available", "queue_depth", "consumer_count", "dead_letter_depth"]


@strict
def is_available(
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when the broker accepts an AMQP connection and opens a channel in time.

    ```json
    {"type": "probe", "name": "broker-up", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.probes",
                  "func": "is_available"}}
    ```
    """
    # Outside the try: a malformed URL is a mistake in the experiment, not an outage.
    url = resolve_amqp_url(rabbitmq_url, configuration, secrets)
    try:
        with amqp_channel("connect", url, configuration, secrets) as channel:
            return bool(channel.is_open)
    except ChaosLLMError:
        return False


def _stat(
    what: str, queue: str, rabbitmq_url: str | None, configuration: Any, secrets: Any
) -> tuple[int, int]:
    ref = queue_ref(queue, rabbitmq_url, None, configuration, secrets)
    with amqp_channel(f"read the {what} of {ref.label}", ref.url) as channel:
        return stat(channel, queue)


@strict
def queue_depth(
    queue: str,
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Number of messages ready for delivery in `queue` (not counting unacknowledged ones).

    ```json
    {"type": "probe", "name": "orders-backlog",
     "tolerance": {"type": "range", "range": [0, 1000]},
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.probes",
                  "func": "queue_depth", "arguments": {"queue": "orders"}}}
    ```
    """
    return _stat("depth", queue, rabbitmq_url, configuration, secrets)[0]


@strict
def consumer_count(
    queue: str,
    rabbitmq_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Number of consumers subscribed to `queue`.

    ```json
    {"type": "probe", "name": "order-workers",
     "tolerance": {"type": "range", "range": [1, 100]},
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.probes",
                  "func": "consumer_count", "arguments": {"queue": "orders"}}}
    ```
    """
    return _stat("consumer count", queue, rabbitmq_url, configuration, secrets)[1]


@strict
def dead_letter_depth(
    queue: str,
    rabbitmq_url: str | None = None,
    rabbitmq_management_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Ready messages in the dead-letter queue(s) of `queue`.

    The dead-letter exchange and routing key come from the queue's
    `x-dead-letter-exchange` / `x-dead-letter-routing-key` arguments, or
    else from the policy that applies to it. Without a routing key, the
    queue's own name is used (what messages published straight to it carry).
    The queues bound to that exchange for that key are summed; on a fanout
    or headers exchange, every bound queue. A queue with no dead-letter
    exchange, or one whose exchange routes nowhere, is an error.

    ```json
    {"type": "probe", "name": "orders-dead-letters",
     "tolerance": {"type": "range", "range": [0, 10]},
     "provider": {"type": "python", "module": "chaosllm.rabbitmq.probes",
                  "func": "dead_letter_depth", "arguments": {"queue": "orders"}}}
    ```
    """
    ref = queue_ref(queue, rabbitmq_url, rabbitmq_management_url, configuration, secrets)
    action = f"read the dead-letter depth of {ref.label}"
    queues = dead_letter_queues(Management(ref.management_url, action), ref.vhost, queue)
    with amqp_channel(action, ref.url) as channel:
        return sum(stat(channel, name)[0] for name in queues)
