"""The arguments every Chaos Mesh fault action shares, declared once, and the manifest they build.

:func:`common_arguments` is the signature every fault action takes after its
own parameters; :func:`render_fault` checks those arguments, builds the
selector and the shared spec fields around a fault's own spec part, and
stamps the result. The decorator that publishes a fault action is
:func:`chaosllm.chaosmesh._action.fault_action`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaosllm.chaosmesh._selector import build_selector, check_mode, check_namespace
from chaosllm.errors import InvalidArgument
from chaosllm.faults import fault_seconds, parse_duration
from chaosllm.settings import get_setting

__all__ = [
    "API_VERSION",
    "MANAGED_BY",
    "EXPERIMENT_ANNOTATION",
    "LIFETIME_ANNOTATION",
    "check_lifetime",
    "Common",
    "COMMON_DOC",
    "common_arguments",
    "render_fault",
    "stamp",
    "check_name",
    "default_name",
    "check_duration",
    "dry_run_requested",
]

API_VERSION = "chaos-mesh.org/v1alpha1"
MANAGED_BY = ("app.kubernetes.io/managed-by", "chaosllm")
EXPERIMENT_ANNOTATION = "chaosllm.io/experiment"
# How long a Schedule may run; chaosllm removes it then (Chaos Mesh never ends one).
LIFETIME_ANNOTATION = "chaosllm.io/lifetime"
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

COMMON_DOC = """
Common arguments (every Chaos Mesh fault action): `name` (default
`<fault>-<target>`), `namespace` of the object, `selector` (a whole Chaos
Mesh selector) or the shortcuts `label_selectors` ("k=v,k2=v2" or a
mapping) and `namespaces`, `mode` and `value`, `duration` (required unless
`allow_unbounded` is true), `wait` (return only once injection is
confirmed), `timeout` for that wait, and `dry_run` (create nothing; return
the manifest and the pods it would select; also `CHAOSLLM_DRY_RUN=1`).
"""


def common_arguments(
    name: str | None = None,
    namespace: str = "default",
    selector: dict[str, Any] | None = None,
    label_selectors: str | dict[str, str] | None = None,
    namespaces: list[str] | None = None,
    mode: str = "one",
    value: str | None = None,
    duration: str | None = None,
    allow_unbounded: bool = False,
    wait: bool = True,
    timeout: str = "60s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> None:
    """The parameters every fault action takes after its own (see COMMON_DOC)."""


@dataclass(frozen=True)
class Common:
    """The common arguments, checked: what the submitter needs besides the manifest."""

    namespace: str
    duration: float | None
    wait: bool
    timeout: float
    dry_run: bool
    configuration: Mapping[str, Any] | None
    secrets: Mapping[str, Any] | None


def dry_run_requested(flag: bool) -> bool:
    return bool(flag) or os.environ.get("CHAOSLLM_DRY_RUN", "").lower() in ("1", "true", "yes")


def check_duration(duration: str | None, allow_unbounded: bool, what: str = "duration") -> float | None:
    """Seconds, or None for an unbounded fault, which needs ``allow_unbounded``."""
    return fault_seconds(duration, allow_unbounded, field=what)


def check_lifetime(manifest: dict[str, Any], lifetime: str | None, allow_unbounded: bool) -> None:
    """Give a Schedule its end: ``lifetime`` (or the annotation it carries), required
    unless ``allow_unbounded``; it goes into the ``chaosllm.io/lifetime`` annotation."""
    annotations = manifest.setdefault("metadata", {}).setdefault("annotations", {})
    chosen = lifetime or annotations.get(LIFETIME_ANNOTATION)
    name = f"Schedule {manifest['metadata'].get('name')}"
    if not chosen:
        if allow_unbounded:
            return
        raise InvalidArgument(
            f"{name} has no end: a Schedule runs until it is removed, so give it a lifetime "
            f"(the argument `lifetime`, or the annotation {LIFETIME_ANNOTATION}), such as \"1h\", "
            "after which chaosllm removes it; or set allow_unbounded to true"
        )
    parse_duration(str(chosen), f"{name} lifetime")
    annotations[LIFETIME_ANNOTATION] = str(chosen)


def check_name(name: str) -> str:
    if len(name) > 253 or not _DNS1123.match(name):
        raise InvalidArgument(
            f"name {name!r} is not a valid Kubernetes name: lower-case letters, digits, '-' and '.'"
        )
    return name


def default_name(fault: str, selector: Mapping[str, Any]) -> str:
    """``<fault>-<target>``: the fault and the first label value or namespace."""
    labels = selector.get("labelSelectors") or {}
    target = next(iter(labels.values()), None) or "-".join(selector.get("namespaces") or ["pods"])
    slug = re.sub(r"[^a-z0-9-]+", "-", f"{fault}-{target}".lower()).strip("-")
    return slug[:63].rstrip("-")


def stamp(
    manifest: dict[str, Any],
    namespace: str,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Give a manifest its namespace, the managed-by label and the experiment annotation."""
    meta = manifest.setdefault("metadata", {})
    meta.setdefault("namespace", namespace)
    if not isinstance(meta["namespace"], str) or not meta["namespace"]:
        # YAML reads `namespace: 2024` as a number; the API would refuse it half-way.
        raise InvalidArgument(
            f"{manifest.get('kind')} {meta.get('name')}: metadata.namespace must be a string, "
            f"got {meta['namespace']!r} (quote it in YAML)"
        )
    meta.setdefault("labels", {})[MANAGED_BY[0]] = MANAGED_BY[1]
    experiment = get_setting("experiment_title", None, configuration, secrets, default="adhoc")
    meta.setdefault("annotations", {})[EXPERIMENT_ANNOTATION] = str(experiment)[:250]
    return manifest


def render_fault(
    kind: str, fault: str, part: dict[str, Any], args: Mapping[str, Any]
) -> tuple[dict[str, Any], Common]:
    """One fault's manifest: its own spec ``part`` inside the shared fields built
    from ``args`` (the bound common arguments), with those arguments checked."""
    namespace = check_namespace(args["namespace"])
    seconds = check_duration(args["duration"], bool(args["allow_unbounded"]))
    timeout = parse_duration(str(args["timeout"]), "timeout")
    selector = build_selector(args["selector"], args["label_selectors"], args["namespaces"], namespace)
    spec: dict[str, Any] = {"selector": selector, "mode": str(args["mode"])}
    value = check_mode(spec["mode"], args["value"])
    if value is not None:
        spec["value"] = value
    if seconds is not None:
        spec["duration"] = str(args["duration"])
    spec.update(part)
    name = check_name(str(args["name"] or default_name(fault, selector)))
    manifest = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
    stamp(manifest, namespace, args["configuration"], args["secrets"])
    common = Common(namespace, seconds, bool(args["wait"]), timeout,
                    dry_run_requested(bool(args["dry_run"])), args["configuration"], args["secrets"])
    return manifest, common
