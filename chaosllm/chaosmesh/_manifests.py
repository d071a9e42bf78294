"""The manifests behind apply_manifest, schedule_chaos and create_workflow.

Each renderer takes its action's bound arguments and returns the objects
to create, checked and stamped, without touching the cluster.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from chaosllm.arguments import Range, check_field
from chaosllm.chaosmesh._kinds import kind_of
from chaosllm.chaosmesh._selector import build_selector, check_mode
from chaosllm.chaosmesh._spec import API_VERSION, check_duration, check_lifetime, check_name, stamp
from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration

__all__ = ["render_manifests", "render_schedule", "render_workflow"]

# A status check's counts and seconds: int32 fields of the Workflow CRD.
_SECONDS = Annotated[int, Range(1, 2**31 - 1)]


def _documents(path_or_manifest: str | dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    import yaml

    if isinstance(path_or_manifest, Mapping):
        docs: list[Any] = [path_or_manifest]
    elif isinstance(path_or_manifest, list):
        docs = list(path_or_manifest)
    else:
        text = str(path_or_manifest)
        if "\n" not in text and not text.lstrip().startswith(("{", "[")):
            try:
                text = Path(text).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidArgument(f"could not read manifest file {path_or_manifest!r}: {exc}") from exc
        try:
            docs = list(yaml.safe_load_all(text))  # JSON is YAML too
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"manifest is neither YAML nor JSON: {exc}") from exc
    found: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        doc = check_field(doc, dict[str, Any], "a manifest document")
        items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else [doc]
        items = check_field(items or [], list[dict[str, Any]], f"the items of {doc.get('kind')}")
        found.extend(copy.deepcopy(dict(d)) for d in items)
    if not found:
        raise InvalidArgument("the manifest holds no object")
    return found


def render_manifests(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """apply_manifest's objects, checked and stamped; ``args`` are its bound arguments."""
    manifests = []
    for doc in _documents(args["path_or_manifest"]):
        if doc.get("apiVersion") != API_VERSION:
            raise InvalidArgument(
                f"only {API_VERSION} objects are applied, got apiVersion {doc.get('apiVersion')!r} "
                f"({doc.get('kind')})"
            )
        kind = kind_of(str(doc.get("kind")))
        check_name(str((doc.get("metadata") or {}).get("name", "")))
        spec = doc.get("spec") or {}
        where = f"{kind.kind} {doc['metadata']['name']} spec"
        if kind.is_chaos:
            check_duration(spec.get("duration"), args["allow_unbounded"], f"{where}.duration")
        elif kind.kind == "Schedule":  # each run of a scheduled fault needs its own end
            embedded = kind_of(str(spec.get("type"))).embed_key
            if embedded and embedded != "schedule":
                check_duration((spec.get(embedded) or {}).get("duration"), args["allow_unbounded"],
                               f"{where}.{embedded}.duration")
            check_lifetime(doc, args["lifetime"], args["allow_unbounded"])
        manifests.append(stamp(doc, args["namespace"], args["configuration"], args["secrets"]))
    return manifests


def _chaos_spec(kind: str, spec: Mapping[str, Any], namespace: str) -> tuple[str, dict[str, Any]]:
    """An embedded chaos spec with its selector made explicit; returns (embed key, spec)."""
    found = kind_of(kind)
    spec = check_field(spec, dict[str, Any], f"the spec of {kind}")
    if not found.is_chaos:
        raise InvalidArgument(f"kind must be a chaos kind such as NetworkChaos, got {kind!r}")
    inner = copy.deepcopy(dict(spec))
    inner["selector"] = build_selector(inner.get("selector"), None, None, namespace)
    check_mode(str(inner.get("mode")), inner.get("value"))
    assert found.embed_key is not None
    return found.embed_key, inner


def render_schedule(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """schedule_chaos's Schedule; ``args`` are its bound arguments."""
    kind, schedule, policy = kind_of(args["kind"]), str(args["schedule"]), args["concurrency_policy"]
    key, inner = _chaos_spec(kind.kind, args["spec"], args["namespace"])
    duration = args["duration"] or inner.get("duration")
    if check_duration(duration, args["allow_unbounded"], "duration") is not None:
        inner["duration"] = str(duration)
    if policy not in ("Forbid", "Allow"):
        raise InvalidArgument(f"concurrency_policy must be 'Forbid' or 'Allow', got {policy!r}")
    if not schedule.strip():
        raise InvalidArgument("schedule must be a cron expression such as '*/5 * * * *' or '@every 10m'")
    body: dict[str, Any] = {"schedule": schedule, "type": kind.kind, "concurrencyPolicy": policy,
                            "historyLimit": args["history_limit"], key: inner}
    if args["starting_deadline_seconds"] is not None:
        body["startingDeadlineSeconds"] = args["starting_deadline_seconds"]
    default = f"schedule-{kind.plural}-{re.sub(r'[^a-z0-9]+', '-', schedule.lower())}"
    name = args["name"] or default.strip("-")[:63].rstrip("-")
    manifest = {"apiVersion": API_VERSION, "kind": "Schedule", "metadata": {"name": check_name(name)},
                "spec": body}
    check_lifetime(manifest, args["lifetime"], args["allow_unbounded"])
    return [stamp(manifest, args["namespace"], args["configuration"], args["secrets"])]


def render_workflow(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """create_workflow's Workflow; ``args`` are its bound arguments."""
    mode, steps, namespace = args["mode"], args["steps"], args["namespace"]
    if mode not in ("Serial", "Parallel"):
        raise InvalidArgument(f"mode must be 'Serial' or 'Parallel', got {mode!r}")
    if not steps:
        raise InvalidArgument("steps must list at least one step")
    deadline = str(args["duration"] or "")
    check_duration(deadline, False, "duration (the workflow deadline)")
    templates = [_step_template(step, deadline, namespace) for step in steps]
    body = {"name": "steps", "templateType": mode, "deadline": deadline,
            "children": [t["name"] for t in templates]}
    templates.insert(0, body)
    entry = "steps"
    if args["status_check"]:
        templates.insert(0, _status_check_template(args["status_check"], deadline))
        templates.insert(0, {"name": "entry", "templateType": "Parallel", "deadline": deadline,
                             "children": ["status-check", "steps"]})
        entry = "entry"
    names = [t["name"] for t in templates]
    if len(set(names)) != len(names):
        raise InvalidArgument(
            f"step names must be unique and not 'entry', 'steps' or 'status-check': {names}"
        )
    manifest = {"apiVersion": API_VERSION, "kind": "Workflow",
                "metadata": {"name": check_name(args["name"] or f"workflow-{mode.lower()}")},
                "spec": {"entry": entry, "templates": templates}}
    return [stamp(manifest, namespace, args["configuration"], args["secrets"])]


def _step_template(step: Mapping[str, Any], deadline: str, namespace: str) -> dict[str, Any]:
    if "templateType" in step:  # already a Chaos Mesh template
        return copy.deepcopy(dict(step))
    unknown = sorted(set(step) - {"name", "kind", "spec", "duration"})
    if unknown or not step.get("name") or not step.get("kind"):
        raise InvalidArgument(
            "a step is {'name', 'kind', 'spec', 'duration'} or a Chaos Mesh template; got "
            + json.dumps(step)[:200]
        )
    key, inner = _chaos_spec(str(step["kind"]), step.get("spec") or {}, namespace)
    step_deadline = str(step.get("duration") or deadline)
    parse_duration(step_deadline, f"step {step['name']} duration")
    return {"name": check_name(str(step["name"])), "templateType": kind_of(str(step["kind"])).kind,
            "deadline": step_deadline, key: inner}


def _status_check_template(check: Mapping[str, Any], deadline: str) -> dict[str, Any]:
    unknown = sorted(set(check) - {"url", "method", "status_code", "interval_seconds",
                                   "timeout_seconds", "failure_threshold", "body", "headers"})
    if unknown or not check.get("url"):
        raise InvalidArgument(f"status_check needs a url; unknown field(s): {', '.join(unknown) or 'none'}")
    http: dict[str, Any] = {"url": str(check["url"]), "method": str(check.get("method", "GET")),
                            "criteria": {"statusCode": str(check.get("status_code", "200"))}}
    if check.get("body"):
        http["body"] = str(check["body"])
    if check.get("headers"):
        headers = check_field(check["headers"], dict[str, str | list[str]], "status_check.headers")
        http["headers"] = {k: [v] if isinstance(v, str) else list(v) for k, v in headers.items()}
    return {
        "name": "status-check", "templateType": "StatusCheck", "deadline": deadline,
        "abortWithStatusCheck": True,
        "statusCheck": {"mode": "Continuous", "type": "HTTP", "http": http,
                        "intervalSeconds": _positive(check, "interval_seconds", 1),
                        "timeoutSeconds": _positive(check, "timeout_seconds", 1),
                        "failureThreshold": _positive(check, "failure_threshold", 3)},
    }  # fmt: skip


def _positive(check: Mapping[str, Any], key: str, default: int) -> int:
    value: int = check_field(check.get(key, default), _SECONDS, f"status_check.{key}")
    return value
