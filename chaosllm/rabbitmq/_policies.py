"""Which policy applies to a queue, and where its dead letters go.

RabbitMQ applies at most one policy to a queue: of those whose pattern
matches its name (and whose ``apply-to`` covers queues), the one with the
highest priority. The management API reports a queue's policy only with its
statistics, which lag by seconds, so chaosllm works it out from the policy
list instead.
"""

from __future__ import annotations

import re
from typing import Any

from chaosllm._clients.rabbitmq import Management
from chaosllm.errors import TargetNotFound

_QUEUE_KINDS = ("queues", "all", "classic_queues", "quorum_queues", "streams")


def effective_policy(
    policies: list[dict[str, Any]], queue: str, exclude: str | None = None
) -> dict[str, Any] | None:
    """The policy RabbitMQ applies to ``queue``, ignoring the one named ``exclude``."""
    best: dict[str, Any] | None = None
    for policy in policies:
        if policy.get("name") == exclude or policy.get("apply-to", "all") not in _QUEUE_KINDS:
            continue
        try:
            matches = re.search(str(policy.get("pattern", "")), queue) is not None
        except re.error:  # an Erlang-only regex feature; it cannot be ours to judge
            continue
        if matches and (best is None or int(policy.get("priority", 0)) > int(best.get("priority", 0))):
            best = policy
    return best


def dead_letter_route(mgmt: Management, vhost: str, queue: str, arguments: dict[str, Any]) -> tuple[str, str]:
    """(exchange, routing key) that rejected messages of ``queue`` go to.

    Queue arguments win over the policy, as in RabbitMQ. Without a
    dead-letter routing key a message keeps its own, which for messages
    published straight to the queue is the queue's name.
    """
    definition: dict[str, Any] = {}
    if "x-dead-letter-exchange" not in arguments:
        policy = effective_policy(mgmt.policies(vhost), queue)
        definition = dict(policy.get("definition", {})) if policy else {}
    exchange = arguments.get("x-dead-letter-exchange", definition.get("dead-letter-exchange"))
    if exchange is None:
        raise TargetNotFound(
            f"could not {mgmt.action} on {mgmt.target}: queue {queue!r} has no dead-letter exchange "
            f"(neither an x-dead-letter-exchange argument nor a policy with dead-letter-exchange)"
        )
    key = arguments.get("x-dead-letter-routing-key", definition.get("dead-letter-routing-key", queue))
    return str(exchange), str(key)


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` is zero or more."""
    words, parts = key.split("."), pattern.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(parts):
            return j == len(words)
        if parts[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(words) + 1))
        return j < len(words) and parts[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)


def dead_letter_queues(mgmt: Management, vhost: str, queue: str) -> list[str]:
    """The queues that receive ``queue``'s dead letters; TargetNotFound if none."""
    info = mgmt.queue(vhost, queue)
    exchange, key = dead_letter_route(mgmt, vhost, queue, dict(info.get("arguments") or {}))
    if exchange in ("", "amq.default"):
        found = [key]
    else:
        kind = mgmt.exchange(vhost, exchange).get("type", "direct")
        found = []
        for binding in mgmt.exchange_bindings(vhost, exchange):
            if binding.get("destination_type") != "queue":
                continue
            bound_key = str(binding.get("routing_key", ""))
            if (
                kind in ("fanout", "headers")
                or (kind == "topic" and topic_matches(bound_key, key))
                or bound_key == key
            ):
                found.append(str(binding["destination"]))
    if not found:
        raise TargetNotFound(
            f"could not {mgmt.action} on {mgmt.target}: no queue is bound to dead-letter exchange "
            f"{exchange!r} of queue {queue!r} for routing key {key!r}"
        )
    return sorted(set(found))
