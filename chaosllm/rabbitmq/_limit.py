"""The queue-length fault: a chaosllm policy laid over the queue's own policy.

RabbitMQ applies one policy per queue, so the fault's policy copies the
definition of the policy it outranks (dead-lettering, TTLs and so on keep
working) and adds ``max-length`` and ``overflow``. The outranked policy is
recorded in the ledger and never touched; rolling back deletes the fault's
policy, so that it applies again. A policy already standing under the
fault's name is a fault left by a run with another ledger: it is replaced,
not restored, since restoring it would bring the fault back.
"""

from __future__ import annotations

import re
from typing import Any

from chaosllm._clients.rabbitmq import Management
from chaosllm.errors import InvalidArgument
from chaosllm.faults import recording
from chaosllm.rabbitmq._policies import effective_policy
from chaosllm.rabbitmq._queues import QueueRef, check_int

OVERFLOWS = ("drop-head", "reject-publish", "reject-publish-dlx")
MAX_LENGTH = 2**31 - 1
_POLICY_FIELDS = ("pattern", "definition", "priority", "apply-to")


def check_limit(max_length: Any, overflow: Any) -> None:
    check_int(max_length, "max_length", 0, MAX_LENGTH)
    if overflow not in OVERFLOWS:
        raise InvalidArgument(f"overflow must be one of {', '.join(OVERFLOWS)}, got {overflow!r}")


def policy_name(queue: str) -> str:
    return f"chaosllm-queue-limit-{queue}"


def ledger_id(mgmt: Management, vhost: str, queue: str) -> str:
    return f"rabbitmq-queue-limit@{mgmt.host}:{mgmt.port}/{vhost}/{queue}"


def policy_body(
    original: dict[str, Any] | None, queue: str, max_length: int, overflow: str
) -> dict[str, Any]:
    definition = dict(original.get("definition", {})) if original else {}
    definition.update({"max-length": max_length, "overflow": overflow})
    return {
        # Anchored and escaped, so that it matches this one queue only.
        "pattern": "^" + re.escape(queue) + "$",
        "definition": definition,
        "priority": int(original.get("priority", 0)) + 1 if original else 0,
        "apply-to": "queues",
    }


def stored(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a policy that PUT accepts, plus its name, for the ledger."""
    if policy is None:
        return None
    kept = {key: policy[key] for key in _POLICY_FIELDS if key in policy}
    kept["name"] = policy.get("name")
    return kept


def apply_limit(
    mgmt: Management, ref: QueueRef, max_length: int, overflow: str, seconds: float | None
) -> tuple[str, dict[str, Any] | None]:
    """Record the limit in the ledger, then lay its policy over the queue's.

    Returns the fault's policy name and the outranked policy as first recorded.
    """
    vhost, queue = ref.vhost, ref.name
    mgmt.queue(vhost, queue)
    # An expired limit is settled first, so that it is replaced, not re-applied: its
    # healer would otherwise drop the new entry right after restoring the old one.
    with recording(ledger_id(mgmt, vhost, queue)) as rec:
        policies = mgmt.policies(vhost)
        pname = policy_name(queue)
        state = {
            "management_url": ref.management_url,
            "vhost": vhost,
            "queue": queue,
            "policy": pname,
            "original": stored(effective_policy(policies, queue, exclude=pname)),
        }
        description = f"max-length {max_length} ({overflow}) on {ref.label} via {mgmt.target}"
        rec.record("rabbitmq.queue_limit", state, seconds, description)
        # Re-applied while it holds: the new limit goes over the policy recorded first.
        original: dict[str, Any] | None = rec.state["original"]
        mgmt.put_policy(vhost, pname, policy_body(original, queue, max_length, overflow))
    return pname, original


def restore_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """Ledger restorer: delete the fault's policy; the outranked one applies again."""
    state = entry["state"]
    mgmt = Management(state["management_url"], f"remove the limit of queue {state['queue']!r}")
    mgmt.delete_policy(state["vhost"], state["policy"])
    original = state.get("original")
    return {"policy": state["policy"], "restored_policy": original["name"] if original else None}

