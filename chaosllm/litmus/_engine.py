"""Building a Litmus ChaosEngine for one fault, without touching the cluster.

:func:`render_engine` checks the arguments of ``run_litmus_fault`` and
returns the ChaosEngine manifest: ``appinfo`` from the app namespace, label
and kind, the fault's env (with ``TOTAL_CHAOS_DURATION`` from ``duration``),
the service account and the probes in Litmus's own format. The manifest
carries the managed-by label and the experiment annotation, as every object
chaosllm creates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chaosllm.chaosmesh._selector import parse_labels
from chaosllm.chaosmesh._spec import check_name, default_name, stamp
from chaosllm.errors import InvalidArgument
from chaosllm.faults import fault_seconds

__all__ = [
    "API_VERSION",
    "APP_KINDS",
    "PROBE_TYPES",
    "PROBE_MODES",
    "result_name",
    "render_engine",
    "app_target",
]

API_VERSION = "litmuschaos.io/v1alpha1"
APP_KINDS = ("deployment", "statefulset", "daemonset", "deploymentconfig", "rollout")
PROBE_TYPES = ("httpProbe", "cmdProbe", "k8sProbe", "promProbe")
PROBE_MODES = ("SOT", "EOT", "Edge", "Continuous", "OnChaos")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def result_name(engine: str, experiment: str) -> str:
    """The ChaosResult Litmus's runner writes for an engine's experiment."""
    return f"{engine}-{experiment}"


def app_target(manifest: Mapping[str, Any]) -> str:
    """``"<appns>: <applabel>"``, as a fault handle names its target."""
    appinfo = (manifest.get("spec") or {}).get("appinfo") or {}
    return f"{appinfo.get('appns')}: {appinfo.get('applabel')}"


def _env(env: Mapping[str, Any] | None, seconds: float) -> list[dict[str, str]]:
    pairs = dict(env or {})
    for key in pairs:
        if not _ENV_NAME.match(str(key)):
            raise InvalidArgument(
                f"env name {key!r} is not an environment variable name (such as CHAOS_INTERVAL)")
    if "TOTAL_CHAOS_DURATION" in pairs:
        raise InvalidArgument("env TOTAL_CHAOS_DURATION is set from `duration`: give the duration there")
    percent = str(pairs.get("PODS_AFFECTED_PERC", "")).strip()
    if percent and (not percent.isdigit() or not 0 <= int(percent) <= 100):
        raise InvalidArgument(f"env PODS_AFFECTED_PERC must be a whole percentage 0..100, got {percent!r}")
    out = [{"name": "TOTAL_CHAOS_DURATION", "value": str(max(1, round(seconds)))}]
    return out + [{"name": str(k), "value": "" if v is None else str(v)} for k, v in pairs.items()]


def _probes(probes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for probe in probes or []:
        if not isinstance(probe, Mapping):
            raise InvalidArgument(f"a Litmus probe must be an object, got {probe!r}")
        name = str(probe.get("name") or "")
        if not name or name in seen:
            raise InvalidArgument(f"every Litmus probe needs a unique name, got {name or 'none'!r}")
        seen.add(name)
        if probe.get("type") not in PROBE_TYPES:
            raise InvalidArgument(f"probe {name}: type must be one of {', '.join(PROBE_TYPES)}, "
                                  f"got {probe.get('type')!r}")
        if probe.get("mode") not in PROBE_MODES:
            raise InvalidArgument(f"probe {name}: mode must be one of {', '.join(PROBE_MODES)}, "
                                  f"got {probe.get('mode')!r}")
        if f"{probe['type']}/inputs" not in probe:
            raise InvalidArgument(f"probe {name}: its inputs go under '{probe['type']}/inputs'")
        if not isinstance(probe.get("runProperties"), Mapping):
            raise InvalidArgument(f"probe {name}: runProperties (probeTimeout, interval, ...) is required")
    return [dict(p) for p in probes or []]


def render_engine(args: Mapping[str, Any]) -> dict[str, Any]:
    """The ChaosEngine of ``run_litmus_fault``'s bound arguments (see its docstring)."""
    fault = str(args["fault"] or "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", fault):
        raise InvalidArgument(f"fault {fault!r} is not a Litmus fault name such as 'pod-delete'")
    seconds = fault_seconds(args["duration"], False)
    assert seconds is not None
    namespace = str(args["namespace"] or "default")
    labels = parse_labels(args["app_label"], "app_label")
    if not labels:
        raise InvalidArgument("app_label is required: the pods' labels, such as 'app=gateway'")
    kind = str(args["app_kind"] or "deployment")
    if kind not in APP_KINDS:
        raise InvalidArgument(f"app_kind must be one of {', '.join(APP_KINDS)}, got {kind!r}")
    applabel = ",".join(f"{k}={v}" for k, v in labels.items())
    name = check_name(str(args["name"] or default_name(fault, {"labelSelectors": labels})))
    experiment: dict[str, Any] = {"components": {"env": _env(args["env"], seconds)}}
    probes = _probes(args["probes"])
    if probes:
        experiment["probe"] = probes
    spec = {
        "engineState": "active",
        "appinfo": {"appns": str(args["app_namespace"] or namespace), "applabel": applabel,
                    "appkind": kind},
        "chaosServiceAccount": str(args["service_account"] or f"{fault}-sa"),
        "jobCleanUpPolicy": "delete",
        "experiments": [{"name": fault, "spec": experiment}],
    }
    manifest = {"apiVersion": API_VERSION, "kind": "ChaosEngine", "metadata": {"name": name}, "spec": spec}
    return stamp(manifest, namespace, args["configuration"], args["secrets"])
