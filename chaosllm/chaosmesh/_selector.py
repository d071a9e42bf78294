"""One Chaos Mesh pod selector for every kind, and a read-only preview of what it matches.

``build_selector`` merges a whole selector with the shortcuts
(``label_selectors``, ``namespaces``); ``matching_pods`` lists the pods a
selector matches, the way Chaos Mesh would choose among them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from chaosllm.arguments import check_field
from chaosllm.errors import InvalidArgument

__all__ = [
    "MODES",
    "SELECTOR_KEYS",
    "build_selector",
    "check_mode",
    "check_namespace",
    "parse_labels",
    "selector_namespaces",
    "describe_selector",
    "matching_pods",
]

MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")
SELECTOR_KEYS = (
    "namespaces", "labelSelectors", "annotationSelectors", "fieldSelectors",
    "expressionSelectors", "pods", "nodes", "nodeSelectors", "podPhaseSelectors",
)  # fmt: skip
_SET_OPERATORS = {"In": "in", "NotIn": "notin"}
# A namespace name: a DNS-1123 label.
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def check_namespace(name: Any, what: str = "namespace") -> str:
    """``name`` if it can name a namespace; an empty name is refused, never taken as "default"."""
    if not isinstance(name, str) or not _NAMESPACE.fullmatch(name):
        raise InvalidArgument(
            f"{what} {name!r} is not a namespace name: 1 to 63 lower-case letters, digits or '-'"
        )
    return name


def parse_labels(value: str | Mapping[str, Any] | None, what: str = "label_selectors") -> dict[str, str]:
    """``"app=web,tier=api"`` or a mapping -> ``{"app": "web", "tier": "api"}``."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be 'k=v,k2=v2' or a mapping, got {value!r}")
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or val.startswith("="):
            raise InvalidArgument(f"{what} {value!r}: expected 'key=value', got {part!r}")
        labels[key.strip()] = val.strip()
    return labels


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def build_selector(
    selector: Mapping[str, Any] | None,
    label_selectors: str | Mapping[str, Any] | None,
    namespaces: str | list[str] | None,
    namespace: str,
) -> dict[str, Any]:
    """The selector to send: ``selector`` plus the shortcuts, never without namespaces.

    Chaos Mesh would default an empty namespace list to the object's own
    namespace; writing it out keeps the blast radius visible in the manifest.
    """
    result = copy.deepcopy(check_field(selector or {}, dict[str, Any], "selector"))
    unknown = sorted(set(result) - set(SELECTOR_KEYS))
    if unknown:
        raise InvalidArgument(
            f"selector has unknown field(s) {', '.join(unknown)}: use {', '.join(SELECTOR_KEYS)}"
        )
    labels = parse_labels(label_selectors)
    if labels:
        given = check_field(result.get("labelSelectors") or {}, dict[str, str], "selector labelSelectors")
        result["labelSelectors"] = {**given, **labels}
    listed = _as_list(namespaces)
    if listed:
        result["namespaces"] = listed
    if not result.get("namespaces") and not result.get("pods"):
        result["namespaces"] = [check_namespace(namespace)]
    given = result.get("namespaces") or []  # a single name given as a string is that namespace
    names = [given] if isinstance(given, str) else check_field(given, list[str], "selector namespaces")
    for name in names:
        check_namespace(name, "selector namespace")
    return result


def check_mode(mode: str, value: str | int | None) -> str | None:
    """Refuse a mode/value pair Chaos Mesh would reject; returns value as a string."""
    if mode not in MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode in ("one", "all"):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidArgument(f"mode {mode!r} needs an integer value, got {value!r}") from None
    if number < 1 or (mode != "fixed" and number > 100):
        bound = "at least 1" if mode == "fixed" else "between 1 and 100"
        raise InvalidArgument(f"mode {mode!r} needs a value {bound}, got {value!r}")
    return str(number)


def selector_namespaces(selector: Mapping[str, Any], default: str) -> list[str]:
    """Every namespace a selector can reach (its namespaces and its explicit pods).

    A single name given as a string is that one namespace, never its characters.
    """
    given = selector.get("namespaces")
    found = [given] if isinstance(given, str) else list(given or [])
    found += [ns for ns in (selector.get("pods") or {}) if ns not in found]
    return found or [default]


def describe_selector(selector: Mapping[str, Any]) -> str:
    """A short human form: ``namespaces shop; labels app=web``."""
    parts = []
    if selector.get("namespaces"):
        parts.append("namespaces " + ",".join(selector["namespaces"]))
    for key, title in (("labelSelectors", "labels"), ("annotationSelectors", "annotations"),
                       ("fieldSelectors", "fields"), ("nodeSelectors", "node labels")):
        if selector.get(key):
            parts.append(f"{title} " + ",".join(f"{k}={v}" for k, v in selector[key].items()))
    if selector.get("expressionSelectors"):
        parts.append("expressions " + ",".join(_expression(e) for e in selector["expressionSelectors"]))
    if selector.get("pods"):
        parts.append("pods " + ",".join(
            f"{ns}/{p}" for ns, names in selector["pods"].items() for p in names))
    for key in ("nodes", "podPhaseSelectors"):
        if selector.get(key):
            parts.append(f"{key} " + ",".join(selector[key]))
    return "; ".join(parts) or "every pod"


def _expression(expr: Mapping[str, Any]) -> str:
    key, op, values = expr["key"], expr["operator"], expr.get("values") or []
    if op in _SET_OPERATORS:
        return f"{key} {_SET_OPERATORS[op]} ({','.join(values)})"
    if op == "Exists":
        return key
    if op == "DoesNotExist":
        return f"!{key}"
    raise InvalidArgument(
        f"expression selector operator {op!r} is not one of In, NotIn, Exists, DoesNotExist"
    )


def _label_query(selector: Mapping[str, Any]) -> str:
    terms = [f"{k}={v}" for k, v in (selector.get("labelSelectors") or {}).items()]
    terms += [_expression(e) for e in selector.get("expressionSelectors") or []]
    return ",".join(terms)


def _keeps(pod: Mapping[str, Any], selector: Mapping[str, Any], names: list[str] | None) -> bool:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    annotations = meta.get("annotations") or {}
    if names is not None and meta.get("name") not in names:
        return False
    if any(annotations.get(k) != v for k, v in (selector.get("annotationSelectors") or {}).items()):
        return False
    phases = selector.get("podPhaseSelectors")
    if phases and status.get("phase") not in phases:
        return False
    nodes = selector.get("nodes")
    return not nodes or spec.get("nodeName") in nodes


def matching_pods(api: Any, selector: Mapping[str, Any], default_namespace: str) -> list[dict[str, Any]]:
    """The pods ``selector`` matches now, as ``{"namespace", "name", "labels", "phase"}``.

    Node label selectors are not evaluated here (that needs node objects);
    every other selector field is.
    """
    labels = _label_query(selector)
    fields = ",".join(f"{k}={v}" for k, v in (selector.get("fieldSelectors") or {}).items())
    explicit = selector.get("pods") or {}
    # Explicit pods override every other selector field, as in Chaos Mesh.
    scopes = list(explicit) if explicit else selector_namespaces(selector, default_namespace)
    found = []
    for namespace in scopes:
        names = explicit.get(namespace) if explicit else None
        for pod in api.list_pods(namespace, labels, fields):
            if _keeps(pod, selector, names):
                meta = pod.get("metadata", {})
                found.append({
                    "namespace": meta.get("namespace", namespace), "name": meta.get("name"),
                    "labels": meta.get("labels") or {}, "phase": pod.get("status", {}).get("phase"),
                })  # fmt: skip
    return found
