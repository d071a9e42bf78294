"""What every RabbitMQ fault does before its first change: the policy check and the dry run.

A fault that loses messages counts them first (the queue's ready messages)
when the policy limits that number or a dry run asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaosllm._clients.rabbitmq import amqp_channel, rabbitmq_target
from chaosllm.app_policy import check_target
from chaosllm.dry_run import Planned, Settings, dry_run_requested, preview
from chaosllm.rabbitmq._queues import QueueRef, stat

# From the queue's (ready messages, consumers): the messages the fault would drop.
Dropped = Callable[[int], int]


def before_fault(
    action: str,
    planned: Planned,
    ref: QueueRef,
    settings: Settings,
    dropped: Dropped | None = None,
    management: bool = False,
) -> dict[str, Any] | None:
    """Refuse what the policy forbids; in a dry run, the preview to return (else None).

    ``management``: the fault also goes through the management API, whose
    server is checked too.
    """
    configuration, secrets = settings
    scope: dict[str, Any] = {"vhost": ref.vhost, "queue": ref.name}
    policy = check_target("rabbitmq", action, ref.url, configuration=configuration, secrets=secrets,
                          **scope)  # fmt: skip
    if management:
        check_target("rabbitmq", action, ref.management_url, policy=policy, **scope)
    dry = dry_run_requested(None, configuration, secrets)
    limited = dropped is not None and policy.rules("rabbitmq").get("max_messages_dropped") is not None
    if not dry and not limited:
        return None
    with amqp_channel(f"read the depth of {ref.label} for {action}", ref.url) as channel:
        ready, consumers = stat(channel, ref.name)
    would: dict[str, Any] = {"queue": ref.name, "vhost": ref.vhost, "depth": ready, "consumers": consumers}
    if dropped is not None:
        would["messages_dropped"] = dropped(ready)
        check_target("rabbitmq", action, ref.url, policy=policy, messages=would["messages_dropped"], **scope)
    if not dry:
        return None
    return preview(planned.kind, planned.name, planned.target, planned.spec, would)


def planned_for(kind: str, name: str, ref: QueueRef, **spec: Any) -> Planned:
    """A queue fault about to be applied, named as its handle will name it."""
    return Planned(kind, name, rabbitmq_target(ref.url), spec)
