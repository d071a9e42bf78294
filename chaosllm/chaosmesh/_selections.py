"""What a Chaos Mesh manifest (or a Litmus ChaosEngine) selects, for the blast-radius policy.

:func:`selections` finds every pod-selecting spec in a chaos object, a
Schedule, a Workflow or a ChaosEngine; :func:`unchecked` names the parts that
may select pods in a way the policy cannot check, which are refused.

A ChaosEngine's selection is written as the Chaos Mesh selector it amounts
to: its ``appinfo.appns`` (default: the engine's namespace) and
``appinfo.applabel`` ("k=v,k2=v2"), or the pods its ``TARGET_PODS`` env names;
``PODS_AFFECTED_PERC`` is mode ``fixed-percent`` with that value, and empty
or 0 is mode ``one`` (Litmus then targets one pod).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chaosllm.chaosmesh._kinds import CHAOS_KINDS, KINDS, Kind

__all__ = ["selections", "unchecked", "engine_env"]


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
    elif kind == "ChaosEngine":
        yield from _engine(name, spec, str((manifest.get("metadata") or {}).get("namespace") or "default"))


def engine_env(experiment: Mapping[str, Any]) -> dict[str, str]:
    """A ChaosEngine experiment's env overrides, ``{name: value}``."""
    components = ((experiment.get("spec") or {}).get("components") or {})
    return {str(e.get("name")): str(e.get("value") if e.get("value") is not None else "")
            for e in components.get("env") or [] if isinstance(e, Mapping)}


def _engine_labels(applabel: str) -> dict[str, str] | None:
    """``"k=v,k2=v2"`` as a mapping; None for a set-based selector the policy cannot read."""
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in applabel.split(","))):
        key, sep, value = part.partition("=")
        if not sep or value.startswith("=") or "!" in key or not key.strip():
            return None
        labels[key.strip()] = value.strip()
    return labels


def _engine(name: str, spec: Mapping[str, Any], namespace: str) -> Iterator[tuple[str, dict[str, Any]]]:
    appinfo = spec.get("appinfo") or {}
    appns = str(appinfo.get("appns") or namespace)
    labels = _engine_labels(str(appinfo.get("applabel") or "")) or {}
    for experiment in spec.get("experiments") or []:
        env = engine_env(experiment)
        pods = [p.strip() for p in env.get("TARGET_PODS", "").split(",") if p.strip()]
        selector: dict[str, Any] = {"namespaces": [appns]}
        if pods:
            selector["pods"] = {appns: pods}
        elif labels:
            selector["labelSelectors"] = labels
        percent = env.get("PODS_AFFECTED_PERC", "").strip()
        mode = {"mode": "fixed-percent", "value": percent} if percent not in ("", "0") else {"mode": "one"}
        yield f"{name} experiment {experiment.get('name')}", {"selector": selector, **mode}


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
    if kind == "ChaosEngine":
        return _engine_unchecked(name, spec)
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


def _engine_unchecked(name: str, spec: Mapping[str, Any]) -> list[str]:
    """A ChaosEngine selecting pods another way than appinfo (or TARGET_PODS) is refused."""
    found = []
    applabel = str((spec.get("appinfo") or {}).get("applabel") or "")
    if _engine_labels(applabel) is None:
        found.append(f"{name}: applabel {applabel!r} is not 'key=value' pairs, which the policy "
                     "cannot check")
    if spec.get("selectors"):
        found.append(f"{name}: spec.selectors cannot be checked against the policy; use appinfo")
    return found
