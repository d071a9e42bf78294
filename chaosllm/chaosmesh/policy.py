"""The blast-radius policy: which pods a fault may reach, checked before anything is created.

The policy is the one :func:`chaosllm.blast_radius.blast_radius_from` finds
(the control's ``policy`` argument, secrets, configuration,
``$CHAOSLLM_BLAST_RADIUS`` or the settings file), validated against
``chaosllm/blast_radius.schema.json``; its top-level keys are the Chaos Mesh
rules::

    {"blast_radius": {"allowed_namespaces": ["shop", "staging-*"],
                      "forbidden_namespaces": ["payments"],
                      "required_labels": {"chaos-ready": "true"},
                      "max_percent": 50, "max_count": 3}}

``kube-system`` is always forbidden. The rules (:func:`check`) take a list of
:class:`Selection`, one per set of pods a fault selects, so that they do not
depend on where the selection was written; :func:`violations` and
:func:`enforce` read those selections out of a Chaos Mesh manifest (a chaos
object, a Schedule, a Workflow). The Chaos Mesh actions enforce the policy on
every manifest before creating it, and :mod:`chaosllm.controls.blast_radius`
on every Chaos Mesh activity of an experiment before it starts.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosllm.blast_radius import SETTING, blast_radius_from
from chaosllm.chaosmesh._selections import selections, unchecked
from chaosllm.chaosmesh._selector import check_mode, parse_labels, selector_namespaces
from chaosllm.errors import ConfigurationError, InvalidArgument, PolicyViolation

__all__ = [
    "ALWAYS_FORBIDDEN",
    "Policy",
    "Selection",
    "policy_from",
    "check",
    "selections",
    "unchecked",
    "violations",
    "enforce",
]

ALWAYS_FORBIDDEN = ("kube-system",)


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


# -- reading and validating the policy ------------------------------------------------


def policy_from(
    policy: Mapping[str, Any] | str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> Policy:
    """The Chaos Mesh rules of the policy :func:`chaosllm.blast_radius.blast_radius_from` finds."""
    found = blast_radius_from(policy, configuration, secrets)
    rules, source = found.document, found.source
    try:
        labels = parse_labels(rules.get("required_labels"), f"{SETTING}.required_labels")
    except InvalidArgument as exc:
        raise ConfigurationError(f"{SETTING} from {source}: {exc}") from exc
    percent, count = rules.get("max_percent"), rules.get("max_count")
    return Policy(
        allowed_namespaces=tuple(rules.get("allowed_namespaces") or ()),
        forbidden_namespaces=tuple(
            dict.fromkeys([*ALWAYS_FORBIDDEN, *(rules.get("forbidden_namespaces") or ())])
        ),
        required_labels=labels,
        max_percent=None if percent is None else float(percent),
        max_count=None if count is None else int(count),
    )


# -- the rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """One set of pods a fault selects, as the rules see it.

    ``where`` names it in messages and in the ``matched`` counts; ``namespaces``
    are every namespace it can reach; ``names_pods`` is true when it lists
    pods by name (which bypasses label selection); ``mode`` and ``value`` say
    how many of the matched pods are affected (Chaos Mesh's modes).
    """

    where: str
    namespaces: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    names_pods: bool = False
    mode: str | None = None
    value: Any = None


def _reach(selection: Selection, matched: int | None) -> tuple[float | None, int | None]:
    """(percent, count) a mode/value can affect; None when it cannot be known.

    The mode and value have passed :func:`_mode_problem` (or the mode is absent).
    """
    mode = selection.mode
    if mode == "one":
        return None, 1
    if mode not in ("all", "fixed", "fixed-percent", "random-max-percent"):
        return None, None
    number = None if mode == "all" else int(str(selection.value))
    if mode == "fixed":
        return None, number
    percent = 100.0 if number is None else float(number)
    if matched is None:
        return percent, None
    return percent, math.ceil(matched * percent / 100)


def _mode_problem(selection: Selection, policy: Policy) -> str | None:
    """A mode or value the policy cannot bound: unknown, malformed ("0x10", "nan"), or absent
    while a limit is set."""
    if selection.mode is None:
        if policy.max_percent is None and policy.max_count is None:
            return None
        return f"{selection.where}: no mode is set, so max_percent and max_count cannot bound it"
    try:
        check_mode(selection.mode, selection.value)
    except InvalidArgument as exc:
        return f"{selection.where}: {exc}"
    return None


def _namespace_problems(where: str, namespaces: Iterable[Any], policy: Policy) -> Iterator[str]:
    for ns in namespaces:
        if not isinstance(ns, str) or not ns.strip() or ns != ns.strip():
            yield (f"{where}: namespace {ns!r} is not a namespace name (an empty namespace "
                   f"reaches every namespace)")  # fmt: skip
            continue
        if any(fnmatch.fnmatchcase(ns, pattern) for pattern in policy.forbidden_namespaces):
            yield f"{where}: namespace {ns} is forbidden"
        elif policy.allowed_namespaces and not any(
            fnmatch.fnmatchcase(ns, pattern) for pattern in policy.allowed_namespaces
        ):
            yield (f"{where}: namespace {ns} is not in allowed namespaces "
                   f"{', '.join(policy.allowed_namespaces)}")


def check(
    targets: Iterable[Selection], policy: Policy, matched: Mapping[str, int] | None = None
) -> list[str]:
    """Every way the ``targets`` break ``policy`` (empty when they comply).

    ``matched`` maps a selection's ``where`` to the number of pods it
    matches now, when known; without it, ``max_count`` is checked only for
    modes with a fixed count.
    """
    found: list[str] = []
    for target in targets:
        where = target.where
        found.extend(_namespace_problems(where, target.namespaces, policy))
        if policy.required_labels and target.names_pods:
            # Chaos Mesh ignores every other selector field when pods are named.
            found.append(f"{where}: selector names pods explicitly, which bypasses the opt-in label")
        for key, value in policy.required_labels.items():
            if target.labels.get(key) != value:
                found.append(f"{where}: selector does not require the opt-in label {key}={value}")
        problem = _mode_problem(target, policy)
        if problem:
            found.append(problem)
            continue
        percent, count = _reach(target, (matched or {}).get(where))
        if policy.max_percent is not None and percent is not None and percent > policy.max_percent:
            found.append(
                f"{where}: mode {target.mode} reaches {percent:g}% of the selected pods, "
                f"more than max_percent {policy.max_percent:g}%"
            )
        if policy.max_count is not None and count is not None and count > policy.max_count:
            found.append(
                f"{where}: mode {target.mode} reaches {count} pod(s), more than max_count {policy.max_count}"
            )
    return found


# -- a Chaos Mesh manifest ----------------------------------------------------------


def _selection(where: str, spec: Mapping[str, Any], default_namespace: str) -> Selection:
    selector = spec.get("selector") or {}
    return Selection(
        where=where,
        namespaces=tuple(selector_namespaces(selector, default_namespace)),
        labels=dict(selector.get("labelSelectors") or {}),
        names_pods=bool(selector.get("pods")),
        mode=spec.get("mode"),
        value=spec.get("value"),
    )


def violations(
    manifest: Mapping[str, Any], policy: Policy, matched: Mapping[str, int] | None = None
) -> list[str]:
    """Every way ``manifest`` breaks ``policy`` (empty when it complies).

    ``matched`` maps each selection (as :func:`selections` names it) to the
    number of pods its selector matches now, when known; without it,
    ``max_count`` is checked only for modes with a fixed count.
    """
    default_ns = (manifest.get("metadata") or {}).get("namespace") or "default"
    targets = [_selection(where, spec, default_ns) for where, spec in selections(manifest)]
    return unchecked(manifest) + check(targets, policy, matched)


def enforce(
    manifest: Mapping[str, Any], policy: Policy, matched: Mapping[str, int] | None = None
) -> None:
    """Raise :class:`PolicyViolation` listing every violation of ``policy``."""
    found = violations(manifest, policy, matched)
    if found:
        raise PolicyViolation("blast-radius policy refused: " + "; ".join(found))
