"""What a Chaos Mesh manifest selects, for the blast-radius policy.

:func:`selections` finds every pod-selecting spec in a chaos object, a
Schedule or a Workflow; :func:`unchecked` names the parts that may select
pods in a way the policy cannot check, which are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chaosllm.chaosmesh._kinds import CHAOS_KINDS, KINDS, Kind

__all__ = ["selections", "unchecked"]


def selections(manifest: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod-selecting spec in a manifest: ``(where, spec)``.

    A chaos object has one (two for a NetworkChaos with a ``target``); a
    Schedule embeds one, or a whole Workflow; a Workflow has one per chaos or
    schedule template.
    """
    kind = str(manifest.get("kind"))
    spec = manifest.get("spec") or {}
    name = f"{kind} {(manifest.get('metadata') or {}).get('name', '?')}"
    if kind in KINDS and KINDS[kind].is_chaos:
        yield name, spec
        if isinstance(spec.get("target"), Mapping) and "selector" in spec["target"]:
            yield f"{name} target", dict(spec["target"])
    elif kind == "Schedule" and spec.get("type") == "Workflow":
        yield from _workflow(name, spec.get("workflow") or {})
    elif kind == "Schedule":
        yield from _embedded(name, spec, CHAOS_KINDS)
    elif kind == "Workflow":
        yield from _workflow(name, spec)


def _workflow(name: str, spec: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for template in spec.get("templates") or []:
        where = f"{name} template {template.get('name')}"
        yield from _embedded(where, template, CHAOS_KINDS)
        if isinstance(template.get("schedule"), Mapping):
            yield from _embedded(where, template["schedule"], CHAOS_KINDS)


def _embedded(
    where: str, holder: Mapping[str, Any], kinds: Iterable[Kind]
) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in kinds:
        inner = holder.get(kind.embed_key or "")
        if isinstance(inner, Mapping):
            yield f"{where} ({kind.kind})", dict(inner)
            if isinstance(inner.get("target"), Mapping) and "selector" in inner["target"]:
                yield f"{where} ({kind.kind} target)", dict(inner["target"])


# Workflow template types that select no pods themselves.
_FLOW_TEMPLATES = ("Serial", "Parallel", "Suspend", "Task", "StatusCheck", "Schedule")


def _known(kind: Any) -> bool:
    return kind in KINDS and KINDS[kind].is_chaos


def unchecked(manifest: Mapping[str, Any]) -> list[str]:
    """Parts of a manifest that may select pods in a way the policy cannot check:
    a Schedule or Workflow template of a kind chaosllm does not know (JVMChaos,
    KernelChaos, ...). They are refused, as such kinds are refused on their own."""
    kind = str(manifest.get("kind"))
    spec = manifest.get("spec") or {}
    name = f"{kind} {(manifest.get('metadata') or {}).get('name', '?')}"
    found = []
    templates: list[Any] = []
    if kind == "Schedule" and spec.get("type") == "Workflow":
        templates = (spec.get("workflow") or {}).get("templates") or []
    elif kind == "Schedule" and not _known(spec.get("type")):
        found.append(f"{name}: schedule type {spec.get('type')} cannot be checked against the policy")
    elif kind == "Workflow":
        templates = spec.get("templates") or []
    for template in templates:
        template_type = template.get("templateType") if isinstance(template, Mapping) else None
        inner = template.get("schedule") if isinstance(template, Mapping) else None
        if template_type == "Schedule" and isinstance(inner, Mapping) and not _known(inner.get("type")):
            template_type = inner.get("type")
        elif template_type in _FLOW_TEMPLATES or _known(template_type):
            continue
        where = f"{name} template {template.get('name') if isinstance(template, Mapping) else '?'}"
        found.append(f"{where}: template type {template_type} cannot be checked against the policy")
    return found
