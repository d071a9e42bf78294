"""The cluster's halt state: the ``chaosllm-halt`` ConfigMap that every runner reads.

While it exists, fault submission refuses to create anything (when the
setting ``halt_namespace`` names where to look). It holds who halted, when
and why, so that a refusal can say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm._clients.k8s import ChaosMeshApi
from chaosllm.chaosmesh._spec import MANAGED_BY
from chaosllm.errors import PolicyViolation
from chaosllm.faults import utcnow_iso
from chaosllm.settings import get_setting

__all__ = ["HALT_CONFIG_MAP", "read_halt", "write_halt", "refuse_if_halted"]

HALT_CONFIG_MAP = "chaosllm-halt"


def read_halt(api: ChaosMeshApi, namespace: str) -> dict[str, Any] | None:
    """``{"reason", "by", "at"}`` from the ConfigMap, or None when chaos is not halted."""
    found = api.read_config_map(namespace, HALT_CONFIG_MAP)
    if found is None:
        return None
    data = found.get("data") or {}
    return {key: data.get(key, "") for key in ("reason", "by", "at")}


def write_halt(api: ChaosMeshApi, namespace: str, reason: str, by: str) -> dict[str, Any]:
    halt = {"reason": reason, "by": by, "at": utcnow_iso()}
    api.write_config_map(namespace, HALT_CONFIG_MAP, halt, {MANAGED_BY[0]: MANAGED_BY[1]})
    return halt


def refuse_if_halted(
    api: ChaosMeshApi, what: str, configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> None:
    """Raise when the setting ``halt_namespace`` is set and a halt holds there."""
    namespace = get_setting("halt_namespace", None, configuration, secrets)
    if not namespace:
        return
    halt = read_halt(api, str(namespace))
    if halt is not None:
        raise PolicyViolation(
            f"could not {what}: chaos is halted in this cluster by {halt['by'] or 'unknown'} at "
            f"{halt['at'] or 'an unknown time'}: {halt['reason'] or 'no reason given'} "
            f"(ConfigMap {namespace}/{HALT_CONFIG_MAP}); lift it with chaosllm halt --lift --cluster"
        )
