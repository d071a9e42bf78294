"""What a RabbitMQ fault did: messages purged, dropped or published, connections closed.

The counts come from the broker's replies (purge-ok, acks, publisher confirms)
and the management API. A length limit's drops and refusals are not counted
per queue by RabbitMQ, but the broker drops or refuses a message only while
the queue is at its limit: :class:`QueueAtLimit` samples the queue's depth
while the limit holds (a passive declare, current where the management API's
statistics lag by seconds), and the rollback reports whether it reached it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chaosllm._clients.rabbitmq import amqp_channel, rabbitmq_target
from chaosllm.faults import fault_handle
from chaosllm.faults.effects import counted, unknown

# RabbitMQ keeps no per-queue count of messages a length limit dropped or refused.
LIMIT_NOT_COUNTED = ("RabbitMQ counts no messages dropped or refused by a queue's length limit, "
                     "and nothing watched this queue while the limit held")


class QueueAtLimit:
    """A watch sampler: the queue's ready messages against the limit, over AMQP."""

    def __init__(self, url: str, queue: str, max_length: int, what: str) -> None:
        self.url, self.queue, self.max_length, self.what = url, queue, max_length, what
        self.stack = contextlib.ExitStack()
        self.channel: Any = None
        self.deepest = self.at_limit = 0

    def open(self) -> None:
        self.channel = self.stack.enter_context(amqp_channel(f"watch the depth of {self.what}", self.url))

    def sample(self) -> None:
        from chaosllm.rabbitmq._queues import stat

        depth = stat(self.channel, self.queue)[0]
        self.deepest = max(self.deepest, depth)
        self.at_limit += 1 if depth >= self.max_length else 0

    def close(self) -> None:
        self.stack.close()

    def outcome(self) -> tuple[str, dict[str, Any]]:
        evidence: dict[str, Any] = {"max_length": self.max_length, "deepest_seen": self.deepest,
                                    "samples_at_limit": self.at_limit}  # fmt: skip
        if self.at_limit:
            return "observed", evidence
        return "none", {**evidence, "reason": f"the queue never reached max_length {self.max_length} "
                                              "while the limit held: nothing was dropped or refused"}


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
