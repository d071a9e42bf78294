"""The Chaos Mesh kinds chaosllm creates, with their REST plural and embedding key.

Litmus's ChaosEngine is here too, so that the submitter, the fault ledger,
``remove_chaos``, ``remove_all_chaos`` and the halt treat it as they treat a
Chaos Mesh object (the client finds its API group, litmuschaos.io, by plural).
"""

from __future__ import annotations

from dataclasses import dataclass

from chaosllm.errors import InvalidArgument

__all__ = ["Kind", "KINDS", "CHAOS_KINDS", "kind_of"]


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    # The field that embeds this kind's spec in a Schedule or a Workflow template.
    embed_key: str | None = None
    # Chaos kinds select pods and report injection in status.experiment.
    is_chaos: bool = True
    # Forcing a stuck removal drops the object's finalizers (Litmus) rather than
    # setting Chaos Mesh's clean-finalizer annotation.
    drop_finalizers: bool = False


_ALL = (
    Kind("NetworkChaos", "networkchaos", "networkChaos"),
    Kind("PodChaos", "podchaos", "podChaos"),
    Kind("StressChaos", "stresschaos", "stressChaos"),
    Kind("IOChaos", "iochaos", "ioChaos"),
    Kind("TimeChaos", "timechaos", "timeChaos"),
    Kind("HTTPChaos", "httpchaos", "httpChaos"),
    Kind("DNSChaos", "dnschaos", "dnsChaos"),
    Kind("Schedule", "schedules", "schedule", is_chaos=False),
    Kind("Workflow", "workflows", None, is_chaos=False),
    Kind("StatusCheck", "statuschecks", "statusCheck", is_chaos=False),
    Kind("ChaosEngine", "chaosengines", None, is_chaos=False, drop_finalizers=True),
)
KINDS = {k.kind: k for k in _ALL}
CHAOS_KINDS = tuple(k for k in _ALL if k.is_chaos)
_LOOKUP = {key.lower(): k for k in _ALL for key in (k.kind, k.plural)}


def kind_of(name: str) -> Kind:
    """Find a kind by its name or plural, in any case: "NetworkChaos", "networkchaos"."""
    found = _LOOKUP.get(str(name).strip().lower())
    if found is None:
        raise InvalidArgument(
            f"kind {name!r} is not supported: use one of {', '.join(KINDS)}"
        )
    return found
