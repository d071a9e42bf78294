"""What a RabbitMQ fault did: messages purged, dropped or published, connections closed.

The counts come from the broker's replies (purge-ok, acks, publisher confirms)
and the management API. A length limit's drops and refusals are not counted
per queue by RabbitMQ, so that fault's effect is unknown, with the reason.
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.rabbitmq import rabbitmq_target
from chaosllm.faults import fault_handle
from chaosllm.faults.effects import counted, unknown

# RabbitMQ keeps no per-queue count of messages a length limit dropped or refused.
LIMIT_NOT_COUNTED = ("RabbitMQ counts no messages dropped or refused by a queue's length limit; "
                     "see the publishers' confirms and the queue_depth probe")


def instant(kind: str, queue: str, url: str) -> dict[str, Any]:
    """The handle of a fault that is over once the action returns."""
    return fault_handle(kind, f"{kind.removeprefix('rabbitmq-')}-{queue}", rabbitmq_target(url),
                        {"queue": queue}, 0.0)


def published(result: dict[str, Any], accepted: bool, count: int, depth: int | None) -> dict[str, Any]:
    evidence = {"messages_published": count if accepted else 0}
    if depth is not None:
        evidence["depth_after"] = depth
    if accepted:
        return counted(result, count, evidence)
    return unknown(result, "the broker refused some of the messages (publisher confirms)", evidence)
