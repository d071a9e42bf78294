"""Chaos Mesh fault actions: one thin function per fault, plus manifests, schedules and workflows.

Each fault function declares only its own arguments and returns its part
of the spec; the selector, the shared spec fields, the safety checks and
confirmed injection come from :mod:`chaosllm.chaosmesh._spec` and
:mod:`chaosllm.chaosmesh._submit`. Every object carries the label
``app.kubernetes.io/managed-by=chaosllm``; ``remove_chaos`` is the rollback
of every fault.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from chaosllm._clients.k8s import chaos_mesh_api
from chaosllm.chaosmesh._kinds import KINDS, kind_of
from chaosllm.chaosmesh._manifests import render_manifests, render_schedule, render_workflow
from chaosllm.chaosmesh._selector import SELECTOR_KEYS, check_mode
from chaosllm.chaosmesh._spec import MANAGED_BY, dry_run_requested, fault_action
from chaosllm.chaosmesh._status import PAUSE_ANNOTATION
from chaosllm.chaosmesh._submit import remove, submit
from chaosllm.errors import FaultFailed, InvalidArgument
from chaosllm.faults import fault_handle, parse_duration

__all__ = [
    "inject_network_delay",
    "inject_network_loss",
    "inject_network_duplicate",
    "inject_network_corrupt",
    "inject_network_bandwidth",
    "inject_network_partition",
    "kill_pods",
    "fail_pods",
    "kill_containers",
    "stress_cpu",
    "stress_memory",
    "inject_io_delay",
    "inject_io_errno",
    "override_io_attr",
    "shift_time",
    "inject_http_fault",
    "inject_dns_fault",
    "apply_manifest",
    "schedule_chaos",
    "create_workflow",
    "pause_chaos",
    "resume_chaos",
    "remove_chaos",
    "remove_all_chaos",
]

# The CRDs accept a single-unit Go duration for latencies ("90ms", "1.5s").
_LATENCY = re.compile(r"^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$")
DIRECTIONS = ("to", "from", "both")


def _latency(value: str, what: str) -> str:
    if not _LATENCY.match(str(value)):
        raise InvalidArgument(f"{what} {value!r} must be one number and unit, such as '90ms'")
    return str(value)


def _percent(value: str | int | float, what: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} must be a percentage, got {value!r}") from None
    if not 0 <= number <= 100:
        raise InvalidArgument(f"{what} must be between 0 and 100, got {value!r}")
    return f"{number:g}"


def _containers(container_names: list[str] | None) -> dict[str, Any]:
    return {"containerNames": list(container_names)} if container_names else {}


# -- NetworkChaos -------------------------------------------------------------------


def _network_arguments(
    direction: str = "to",
    target: dict[str, Any] | None = None,
    external_targets: list[str] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Network arguments (every NetworkChaos action): `direction` ("to", "from" or
    "both"; the last two need a `target`), `target` (the pods on the other
    side: `{"selector": {...}, "mode": "all"}`), `external_targets` (IPs,
    CIDRs or host names outside the cluster) and `device` (the interface).
    """
    if direction not in DIRECTIONS:
        raise InvalidArgument(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    part: dict[str, Any] = {"direction": direction}
    if target:
        unknown = sorted(set(target) - {"selector", "mode", "value"})
        if unknown or not isinstance(target.get("selector"), Mapping):
            raise InvalidArgument(
                "target must be {'selector': {...}, 'mode': ..., 'value': ...}"
                + (f"; unknown field(s) {', '.join(unknown)}" if unknown else "")
            )
        bad = sorted(set(target["selector"]) - set(SELECTOR_KEYS))
        if bad:
            raise InvalidArgument(f"target selector has unknown field(s) {', '.join(bad)}")
        mode = str(target.get("mode", "all"))
        value = check_mode(mode, target.get("value"))
        part["target"] = {"selector": dict(target["selector"]), "mode": mode,
                          **({"value": value} if value else {})}
    if external_targets:
        part["externalTargets"] = [str(t) for t in external_targets]
    if direction != "to" and not target:
        raise InvalidArgument(f"direction {direction!r} needs a target (pods to cut off from)")
    if device:
        part["device"] = device
    return part


def _netem(action: str, percent: str | int, correlation: str | int) -> dict[str, Any]:
    """Loss, duplicate and corrupt: a percentage of packets and its correlation."""
    amounts = {action: _percent(percent, action), "correlation": _percent(correlation, "correlation")}
    return {"action": action, action: amounts}


@fault_action("NetworkChaos", "network-delay", shared=_network_arguments)
def inject_network_delay(
    latency: str = "100ms", jitter: str = "0ms", correlation: str = "0"
) -> dict[str, Any]:
    """Delay the selected pods' network traffic by `latency` (± `jitter`).

    ```json
    {"type": "action", "name": "slow-catalog",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_delay",
                  "arguments": {"namespace": "shop", "label_selectors": "app=catalog",
                                "latency": "200ms", "duration": "60s"}}}
    ```
    """
    delay = {"latency": _latency(latency, "latency"), "jitter": _latency(jitter, "jitter"),
             "correlation": _percent(correlation, "correlation")}
    return {"action": "delay", "delay": delay}


@fault_action("NetworkChaos", "network-loss", shared=_network_arguments)
def inject_network_loss(loss: str = "10", correlation: str = "0") -> dict[str, Any]:
    """Drop `loss` percent of the selected pods' packets.

    ```json
    {"type": "action", "name": "lossy-gateway",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_loss",
                  "arguments": {"label_selectors": "app=gateway", "loss": "25", "duration": "30s"}}}
    ```
    """
    return _netem("loss", loss, correlation)


@fault_action("NetworkChaos", "network-duplicate", shared=_network_arguments)
def inject_network_duplicate(duplicate: str = "10", correlation: str = "0") -> dict[str, Any]:
    """Duplicate `duplicate` percent of the selected pods' packets.

    ```json
    {"type": "action", "name": "duplicate-packets",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_duplicate",
                  "arguments": {"label_selectors": "app=queue", "duplicate": "40", "duration": "30s"}}}
    ```
    """
    return _netem("duplicate", duplicate, correlation)


@fault_action("NetworkChaos", "network-corrupt", shared=_network_arguments)
def inject_network_corrupt(corrupt: str = "10", correlation: str = "0") -> dict[str, Any]:
    """Corrupt `corrupt` percent of the selected pods' packets.

    ```json
    {"type": "action", "name": "corrupt-packets",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_corrupt",
                  "arguments": {"label_selectors": "app=queue", "corrupt": "5", "duration": "30s"}}}
    ```
    """
    return _netem("corrupt", corrupt, correlation)


@fault_action("NetworkChaos", "network-bandwidth", shared=_network_arguments)
def inject_network_bandwidth(
    rate: str = "1mbps",
    limit: int = 20971520,
    buffer: int = 10000,
    peakrate: int | None = None,
    minburst: int | None = None,
) -> dict[str, Any]:
    """Limit the selected pods' bandwidth to `rate` (a token bucket: `limit` bytes queued, `buffer` burst).

    ```json
    {"type": "action", "name": "thin-pipe",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_bandwidth",
                  "arguments": {"label_selectors": "app=recommendations", "rate": "1mbps",
                                "duration": "2m"}}}
    ```
    """
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(bps|kbps|mbps|gbps|tbps)", str(rate).lower()):
        raise InvalidArgument(f"rate {rate!r} must be a number and unit such as '1mbps' or '500kbps'")
    if int(limit) < 1 or int(buffer) < 1:
        raise InvalidArgument(f"limit and buffer must be at least 1, got {limit!r} and {buffer!r}")
    bandwidth: dict[str, Any] = {"rate": str(rate).lower(), "limit": int(limit), "buffer": int(buffer)}
    if peakrate is not None:
        bandwidth["peakrate"] = int(peakrate)
    if minburst is not None:
        bandwidth["minburst"] = int(minburst)
    return {"action": "bandwidth", "bandwidth": bandwidth}


@fault_action("NetworkChaos", "network-partition", shared=_network_arguments)
def inject_network_partition() -> dict[str, Any]:
    """Cut the selected pods off from `target` pods and/or `external_targets`.

    ```json
    {"type": "action", "name": "split-db",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_network_partition",
                  "arguments": {"label_selectors": "app=catalog", "direction": "both",
                                "target": {"selector": {"labelSelectors": {"app": "postgres"}},
                                           "mode": "all"},
                                "duration": "30s"}}}
    ```
    """
    return {"action": "partition"}


# -- PodChaos -----------------------------------------------------------------------


@fault_action("PodChaos", "pod-kill")
def kill_pods(grace_period: int = 0) -> dict[str, Any]:
    """Kill the selected pods (their controllers restart them).

    ```json
    {"type": "action", "name": "kill-one-gateway",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "kill_pods",
                  "arguments": {"label_selectors": "app=gateway", "mode": "one", "duration": "30s"}}}
    ```
    """
    if int(grace_period) < 0:
        raise InvalidArgument(f"grace_period must not be negative, got {grace_period!r}")
    return {"action": "pod-kill", "gracePeriod": int(grace_period)}


@fault_action("PodChaos", "pod-failure")
def fail_pods() -> dict[str, Any]:
    """Make the selected pods fail (their containers replaced by a pause image) for `duration`.

    ```json
    {"type": "action", "name": "fail-catalog",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "fail_pods",
                  "arguments": {"label_selectors": "app=catalog", "duration": "60s"}}}
    ```
    """
    return {"action": "pod-failure"}


@fault_action("PodChaos", "container-kill")
def kill_containers(container_names: list[str]) -> dict[str, Any]:
    """Kill the named containers in the selected pods.

    ```json
    {"type": "action", "name": "kill-sidecar",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "kill_containers",
                  "arguments": {"label_selectors": "app=gateway", "container_names": ["envoy"],
                                "duration": "30s"}}}
    ```
    """
    if not container_names:
        raise InvalidArgument("container_names must name at least one container")
    return {"action": "container-kill", **_containers(container_names)}


# -- StressChaos --------------------------------------------------------------------


@fault_action("StressChaos", "stress-cpu")
def stress_cpu(
    workers: int = 1, load: int = 50, container_names: list[str] | None = None
) -> dict[str, Any]:
    """Load the selected pods' CPU: `workers` stressors each at `load` percent.

    ```json
    {"type": "action", "name": "burn-cpu",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "stress_cpu",
                  "arguments": {"label_selectors": "app=inference", "workers": 2, "load": 80,
                                "duration": "2m"}}}
    ```
    """
    if not 1 <= int(workers) <= 8192 or not 0 <= int(load) <= 100:
        raise InvalidArgument(f"workers must be 1..8192 and load 0..100, got {workers!r}, {load!r}")
    return {"stressors": {"cpu": {"workers": int(workers), "load": int(load)}},
            **_containers(container_names)}


@fault_action("StressChaos", "stress-memory")
def stress_memory(
    workers: int = 1,
    size: str = "256MB",
    oom_score_adj: int = 0,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Allocate `size` of memory ("256MB", "50%") in each of `workers` stressors in the selected pods.

    ```json
    {"type": "action", "name": "memory-pressure",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "stress_memory",
                  "arguments": {"label_selectors": "app=inference", "size": "1GB", "duration": "2m"}}}
    ```
    """
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)?", str(size)):
        raise InvalidArgument(f"size {size!r} must be an amount such as '256MB' or '50%'")
    if not 1 <= int(workers) <= 8192 or not -1000 <= int(oom_score_adj) <= 1000:
        raise InvalidArgument("workers must be 1..8192 and oom_score_adj -1000..1000")
    memory = {"workers": int(workers), "size": str(size), "oomScoreAdj": int(oom_score_adj)}
    return {"stressors": {"memory": memory}, **_containers(container_names)}


# -- IOChaos ------------------------------------------------------------------------


def _io_arguments(
    volume_path: str,
    path: str | None = None,
    percent: int = 100,
    methods: list[str] | None = None,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """IO arguments (every IOChaos action): `volume_path` (the mount point in
    the container, required), `path` (a glob of files under it), `percent`
    of calls affected, `methods` (such as ["READ", "WRITE"]) and
    `container_names`.
    """
    if not str(volume_path).startswith("/"):
        raise InvalidArgument(f"volume_path must be an absolute mount path, got {volume_path!r}")
    if not 0 < int(percent) <= 100:
        raise InvalidArgument(f"percent must be 1..100, got {percent!r}")
    part: dict[str, Any] = {"volumePath": volume_path, "percent": int(percent)}
    if path:
        part["path"] = path
    if methods:
        part["methods"] = list(methods)
    return {**part, **_containers(container_names)}


@fault_action("IOChaos", "io-delay", shared=_io_arguments)
def inject_io_delay(delay: str = "100ms") -> dict[str, Any]:
    """Delay file-system calls under `volume_path` by `delay`.

    ```json
    {"type": "action", "name": "slow-disk",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_io_delay",
                  "arguments": {"label_selectors": "app=postgres", "volume_path": "/var/lib/postgresql",
                                "delay": "50ms", "percent": 50, "duration": "60s"}}}
    ```
    """
    return {"action": "latency", "delay": _latency(delay, "delay")}


@fault_action("IOChaos", "io-errno", shared=_io_arguments)
def inject_io_errno(errno: int = 5) -> dict[str, Any]:
    """Make file-system calls under `volume_path` fail with `errno` (5 is EIO).

    ```json
    {"type": "action", "name": "disk-errors",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_io_errno",
                  "arguments": {"label_selectors": "app=postgres", "volume_path": "/var/lib/postgresql",
                                "errno": 28, "percent": 10, "duration": "60s"}}}
    ```
    """
    if not 0 < int(errno) < 4096:
        raise InvalidArgument(f"errno must be a positive error number such as 5 (EIO), got {errno!r}")
    return {"action": "fault", "errno": int(errno)}


@fault_action("IOChaos", "io-attr", shared=_io_arguments)
def override_io_attr(attr: dict[str, Any]) -> dict[str, Any]:
    """Report overridden file attributes (`perm`, `size`, `uid`, ...) under `volume_path`.

    ```json
    {"type": "action", "name": "read-only-files",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "override_io_attr",
                  "arguments": {"label_selectors": "app=catalog", "volume_path": "/data",
                                "attr": {"perm": 292}, "duration": "60s"}}}
    ```
    """
    if not attr:
        raise InvalidArgument("attr must set at least one attribute, such as {'perm': 292}")
    return {"action": "attrOverride", "attr": dict(attr)}


# -- TimeChaos, HTTPChaos, DNSChaos -------------------------------------------------


@fault_action("TimeChaos", "time-shift")
def shift_time(
    time_offset: str,
    clock_ids: list[str] | None = None,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Shift the selected pods' clocks by `time_offset` ("-10m", "1h").

    ```json
    {"type": "action", "name": "clock-skew",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "shift_time",
                  "arguments": {"label_selectors": "app=tenants", "time_offset": "-5m",
                                "duration": "60s"}}}
    ```
    """
    parse_duration(str(time_offset).lstrip("-+"), "time_offset")
    part: dict[str, Any] = {"timeOffset": str(time_offset)}
    if clock_ids:
        part["clockIds"] = list(clock_ids)
    return {**part, **_containers(container_names)}


def _http_fault(
    abort: bool, delay: str | None, replace: dict[str, Any] | None, patch: dict[str, Any] | None
) -> dict[str, Any]:
    fault: dict[str, Any] = {}
    if abort:
        fault["abort"] = True
    if delay:
        fault["delay"] = _latency(delay, "delay")
    if replace:
        fault["replace"] = dict(replace)
    if patch:
        fault["patch"] = dict(patch)
    if not fault:
        raise InvalidArgument("inject_http_fault needs abort, delay, replace or patch")
    return fault


@fault_action("HTTPChaos", "http-fault")
def inject_http_fault(
    target: str = "Request",
    port: int = 80,
    path: str = "*",
    method: str | None = None,
    abort: bool = False,
    delay: str | None = None,
    replace: dict[str, Any] | None = None,
    patch: dict[str, Any] | None = None,
    request_headers: dict[str, str] | None = None,
    code: int | None = None,
) -> dict[str, Any]:
    """Abort, delay, replace or patch HTTP requests or responses served on `port`.

    ```json
    {"type": "action", "name": "gateway-aborts",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_http_fault",
                  "arguments": {"label_selectors": "app=gateway", "port": 8080, "path": "/graphql",
                                "abort": true, "duration": "30s"}}}
    ```
    """
    if target not in ("Request", "Response"):
        raise InvalidArgument(f"target must be 'Request' or 'Response', got {target!r}")
    part: dict[str, Any] = {"target": target, "port": int(port), "path": path,
                            **_http_fault(abort, delay, replace, patch)}
    if method:
        part["method"] = method.upper()
    if request_headers:
        part["request_headers"] = dict(request_headers)
    if code is not None:
        part["code"] = int(code)
    return part


@fault_action("DNSChaos", "dns")
def inject_dns_fault(
    action: str = "error",
    patterns: list[str] | None = None,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """Make DNS lookups of `patterns` fail ("error") or return random addresses ("random").

    ```json
    {"type": "action", "name": "dns-outage",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_dns_fault",
                  "arguments": {"label_selectors": "app=gateway", "patterns": ["*.svc.cluster.local"],
                                "duration": "30s"}}}
    ```
    """
    if action not in ("error", "random"):
        raise InvalidArgument(f"action must be 'error' or 'random', got {action!r}")
    part: dict[str, Any] = {"action": action}
    if patterns:
        part["patterns"] = list(patterns)
    return {**part, **_containers(container_names)}


# -- manifests, schedules, workflows ------------------------------------------------


def apply_manifest(
    path_or_manifest: str | dict[str, Any] | list[dict[str, Any]],
    namespace: str = "default",
    allow_unbounded: bool = False,
    wait: bool = True,
    timeout: str = "60s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the Chaos Mesh objects of a YAML or JSON manifest (a file path, text or object).

    A file may hold several documents. Objects without a namespace go to
    `namespace`. All are checked before any is created, and if one fails,
    those already created are removed.

    ```json
    {"type": "action", "name": "apply-chaos",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "apply_manifest",
                  "arguments": {"path_or_manifest": "experiments/chaos-mesh/gateway-delay.yaml",
                                "namespace": "shop"}}}
    ```
    """
    manifests = render_manifests(locals())
    seconds = parse_duration(timeout, "timeout")
    results = submit(manifests, wait, seconds, dry_run_requested(dry_run), configuration, secrets)
    if dry_run_requested(dry_run):
        return {"dry_run": True, "objects": results}
    handles = []
    for entry in results:
        meta, spec = entry["manifest"]["metadata"], entry["manifest"].get("spec") or {}
        duration = spec.get("duration")
        handle = fault_handle(entry["manifest"]["kind"], meta["name"], meta["namespace"], spec,
                              parse_duration(duration) if duration else None)
        handles.append({**handle, "namespace": meta["namespace"], "replaced": entry["replaced"]})
    return {"objects": handles}


def schedule_chaos(
    kind: str,
    spec: dict[str, Any],
    schedule: str,
    duration: str | None = None,
    allow_unbounded: bool = False,
    concurrency_policy: str = "Forbid",
    history_limit: int = 1,
    starting_deadline_seconds: int | None = None,
    name: str | None = None,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a chaos `spec` of `kind` on a cron `schedule`, each run lasting `duration`.

    The Schedule itself runs until it is removed: declare `remove_chaos` in
    the rollbacks.

    ```json
    {"type": "action", "name": "kill-a-pod-every-5m",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "schedule_chaos",
                  "arguments": {"kind": "PodChaos", "schedule": "@every 5m", "duration": "10s",
                                "spec": {"action": "pod-kill", "mode": "one",
                                         "selector": {"labelSelectors": {"app": "gateway"}}}}}}
    ```
    """
    manifests = render_schedule(locals())
    return _submit_one(manifests, False, 0.0, dry_run, configuration, secrets)


def create_workflow(
    steps: list[dict[str, Any]],
    duration: str | None = None,
    mode: str = "Serial",
    status_check: dict[str, Any] | None = None,
    name: str | None = None,
    namespace: str = "default",
    wait: bool = True,
    timeout: str = "60s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `steps` one after another ("Serial") or together ("Parallel") within `duration`.

    A step is `{"name", "kind", "spec", "duration"}` (or a raw Chaos Mesh
    template). With `status_check` (`{"url", "status_code", "interval_seconds",
    "failure_threshold"}`), an HTTP check runs beside the steps and aborts
    the workflow when it fails. With `wait`, returns once Chaos Mesh has
    scheduled the workflow.

    ```json
    {"type": "action", "name": "degrade-then-kill",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "create_workflow",
                  "arguments": {"duration": "5m", "mode": "Serial",
                                "status_check": {"url": "http://gateway.shop/healthz"},
                                "steps": [{"name": "slow-db", "kind": "NetworkChaos", "duration": "60s",
                                           "spec": {"action": "delay", "mode": "all",
                                                    "selector": {"labelSelectors": {"app": "postgres"}},
                                                    "delay": {"latency": "200ms"}}}]}}}
    ```
    """
    manifests = render_workflow(locals())
    return _submit_one(manifests, wait, parse_duration(timeout, "timeout"), dry_run,
                       configuration, secrets)


def _submit_one(
    manifests: list[dict[str, Any]], wait: bool, timeout: float, dry_run: bool,
    configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None,
) -> dict[str, Any]:
    dry = dry_run_requested(dry_run)
    result = submit(manifests, wait, timeout, dry, configuration, secrets)[0]
    manifest = manifests[0]
    meta = manifest["metadata"]
    if dry:
        return {"dry_run": True, "kind": manifest["kind"], "name": meta["name"],
                "namespace": meta["namespace"], **result}
    handle = fault_handle(manifest["kind"], meta["name"], meta["namespace"], manifest["spec"], None)
    return {**handle, "namespace": meta["namespace"], "replaced": result["replaced"],
            "status": result["object"].get("status")}


# -- pause, resume, remove ----------------------------------------------------------


def _set_pause(
    kind: str, name: str, namespace: str, paused: bool, dry_run: bool,
    configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """The patched object (None when it does not exist); in a dry run, the object unchanged."""
    spec = kind_of(kind)
    patch = {"metadata": {"annotations": {PAUSE_ANNOTATION: "true" if paused else None}}}
    verb = "pause" if paused else "resume"
    with chaos_mesh_api(f"{verb} {spec.kind} {namespace}/{name}", configuration, secrets) as api:
        if dry_run_requested(dry_run):
            return api.get(spec.plural, namespace, name)
        return api.merge_patch(spec.plural, namespace, name, patch)


def pause_chaos(
    kind: str,
    name: str,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pause a fault (Chaos Mesh recovers its targets) by setting the pause annotation.

    ```json
    {"type": "action", "name": "pause-delay",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "pause_chaos",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    from chaosllm.errors import TargetNotFound

    if _set_pause(kind, name, namespace, True, dry_run, configuration, secrets) is None:
        raise TargetNotFound(f"could not pause {kind_of(kind).kind} {namespace}/{name}: not found")
    return {"kind": kind_of(kind).kind, "name": name, "namespace": namespace,
            **({"dry_run": True, "paused": False} if dry_run_requested(dry_run) else {"paused": True})}


def resume_chaos(
    kind: str,
    name: str,
    namespace: str = "default",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Resume a paused fault by removing the pause annotation; a missing object is not an error.

    ```json
    {"type": "action", "name": "resume-delay",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "resume_chaos",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    found = _set_pause(kind, name, namespace, False, dry_run, configuration, secrets)
    result = {"kind": kind_of(kind).kind, "name": name, "namespace": namespace,
              "paused": False, "removed": found is not None}
    if dry_run_requested(dry_run):
        result.update(dry_run=True, removed=False, exists=found is not None)
    return result


def remove_chaos(
    kind: str,
    name: str,
    namespace: str = "default",
    force: bool = False,
    timeout: str = "30s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Delete a Chaos Mesh object and wait until Chaos Mesh has recovered its targets.

    Idempotent: an object already gone returns `{"removed": false}`. With
    `force`, an object stuck deleting for `timeout` gets the clean-finalizer
    annotation. A dry run (or `CHAOSLLM_DRY_RUN=1`) deletes nothing and says
    whether the object exists.

    ```json
    {"type": "action", "name": "remove-delay",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "remove_chaos",
                  "arguments": {"kind": "NetworkChaos", "name": "network-delay-catalog",
                                "namespace": "shop"}}}
    ```
    """
    spec = kind_of(kind)
    seconds = parse_duration(timeout, "timeout")
    with chaos_mesh_api(f"remove {spec.kind} {namespace}/{name}", configuration, secrets) as api:
        if dry_run_requested(dry_run):
            exists = api.get(spec.plural, namespace, name) is not None
            return {"dry_run": True, "removed": False, "exists": exists, "kind": spec.kind,
                    "name": name, "namespace": namespace}
        return remove(api, spec.kind, namespace, name, bool(force), seconds)


def remove_all_chaos(
    namespace: str | None = None,
    force: bool = False,
    timeout: str = "30s",
    dry_run: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Remove every object chaosllm created (label managed-by=chaosllm), in one namespace or all.

    Schedules and workflows go first, so that they start nothing new. A dry
    run (or `CHAOSLLM_DRY_RUN=1`) deletes nothing and lists what it would remove.

    ```json
    {"type": "action", "name": "remove-all-chaos",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "remove_all_chaos", "arguments": {"namespace": "shop"}}}
    ```
    """
    seconds = parse_duration(timeout, "timeout")
    label = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
    order = sorted(KINDS.values(), key=lambda k: k.is_chaos)
    removed, failed = [], []
    with chaos_mesh_api(f"remove all chaos in {namespace or 'all namespaces'}",
                        configuration, secrets) as api:
        for kind in order:
            for obj in api.list(kind.plural, namespace, label):
                meta = obj["metadata"]
                if dry_run_requested(dry_run):
                    removed.append({"removed": False, "would_remove": True, "kind": kind.kind,
                                    "name": meta["name"], "namespace": meta["namespace"]})
                    continue
                try:
                    removed.append(remove(api, kind.kind, meta["namespace"], meta["name"],
                                          bool(force), seconds))
                except FaultFailed as exc:  # try the others first, then report
                    failed.append(str(exc))
    if failed:
        raise FaultFailed(f"removed {len(removed)} object(s), but: " + "; ".join(failed))
    if dry_run_requested(dry_run):
        return {"dry_run": True, "removed": [], "count": 0, "would_remove": removed}
    return {"removed": [r for r in removed if r["removed"]], "count": sum(r["removed"] for r in removed)}


def _bound(func: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """An action's arguments as its body sees them, defaults included."""
    bound = inspect.signature(func).bind(**arguments)
    bound.apply_defaults()
    return dict(bound.arguments)


Render = Callable[[Mapping[str, Any]], list[dict[str, Any]]]


def _renderer(func: Any, render: Render | None = None) -> Callable[..., list[dict[str, Any]]]:
    """Render ``func``'s manifests from activity arguments, creating nothing."""
    if render is not None:
        return lambda **arguments: render(_bound(func, arguments))
    return lambda **arguments: [func.render(**arguments)]


# The side-effect-free manifest builders, by action name: the blast-radius control
# renders an experiment's activities with them before anything runs.
RENDERERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    **{name: _renderer(globals()[name]) for name in __all__ if hasattr(globals()[name], "render")},
    "apply_manifest": _renderer(apply_manifest, render_manifests),
    "schedule_chaos": _renderer(schedule_chaos, render_schedule),
    "create_workflow": _renderer(create_workflow, render_workflow),
}
ROLLBACKS = {
    **{name: "remove_chaos" for name in RENDERERS},
    "pause_chaos": "resume_chaos",
}
