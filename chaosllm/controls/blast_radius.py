"""Blast-radius policy: which pods a Chaos Mesh fault may reach, checked before anything is created.

The policy comes from configuration (key ``blast_radius``, or the control's
``policy`` argument, or ``$CHAOSLLM_BLAST_RADIUS`` as JSON)::

    {"blast_radius": {"allowed_namespaces": ["shop", "staging-*"],
                      "forbidden_namespaces": ["payments"],
                      "required_labels": {"chaos-ready": "true"},
                      "max_percent": 50, "max_count": 3}}

``kube-system`` is always forbidden. The Chaos Mesh actions call
:func:`enforce` on every manifest they are about to create; as a Chaos
Toolkit control, this module checks every ``chaosllm.chaosmesh`` activity of
an experiment before it starts and interrupts the run on a violation::

    "controls": [{"name": "blast-radius",
                  "provider": {"type": "python", "module": "chaosllm.controls.blast_radius"}}]
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosllm.errors import ConfigurationError, PolicyViolation
from chaosllm.settings import get_setting

__all__ = [
    "Policy",
    "ALWAYS_FORBIDDEN",
    "policy_from",
    "selections",
    "violations",
    "enforce",
    "configure_control",
    "before_experiment_control",
]

ALWAYS_FORBIDDEN = ("kube-system",)
CHAOSMESH_ACTIONS = "chaosllm.chaosmesh.actions"


@dataclass(frozen=True)
class Policy:
    """A blast-radius policy; the empty policy still forbids ``kube-system``."""

    allowed_namespaces: tuple[str, ...] = ()
    forbidden_namespaces: tuple[str, ...] = ALWAYS_FORBIDDEN
    required_labels: dict[str, str] = field(default_factory=dict)
    max_percent: float | None = None
    max_count: int | None = None

    @property
    def needs_pod_count(self) -> bool:
        return self.max_count is not None


def _labels(value: Any) -> dict[str, str]:
    from chaosllm.chaosmesh._selector import parse_labels

    return parse_labels(value, "blast_radius.required_labels")


def policy_from(
    policy: Mapping[str, Any] | str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> Policy:
    """Build the policy from an argument, configuration or the environment."""
    raw = get_setting("blast_radius", policy, configuration, secrets, default={})
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(f"blast_radius is not valid JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"blast_radius must be a mapping, got {type(raw).__name__}")
    known = {"allowed_namespaces", "forbidden_namespaces", "required_labels", "max_percent",
             "max_count"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigurationError(
            f"blast_radius has unknown key(s) {', '.join(unknown)}: use {', '.join(sorted(known))}"
        )
    try:
        max_percent = None if raw.get("max_percent") is None else float(raw["max_percent"])
        max_count = None if raw.get("max_count") is None else int(raw["max_count"])
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"blast_radius max_percent/max_count must be numbers: {exc}") from exc
    forbidden = tuple(dict.fromkeys([*ALWAYS_FORBIDDEN, *raw.get("forbidden_namespaces", [])]))
    return Policy(
        allowed_namespaces=tuple(raw.get("allowed_namespaces") or ()),
        forbidden_namespaces=forbidden,
        required_labels=_labels(raw.get("required_labels")),
        max_percent=max_percent,
        max_count=max_count,
    )


def selections(manifest: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod-selecting spec in a manifest: ``(where, spec)``.

    A chaos object has one (two for a NetworkChaos with a ``target``); a
    Schedule embeds one, or a whole Workflow; a Workflow has one per chaos or
    schedule template.
    """
    from chaosllm.chaosmesh._kinds import CHAOS_KINDS, KINDS

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
    from chaosllm.chaosmesh._kinds import CHAOS_KINDS

    for template in spec.get("templates") or []:
        where = f"{name} template {template.get('name')}"
        yield from _embedded(where, template, CHAOS_KINDS)
        if isinstance(template.get("schedule"), Mapping):
            yield from _embedded(where, template["schedule"], CHAOS_KINDS)


# Workflow template types that select no pods themselves.
_FLOW_TEMPLATES = ("Serial", "Parallel", "Suspend", "Task", "StatusCheck", "Schedule")


def unchecked(manifest: Mapping[str, Any]) -> list[str]:
    """Parts of a manifest that may select pods in a way the policy cannot check:
    a Schedule or Workflow template of a kind chaosllm does not know (JVMChaos,
    KernelChaos, ...). They are refused, as such kinds are refused on their own."""
    from chaosllm.chaosmesh._kinds import KINDS

    def known(kind: Any) -> bool:
        return kind in KINDS and KINDS[kind].is_chaos

    kind = str(manifest.get("kind"))
    spec = manifest.get("spec") or {}
    name = f"{kind} {(manifest.get('metadata') or {}).get('name', '?')}"
    found = []
    templates: list[Any] = []
    if kind == "Schedule" and spec.get("type") == "Workflow":
        templates = (spec.get("workflow") or {}).get("templates") or []
    elif kind == "Schedule" and not known(spec.get("type")):
        found.append(f"{name}: schedule type {spec.get('type')} cannot be checked against the policy")
    elif kind == "Workflow":
        templates = spec.get("templates") or []
    for template in templates:
        template_type = template.get("templateType") if isinstance(template, Mapping) else None
        inner = template.get("schedule") if isinstance(template, Mapping) else None
        if template_type == "Schedule" and isinstance(inner, Mapping) and not known(inner.get("type")):
            template_type = inner.get("type")
        elif template_type in _FLOW_TEMPLATES or known(template_type):
            continue
        where = f"{name} template {template.get('name') if isinstance(template, Mapping) else '?'}"
        found.append(f"{where}: template type {template_type} cannot be checked against the policy")
    return found


def _embedded(where: str, holder: Mapping[str, Any], kinds: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in kinds:
        inner = holder.get(kind.embed_key)
        if isinstance(inner, Mapping):
            yield f"{where} ({kind.kind})", dict(inner)
            if isinstance(inner.get("target"), Mapping) and "selector" in inner["target"]:
                yield f"{where} ({kind.kind} target)", dict(inner["target"])


def _reach(spec: Mapping[str, Any], matched: int | None) -> tuple[float | None, int | None]:
    """(percent, count) a mode/value can affect; None when it cannot be known."""
    mode, value = spec.get("mode"), spec.get("value")
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    if mode == "one":
        return None, 1
    if mode == "fixed":
        return None, int(number) if number is not None else None
    percent = 100.0 if mode == "all" else number
    if matched is None or percent is None:
        return percent, None
    return percent, math.ceil(matched * percent / 100)


def violations(
    manifest: Mapping[str, Any], policy: Policy, matched: Mapping[str, int] | None = None
) -> list[str]:
    """Every way ``manifest`` breaks ``policy`` (empty when it complies).

    ``matched`` maps each selection (as :func:`selections` names it) to the
    number of pods its selector matches now, when known; without it,
    ``max_count`` is checked only for modes with a fixed count.
    """
    from chaosllm.chaosmesh._selector import selector_namespaces

    default_ns = (manifest.get("metadata") or {}).get("namespace") or "default"
    found = unchecked(manifest)
    for where, spec in selections(manifest):
        selector = spec.get("selector") or {}
        for ns in selector_namespaces(selector, default_ns):
            if any(fnmatch.fnmatchcase(ns, pattern) for pattern in policy.forbidden_namespaces):
                found.append(f"{where}: namespace {ns} is forbidden")
            elif policy.allowed_namespaces and not any(
                fnmatch.fnmatchcase(ns, pattern) for pattern in policy.allowed_namespaces
            ):
                found.append(
                    f"{where}: namespace {ns} is not in allowed namespaces "
                    f"{', '.join(policy.allowed_namespaces)}"
                )
        labels = selector.get("labelSelectors") or {}
        if policy.required_labels and selector.get("pods"):
            # Chaos Mesh ignores every other selector field when pods are named.
            found.append(f"{where}: selector names pods explicitly, which bypasses the opt-in label")
        for key, value in policy.required_labels.items():
            if labels.get(key) != value:
                found.append(f"{where}: selector does not require the opt-in label {key}={value}")
        percent, count = _reach(spec, (matched or {}).get(where))
        if policy.max_percent is not None and percent is not None and percent > policy.max_percent:
            found.append(
                f"{where}: mode {spec.get('mode')} reaches {percent:g}% of the selected pods, "
                f"more than max_percent {policy.max_percent:g}%"
            )
        if policy.max_count is not None and count is not None and count > policy.max_count:
            found.append(
                f"{where}: mode {spec.get('mode')} reaches {count} pod(s), "
                f"more than max_count {policy.max_count}"
            )
    return found


def enforce(
    manifest: Mapping[str, Any], policy: Policy, matched: Mapping[str, int] | None = None
) -> None:
    """Raise :class:`PolicyViolation` listing every violation of ``policy``."""
    found = violations(manifest, policy, matched)
    if found:
        raise PolicyViolation("blast-radius policy refused: " + "; ".join(found))


def configure_control(
    policy: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Refuse a malformed policy when the experiment is loaded.

    It also records the experiment's title as ``experiment_title`` in the
    configuration (unless set), which the Chaos Mesh actions write into the
    ``chaosllm.io/experiment`` annotation of every object they create.
    """
    from chaoslib.exceptions import InterruptExecution

    try:
        policy_from(policy, configuration, secrets)
    except ConfigurationError as exc:
        raise InterruptExecution(str(exc)) from exc
    if isinstance(configuration, dict) and experiment and experiment.get("title"):
        configuration.setdefault("experiment_title", str(experiment["title"]))


def _activities(experiment: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    for group in (hypothesis.get("probes"), experiment.get("method"), experiment.get("rollbacks")):
        for activity in group or []:
            if isinstance(activity, Mapping) and "provider" in activity:
                yield activity


def before_experiment_control(
    context: dict[str, Any],
    policy: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Check every Chaos Mesh activity's targets; interrupt the run on a violation."""
    from chaoslib import substitute
    from chaoslib.exceptions import InterruptExecution

    from chaosllm.chaosmesh.actions import RENDERERS
    from chaosllm.errors import ChaosLLMError

    try:
        rules = policy_from(policy, configuration, secrets)
    except ConfigurationError as exc:
        raise InterruptExecution(str(exc)) from exc
    for activity in _activities(context):
        provider = activity["provider"]
        # Probes and the other chaosmesh modules create nothing, so only actions are checked.
        if provider.get("type") != "python" or provider.get("module") != CHAOSMESH_ACTIONS:
            continue
        arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets)
        name = activity.get("name", provider.get("func"))
        try:
            render = RENDERERS.get(str(provider.get("func")))
            manifests = render(**arguments, configuration=configuration, secrets=secrets) if render else []
            for manifest in manifests:
                enforce(manifest, rules)
        except ChaosLLMError as exc:
            raise InterruptExecution(f"activity '{name}' refused: {exc}") from exc
