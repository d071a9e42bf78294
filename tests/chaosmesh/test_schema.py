"""Every action and parameter variant renders a manifest the real CRD schema accepts."""

from __future__ import annotations

from typing import Any

import pytest

from chaosllm.chaosmesh import actions
from chaosllm.chaosmesh._kinds import kind_of
from chaosllm.errors import InvalidArgument
from tests.chaosmesh.fake_k8s import Crd, schema_errors

BASE = {"namespace": "shop", "label_selectors": "app=web", "duration": "30s"}
TARGET = {"selector": {"namespaces": ["shop"], "labelSelectors": {"app": "db"}}, "mode": "all"}

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("inject_network_delay", {}),
    ("inject_network_delay", {"latency": "1.5s", "jitter": "20ms", "correlation": "25",
                              "direction": "both", "target": TARGET}),
    ("inject_network_delay", {"external_targets": ["8.8.8.8", "example.com:443"], "device": "eth0"}),
    ("inject_network_loss", {"loss": "25", "correlation": "10"}),
    ("inject_network_duplicate", {"duplicate": 40}),
    ("inject_network_corrupt", {"corrupt": "5", "direction": "from", "target": TARGET}),
    ("inject_network_bandwidth", {"rate": "500kbps"}),
    ("inject_network_bandwidth", {"rate": "1Gbps", "peakrate": 2000000, "minburst": 1500}),
    ("inject_network_partition", {"direction": "both", "target": {**TARGET, "mode": "fixed-percent",
                                                                    "value": "50"}}),
    ("inject_network_partition", {"external_targets": ["10.0.0.0/8"]}),
    ("kill_pods", {}),
    ("kill_pods", {"grace_period": 30, "mode": "fixed", "value": "2"}),
    ("fail_pods", {"mode": "fixed-percent", "value": "50"}),
    ("kill_containers", {"container_names": ["envoy", "app"]}),
    ("stress_cpu", {"workers": 4, "load": 90, "container_names": ["app"]}),
    ("stress_memory", {"size": "1GB", "oom_score_adj": -500}),
    ("stress_memory", {"size": "50%", "workers": 2}),
    ("inject_io_delay", {"volume_path": "/data", "delay": "50ms"}),
    ("inject_io_delay", {"volume_path": "/data", "path": "/data/**/*", "percent": 50,
                         "methods": ["READ", "WRITE"], "container_names": ["db"]}),
    ("inject_io_errno", {"volume_path": "/var/lib/postgresql", "errno": 28}),
    ("override_io_attr", {"volume_path": "/data", "attr": {"perm": 292, "size": 0}}),
    ("shift_time", {"time_offset": "-10m"}),
    ("shift_time", {"time_offset": "1h30m", "clock_ids": ["CLOCK_REALTIME"]}),
    ("inject_http_fault", {"abort": True}),
    ("inject_http_fault", {"target": "Response", "port": 8080, "path": "/graphql", "method": "post",
                           "delay": "2s", "code": 200,
                           "patch": {"body": {"type": "JSON", "value": '{"degraded": true}'}}}),
    ("inject_http_fault", {"replace": {"code": 503, "headers": {"Retry-After": "5"}},
                           "request_headers": {"x-tenant": "a"}}),
    ("inject_dns_fault", {}),
    ("inject_dns_fault", {"action": "random", "patterns": ["*.svc.cluster.local", "api.example.com"]}),
]
COMMON_VARIANTS: list[dict[str, Any]] = [
    {"mode": "all"},
    {"mode": "random-max-percent", "value": "30"},
    {"selector": {"namespaces": ["shop", "api"], "expressionSelectors": [
        {"key": "tier", "operator": "In", "values": ["web", "api"]}],
        "annotationSelectors": {"chaos": "ok"}, "fieldSelectors": {"metadata.name": "web-1"},
        "podPhaseSelectors": ["Running"]}, "label_selectors": None},
    {"selector": {"pods": {"shop": ["web-1", "web-2"]}}, "label_selectors": None},
    {"label_selectors": {"app": "web", "chaos-ready": "true"}, "namespaces": ["shop", "api"]},
    {"duration": None, "allow_unbounded": True},
    {"name": "my-fault"},
]


def _valid(crds: dict[str, Crd], manifest: dict[str, Any]) -> None:
    crd = crds[kind_of(manifest["kind"]).plural]
    assert schema_errors(crd, manifest, strict=True) == [], manifest


@pytest.mark.parametrize(("func", "kwargs"), VARIANTS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(VARIANTS)])
def test_fault_variants_validate(crds: dict[str, Crd], func: str, kwargs: dict[str, Any]) -> None:
    manifest = getattr(actions, func).render(**BASE, **kwargs)
    _valid(crds, manifest)
    meta = manifest["metadata"]
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "chaosllm"
    assert meta["annotations"]["chaosllm.io/experiment"] == "adhoc"
    assert manifest["spec"]["duration"] == "30s"
    assert manifest["spec"]["selector"]["namespaces"] == ["shop"]


@pytest.mark.parametrize("common", COMMON_VARIANTS, ids=range(len(COMMON_VARIANTS)))
@pytest.mark.parametrize("func", actions.__all__[:17])
def test_common_arguments_validate_for_every_kind(
    crds: dict[str, Crd], func: str, common: dict[str, Any]
) -> None:
    own = {"kill_containers": {"container_names": ["app"]}, "override_io_attr": {"attr": {"perm": 1}},
           "shift_time": {"time_offset": "5m"}, "inject_http_fault": {"abort": True}}.get(func, {})
    if func in ("inject_io_delay", "inject_io_errno", "override_io_attr"):
        own = {**own, "volume_path": "/data"}
    manifest = getattr(actions, func).render(**{**BASE, **common, **own})
    _valid(crds, manifest)
    if common.get("allow_unbounded"):
        assert "duration" not in manifest["spec"]


def test_the_experiment_annotation_comes_from_configuration() -> None:
    manifest = actions.fail_pods.render(**BASE, configuration={"experiment_title": "Catalog outage"})
    assert manifest["metadata"]["annotations"]["chaosllm.io/experiment"] == "Catalog outage"


def test_schedule_and_workflow_validate(crds: dict[str, Crd]) -> None:
    spec = {"action": "pod-kill", "mode": "one", "selector": {"labelSelectors": {"app": "web"}}}
    render_schedule, render_workflow = (actions.RENDERERS["schedule_chaos"],
                                        actions.RENDERERS["create_workflow"])
    for manifest in (
        render_schedule(kind="PodChaos", spec=spec, schedule="@every 5m", duration="10s", lifetime="1h",
                        history_limit=3, starting_deadline_seconds=30, namespace="shop"),
        render_schedule(kind="networkchaos", spec={**spec, "action": "delay", "delay": {"latency": "9ms"}},
                        schedule="*/5 * * * *", duration="1m", concurrency_policy="Allow",
                        allow_unbounded=True),
    ):
        _valid(crds, manifest[0])
    steps = [
        {"name": "slow-db", "kind": "NetworkChaos", "duration": "30s",
         "spec": {"action": "delay", "mode": "all", "selector": {"labelSelectors": {"app": "db"}},
                  "delay": {"latency": "200ms"}}},
        {"name": "burn", "kind": "StressChaos",
         "spec": {"mode": "one", "selector": {"labelSelectors": {"app": "web"}},
                  "stressors": {"cpu": {"workers": 1, "load": 50}}}},
        {"name": "pause", "templateType": "Suspend", "deadline": "10s"},
    ]
    for mode in ("Serial", "Parallel"):
        for check in (None, {"url": "http://gateway.shop/healthz", "failure_threshold": 2,
                             "headers": {"Accept": "application/json"}}):
            manifest = render_workflow(steps=steps, duration="5m", mode=mode, status_check=check,
                                       namespace="shop")[0]
            _valid(crds, manifest)
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    assert manifest["spec"]["entry"] == "entry"
    assert templates["entry"]["children"] == ["status-check", "steps"]
    assert templates["status-check"]["abortWithStatusCheck"] is True
    assert templates["steps"]["children"] == ["slow-db", "burn", "pause"]
    assert templates["burn"]["deadline"] == "5m"
    assert templates["slow-db"]["networkChaos"]["selector"]["namespaces"] == ["shop"]


@pytest.mark.parametrize(("func", "kwargs", "message"), [
    ("inject_network_delay", {"duration": None}, "duration is required"),
    ("inject_network_delay", {"duration": "soon"}, "not a duration"),
    ("inject_network_delay", {"latency": "1m30s"}, "one number and unit"),
    ("inject_network_delay", {"mode": "most"}, "mode must be one of"),
    ("inject_network_delay", {"mode": "fixed-percent"}, "needs an integer value"),
    ("inject_network_delay", {"mode": "fixed-percent", "value": "150"}, "between 1 and 100"),
    ("inject_network_delay", {"direction": "from"}, "needs a target"),
    ("inject_network_delay", {"selector": {"labelSelector": {"app": "web"}}}, "unknown field"),
    ("inject_network_delay", {"label_selectors": "app"}, "expected 'key=value'"),
    ("inject_network_delay", {"name": "Bad_Name"}, "not a valid Kubernetes name"),
    ("inject_network_loss", {"loss": "120"}, "between 0 and 100"),
    ("inject_network_bandwidth", {"rate": "fast"}, "such as '1mbps'"),
    ("kill_containers", {"container_names": []}, "at least one container"),
    ("stress_cpu", {"load": 101}, "load must be between 0 and 100"),
    ("stress_memory", {"size": "lots"}, "such as '256MB'"),
    ("inject_io_delay", {"volume_path": "data"}, "absolute mount path"),
    ("inject_http_fault", {}, "needs abort, delay, replace or patch"),
    ("inject_dns_fault", {"action": "drop"}, "'error' or 'random'"),
])
def test_bad_arguments_are_refused(func: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        getattr(actions, func).render(**{**BASE, **kwargs})


def test_published_signatures_are_explicit() -> None:
    import inspect

    params = list(inspect.signature(actions.inject_io_delay).parameters)
    assert params[:2] == ["volume_path", "delay"]  # required first, then the family's, then common
    assert params[-2:] == ["configuration", "secrets"]
    assert {"label_selectors", "mode", "duration", "dry_run", "wait"} <= set(params)
    assert "Common arguments" in (actions.inject_io_delay.__doc__ or "")
