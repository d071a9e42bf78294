"""The experiments validate, the blast-radius control checks them, and `chaos run` drives the fake cluster."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.configuration import load_configuration
from chaoslib.exceptions import InterruptExecution

from chaosllm.controls import blast_radius
from tests.chaosmesh.conftest import REPO
from tests.chaosmesh.fake_k8s import Crd, FakeCluster

EXPERIMENTS = sorted(p for family in ("network", "pods", "stress", "io")
                     for p in (REPO / "experiments" / family).glob("*.json"))
CHAOS = [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()"]


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_each_family_has_an_experiment_with_steady_state_and_rollbacks() -> None:
    assert {p.parent.name for p in EXPERIMENTS} == {"network", "pods", "stress", "io"}
    for path in EXPERIMENTS:
        experiment = _load(path)
        assert experiment["steady-state-hypothesis"]["probes"], path
        faults = [a for a in experiment["method"] if a["provider"].get("func", "").startswith(
            ("inject_", "kill_", "fail_", "stress_", "override_", "shift_"))]
        removed = {a["provider"]["arguments"]["name"] for a in experiment["rollbacks"]}
        assert faults and {a["provider"]["arguments"]["name"] for a in faults} <= removed, path


def test_chaos_validate_accepts_every_experiment(tmp_path: Path) -> None:
    # One process validates them all: the chaos CLI takes seconds to import.
    code = ("import sys; from chaostoolkit.__main__ import cli\n"
            "for path in sys.argv[2:]:\n"
            "    code = cli.main(['--log-file', sys.argv[1], 'validate', path], standalone_mode=False)\n"
            "    print('invalid' if isinstance(code, int) and code else 'valid', path)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "chaos.log"), *map(str, EXPERIMENTS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr + (tmp_path / "chaos.log").read_text()
    assert proc.stdout.count("\nvalid ") + proc.stdout.startswith("valid ") == len(EXPERIMENTS), (
        proc.stdout)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_the_control_accepts_the_experiments(path: Path) -> None:
    experiment = _load(path)
    configuration = load_configuration(experiment["configuration"])
    blast_radius.before_experiment_control(experiment, configuration=configuration)


def test_the_control_names_the_refused_activity() -> None:
    experiment = _load(REPO / "experiments" / "network" / "gateway-latency.json")
    configuration = load_configuration(experiment["configuration"])
    bad = copy.deepcopy(experiment)
    bad["method"][1]["provider"]["arguments"]["namespace"] = "kube-system"
    with pytest.raises(InterruptExecution, match="activity 'drop-gateway-packets' refused: .*kube-system"):
        blast_radius.before_experiment_control(bad, configuration=configuration)
    bad = copy.deepcopy(experiment)
    bad["method"][0]["provider"]["arguments"]["mode"] = "all"
    with pytest.raises(InterruptExecution, match="delay-gateway-to-catalog.*100% .*max_percent 50"):
        blast_radius.before_experiment_control(bad, configuration=configuration)
    bad = copy.deepcopy(experiment)
    bad["method"][0]["provider"]["arguments"]["duration"] = None
    with pytest.raises(InterruptExecution, match="duration is required"):
        blast_radius.before_experiment_control(bad, configuration=configuration)


def test_the_control_checks_manifests_schedules_and_workflows() -> None:
    policy = {"allowed_namespaces": ["shop"]}
    spec = {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["payments"]}}
    experiment = {"method": [
        {"type": "action", "name": "nightly-kill",
         "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions", "func": "schedule_chaos",
                      "arguments": {"kind": "PodChaos", "spec": spec, "schedule": "@daily",
                                    "duration": "1m", "lifetime": "1h", "namespace": "shop"}}}]}
    with pytest.raises(InterruptExecution, match="nightly-kill.*namespace payments is not in allowed"):
        blast_radius.before_experiment_control(experiment, policy=policy)
    experiment["method"][0]["provider"] = {
        "type": "python", "module": "chaosllm.chaosmesh.actions", "func": "apply_manifest",
        "arguments": {"path_or_manifest": str(REPO / "experiments" / "chaos-mesh" / "network-delay.yaml")}}
    with pytest.raises(InterruptExecution, match="namespace llm-marketplace is not in allowed"):
        blast_radius.before_experiment_control(experiment, policy=policy)


def test_a_malformed_policy_is_refused_when_the_control_loads() -> None:
    # Chaos Toolkit drops a control whose configure_control raises, so the
    # failure is kept and the control's next hook stops the run with it.
    blast_radius.configure_control(policy={"max_pods": 3})
    with pytest.raises(InterruptExecution, match=r"unknown field\(s\) .max_pods."):
        blast_radius.before_experiment_control({"title": "t", "method": []})


def _experiment(namespace: str) -> dict[str, Any]:
    target = {"namespace": namespace, "label_selectors": "app=web,chaos-ready=true", "mode": "all"}
    return {
        "version": "1.0.0", "title": "kill the opted-in web pods",
        "description": "Runs the real chaos CLI against the fake API server.",
        "configuration": {"blast_radius": {"allowed_namespaces": ["shop"], "max_count": 2}},
        "controls": [{"name": "blast-radius",
                      "provider": {"type": "python", "module": "chaosllm.controls.blast_radius"}}],
        "method": [
            {"type": "action", "name": "kill-web",
             "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions", "func": "kill_pods",
                          "arguments": {**target, "name": "kill-web", "duration": "30s",
                                        "timeout": "10s"}}},
            {"type": "probe", "name": "kill-status",
             "provider": {"type": "python", "module": "chaosllm.chaosmesh.probes", "func": "chaos_status",
                          "arguments": {"kind": "PodChaos", "name": "kill-web", "namespace": namespace}}},
        ],
        "rollbacks": [
            {"type": "action", "name": "remove-kill-web",
             "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions", "func": "remove_chaos",
                          "arguments": {"kind": "PodChaos", "name": "kill-web", "namespace": namespace}}}],
    }


def test_chaos_run_injects_confirms_and_rolls_back(cluster: FakeCluster, tmp_path: Path) -> None:
    runs = {}
    for namespace in ("shop", "payments"):
        folder = tmp_path / namespace
        folder.mkdir()
        (folder / "experiment.json").write_text(json.dumps(_experiment(namespace)))
        runs[namespace] = subprocess.Popen(
            [*CHAOS, "--log-file", str(folder / "chaos.log"), "run", "--rollback-strategy", "always",
             "--journal-path", str(folder / "journal.json"), str(folder / "experiment.json")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    for proc in runs.values():
        proc.communicate(timeout=120)
    ran = json.loads((tmp_path / "shop" / "journal.json").read_text())
    assert ran["status"] == "completed", (tmp_path / "shop" / "chaos.log").read_text()[-3000:]
    kill, status = ran["run"]
    assert kill["status"] == "succeeded" and kill["output"]["status"]["selected_count"] == 2
    assert status["output"]["state"] == "injected"
    assert ran["rollbacks"][0]["output"]["removed"] is True
    created = cluster.created_bodies()
    assert [b["metadata"]["name"] for b in created] == ["kill-web"]
    # The control put the experiment's title in the configuration, and so in the annotation.
    assert created[0]["metadata"]["annotations"] == {
        "chaosllm.io/experiment": "kill the opted-in web pods"}
    assert cluster.objects == {}
    refused = json.loads((tmp_path / "payments" / "journal.json").read_text())
    assert refused["status"] == "interrupted" and refused["run"] == []


SCENARIOS = sorted((REPO / "experiments" / "scenarios" / "k8s").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_k8s_scenarios_render_valid_faults_that_their_rollbacks_remove(
    crds: dict[str, Crd], path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaoslib import substitute

    from chaosllm.chaosmesh import actions
    from chaosllm.chaosmesh._kinds import kind_of
    from tests.chaosmesh.fake_k8s import schema_errors

    monkeypatch.setenv("CHAOSLLM_PROMETHEUS_BASE_URL", "http://127.0.0.1:9")
    experiment = _load(path)
    configuration = load_configuration(experiment["configuration"])
    blast_radius.check_experiment(experiment, configuration=configuration)
    faults = set()
    for activity in experiment["method"]:
        provider = activity["provider"]
        build = getattr(actions, provider.get("func", ""), None)
        if provider.get("module") != "chaosllm.chaosmesh.actions" or not hasattr(build, "render"):
            continue
        manifest = build.render(**substitute(provider["arguments"], configuration, {}))
        crd = crds[kind_of(manifest["kind"]).plural]
        assert schema_errors(crd, manifest, strict=True) == [], (activity["name"], manifest)
        assert manifest["spec"]["duration"], activity["name"]
        faults.add((manifest["kind"], manifest["metadata"]["name"], manifest["metadata"]["namespace"]))
    removed = {(r["provider"]["arguments"]["kind"], r["provider"]["arguments"]["name"],
                substitute(r["provider"]["arguments"], configuration, {})["namespace"])
               for r in experiment["rollbacks"] if r["provider"].get("func") == "remove_chaos"}
    assert faults and faults <= removed, (faults, removed)


def _tolerance(probe: dict[str, Any]) -> Any:
    from chaosllm.slo import tolerances

    provider = probe["tolerance"]["provider"]
    assert provider["module"] == "chaosllm.slo.tolerances"
    func = getattr(tolerances, provider["func"])
    return lambda value: func(value=value, **provider["arguments"])


def _slo_file(configuration: dict[str, Any]) -> Any:
    """The SLO file a scenario's configuration names (a relative path is the repository's)."""
    from chaosllm.slo.spec import load_slo_file

    return load_slo_file(REPO / configuration["slo_file"])


def _slo_probes(probe: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    """The SLOs an ``slo_status`` probe checks, by name, each with the window it is read over
    and a function telling whether the probe's tolerance passes a value of its indicator
    (None: no data), as Chaos Toolkit judges it."""
    from chaoslib import substitute
    from chaoslib.hypothesis import within_tolerance

    from chaosllm.slo._criterion import status

    provider = probe["provider"]
    assert (provider["module"], provider["func"]) == ("chaosllm.slo.probes", "slo_status"), probe
    # The SLO file is the setting slo_file: the scenario's configuration names it.
    assert probe["tolerance"] == ["met"] and "slo_file" not in provider["arguments"]
    arguments = substitute(provider["arguments"], configuration, {})
    names = arguments.get("names") or [arguments["name"]]
    found = {}
    for name in names:
        slo = _slo_file(configuration).slo(name)

        def accepts(value: float | None, slo: Any = slo) -> bool:
            met = None if value is None else slo.met(value)
            return bool(within_tolerance(["met"], {"status": status(met)}))

        found[name] = (slo, arguments.get("window") or slo.window, accepts)
    return found


def _slos(experiment: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    """Every SLO the steady-state hypothesis checks, by name."""
    found: dict[str, Any] = {}
    for probe in experiment["steady-state-hypothesis"]["probes"]:
        if probe["provider"].get("func") == "slo_status":
            found.update(_slo_probes(probe, configuration))
    return found


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_k8s_scenarios_use_the_blast_radius_control_and_fail_without_traffic(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaoslib import substitute

    monkeypatch.setenv("CHAOSLLM_PROMETHEUS_BASE_URL", "http://127.0.0.1:9")
    experiment = _load(path)
    assert experiment["controls"][0]["provider"]["module"] == "chaosllm.controls.blast_radius"
    probes = {p["name"]: p for p in experiment["steady-state-hypothesis"]["probes"]}
    configuration = load_configuration(experiment["configuration"])
    if "traffic-flowing" not in probes:
        slo, window, accepts = _slos(experiment, configuration)["traffic"]
        query = slo.query(window)
    else:  # scenario 6 states its queries in its configuration
        traffic = probes["traffic-flowing"]
        query = substitute(traffic["provider"]["arguments"], configuration, {})["query"]
        accepts = _tolerance(traffic)
    assert query == 'sum(rate(http_requests_total{app="graphql-gateway"}[1m]))'
    # No traffic (no series, or a rate of 0) fails the hypothesis; some traffic passes.
    assert (accepts(None), accepts(0.0), accepts(2.5)) == (False, False, True)
    # The namespace, labels and Deployment come from the environment, with documented defaults.
    monkeypatch.setenv("CHAOSLLM_NAMESPACE", "staging")
    monkeypatch.setenv("CHAOSLLM_GATEWAY_DEPLOYMENT", "edge")
    for key in ("DATABASE", "GATEWAY", "RECS", "PROVIDER"):
        monkeypatch.setenv(f"CHAOSLLM_{key}_LABELS", f"app={key.lower()}-canary")
    moved = load_configuration(experiment["configuration"])
    rendered = substitute(experiment["method"], moved, {})
    labels = {a["provider"]["arguments"].get("label_selectors") for a in rendered} - {None}
    assert labels and all(value.endswith("-canary") for value in labels), labels
    deployments = [p["provider"]["arguments"]["name"] for p in
                   substitute(experiment["steady-state-hypothesis"]["probes"], moved, {})
                   if p["provider"]["module"].startswith("chaosk8s")]
    assert deployments == ["edge"]
    # The default policy allows only the default namespace: moving needs the policy moved too.
    with pytest.raises(InterruptExecution, match="namespace staging is not in allowed"):
        blast_radius.check_experiment(experiment, configuration=moved)
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", json.dumps({"allowed_namespaces": ["staging"]}))
    blast_radius.check_experiment(
        experiment, configuration=load_configuration(experiment["configuration"]))


def test_the_partition_scenario_checks_orders_and_catalog_freshness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOSLLM_PROMETHEUS_BASE_URL", "http://127.0.0.1:9")
    experiment = _load(REPO / "experiments" / "scenarios" / "k8s" / "04-network-partition.json")
    configuration = load_configuration(experiment["configuration"])
    slos = _slos(experiment, configuration)
    orders, window, lost = slos["orders_not_lost"]
    assert orders.query(window) == (
        "sum(increase(orders_accepted_total[10m])) - sum(increase(orders_persisted_total[10m]))")
    catalog, window, fresh = slos["catalog_freshness"]
    assert catalog.query(window) == "max(catalog_snapshot_age_seconds)"
    assert (lost(0.0), lost(3.0), lost(None)) == (True, False, False)
    assert (fresh(12.0), fresh(300.0), fresh(None)) == (True, False, False)


def _configured(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scenario and its configuration as Chaos Toolkit loads it."""
    monkeypatch.setenv("CHAOSLLM_PROMETHEUS_BASE_URL", "http://127.0.0.1:9")
    experiment = _load(path)
    return experiment, load_configuration(experiment["configuration"])


def _probes(activities: list[dict[str, Any]], func: str) -> list[dict[str, Any]]:
    return [a["provider"]["arguments"] for a in activities
            if a["type"] == "probe" and a["provider"].get("func") == func
            and a["provider"].get("module") == "chaosllm.chaosmesh.probes"]


def _series(configuration: dict[str, Any], name: str) -> str:
    """The query of a series of the SLO file's ``metrics`` list."""
    from chaosllm.slo.refs import series_query

    return series_query(name, str(REPO / configuration["slo_file"]), None, None)


def _during(method: list[dict[str, Any]], configuration: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks of the method's metric_during_fault probes, one each (a probe's ``checks``
    apart), with the fault it reads and the query."""
    found = []
    for probe in _probes(method, "metric_during_fault"):
        fault = {k: v for k, v in probe.items() if k != "checks"}
        for check in probe.get("checks") or [{}]:
            merged = {**fault, **check}
            found.append({**merged, "query": _series(configuration, merged["series"])}
                         if "series" in merged else merged)  # fmt: skip
    return found


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_k8s_scenarios_check_that_each_fault_bit_and_that_traffic_flowed_through_it(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaoslib import substitute

    from chaosllm.chaosmesh import actions
    from chaosllm.chaosmesh._evidence import Criteria

    experiment, configuration = _configured(path, monkeypatch)
    method = substitute(experiment["method"], configuration, {})
    faults = {}
    waited = set()
    for activity in method:
        provider = activity["provider"]
        if activity["type"] == "action" and provider.get("module") == "chaosllm.chaosmesh.actions":
            manifest = getattr(actions, provider["func"]).render(**provider["arguments"])
            faults[(manifest["kind"], manifest["metadata"]["name"])] = manifest["spec"]["duration"]
            if provider["arguments"].get("wait", True) not in (False, "false"):
                waited.add((manifest["kind"], manifest["metadata"]["name"]))
    # Every fault is checked against Chaos Mesh's records: the action waits for them (a
    # selector that matched nothing fails it, and an effect not observed makes the run
    # inconclusive), or a pods_injected probe reads them.
    injected = {(p["kind"], p["name"]) for p in _probes(method, "pods_injected")}
    assert faults and waited | injected == set(faults), (faults, waited, injected)
    # Criteria about the fault period are judged in its real window, on faults of this method,
    # with bounds the probe accepts; a series names one of the SLO file (what the report charts).
    during = _during(method, configuration)
    assert during and {(p["kind"], p["name"]) for p in during} <= set(faults)
    for probe in during:
        assert probe["query"] and not probe["query"].startswith("${"), probe
        Criteria(probe["aggregate"], *(probe.get(k) for k in
                                       ("at_least", "at_most", "rise_at_least", "ratio_at_most")))
    # Traffic must flow through the fault's window, not only before it: an idle cluster fails.
    if "slo_file" in configuration:
        traffic = _slo_file(configuration).slo("traffic").query("1m")
    else:  # scenario 6 states its queries in its configuration
        traffic = configuration["traffic_query"]
    flowing = [p for p in during if p["query"] == traffic]
    assert len(flowing) == 1 and flowing[0]["aggregate"] == "min" and flowing[0]["at_least"] > 0
    # The guard and the charts read the gateway's series through the same setting (scenario 6;
    # the others read them from the SLO file).
    if "gateway_selector" in experiment["configuration"]:
        assert 'app=\\"graphql-gateway\\"' not in json.dumps(experiment["controls"])
        assert "${gateway_selector}" in json.dumps(experiment["controls"])
    # Every query setting is configurable, with the documented default.
    for key, value in experiment["configuration"].items():
        if key.endswith("_query"):
            assert value["key"] == f"CHAOSLLM_{key.upper()}" and value["default"], key


@pytest.mark.parametrize("path", SCENARIOS[:5], ids=[p.stem for p in SCENARIOS[:5]])
def test_k8s_scenarios_read_every_query_from_the_slo_file_that_the_environment_names(
    path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from chaosllm.slo.refs import GUARD, METRICS, resolve

    experiment, configuration = _configured(path, monkeypatch)
    assert experiment["configuration"]["slo_file"] == {
        "type": "env", "key": "CHAOSLLM_SLO_FILE",
        "default": "experiments/slo/llm-marketplace-k8s.yaml"}
    # No PromQL in the scenario: no query setting, no query argument, no inline guard
    # condition or chart series (the controls use the SLO file's 'guard' and 'metrics').
    assert not [key for key in experiment["configuration"] if key.endswith(("_query", "_selector"))]
    text = json.dumps([experiment["steady-state-hypothesis"], experiment["method"]])
    assert '"query"' not in text and "rate(" not in text
    # The experiment declares only the blast-radius control; the others come from the control
    # file it runs with, and give no conditions or series of their own.
    assert [c["provider"]["module"] for c in experiment["controls"]] == ["chaosllm.controls.blast_radius"]
    declared = yaml.safe_load((REPO / "experiments" / "settings" / "k8s-controls.yaml").read_text())
    controls = {name: c["provider"].get("arguments") or {} for name, c in declared.items()}
    assert list(controls) == ["chaosllm-guard", "chaosllm-metrics", "chaosllm-rollbacks", "chaosllm-redact"]
    assert "conditions" not in controls["chaosllm-guard"] and "series" not in controls["chaosllm-metrics"]
    shared = {"slo_file": str(REPO / configuration["slo_file"])}
    [guard] = resolve(shared, GUARD, None, None)[1]
    assert guard["above"] == "5%" and 'status=~"5.."' in guard["query"]
    charts = {s["name"] for s in resolve(shared, METRICS, None, None)[1]}
    assert {"p95 latency", "error ratio", "requests/s"} <= charts
    # Every steady-state SLO criterion names an SLO of the file, over the SLO's own window.
    slos = _slos(experiment, configuration)
    assert "traffic" in slos and len(slos) >= 2
    for name, (slo, window, _) in slos.items():
        assert window == slo.window and slo.query(window), name
    # $CHAOSLLM_SLO_FILE replaces the file, and with it every query.
    mine = tmp_path / "slos.yaml"
    mine.write_text((REPO / configuration["slo_file"]).read_text().replace(
        'app="graphql-gateway"', 'job="edge"'))
    monkeypatch.setenv("CHAOSLLM_SLO_FILE", str(mine))
    moved = load_configuration(experiment["configuration"])
    assert moved["slo_file"] == str(mine)
    from chaosllm.slo.refs import series_query
    from chaosllm.slo.spec import load_slo_file

    assert load_slo_file(mine).slo("traffic").query() == 'sum(rate(http_requests_total{job="edge"}[1m]))'
    assert series_query("requests/s", None, moved, None) == (
        'sum(rate(http_requests_total{job="edge"}[1m]))')


# Less than half of each scenario's length when the SLO file, the control file and the
# probes over several SLOs and checks did not exist yet (277, 244, 300, 297 and 287 lines), as
# scripts/format_experiments.py lays them out.
HALF_LENGTH = {"01-service-degradation": 138, "02-pod-crash-recovery": 121, "03-resource-exhaustion": 149,
               "04-network-partition": 148, "05-cascading-failure": 143}


def test_the_k8s_scenarios_are_less_than_half_their_old_length() -> None:
    lengths = {p.stem: len(p.read_text().splitlines()) for p in SCENARIOS if p.stem in HALF_LENGTH}
    assert lengths.keys() == HALF_LENGTH.keys()
    assert {k: v for k, v in lengths.items() if v > HALF_LENGTH[k]} == {}, lengths


def test_the_scenarios_state_their_own_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    from chaoslib import substitute

    folder = REPO / "experiments" / "scenarios" / "k8s"

    def method(name: str) -> list[dict[str, Any]]:
        experiment, configuration = _configured(folder / name, monkeypatch)
        return list(substitute(experiment["method"], configuration, {}))

    def during(name: str) -> list[dict[str, Any]]:
        experiment, configuration = _configured(folder / name, monkeypatch)
        return _during(substitute(experiment["method"], configuration, {}), configuration)

    # 1: the database round trip rose by at least 80 % of the injected 500 ms.
    [rose] = [p for p in during("01-service-degradation.json") if "dependency_duration_seconds" in p["query"]]
    assert (rose["aggregate"], rose["rise_at_least"]) == ("mean", "400ms")
    # 2: two pods killed, and Chaos Mesh's records recovered within 30 s.
    [killed] = _probes(method("02-pod-crash-recovery.json"), "metric_during_fault")
    assert (killed["pods_at_least"], killed["recovered_within"]) == (2, "30s")
    # 4: a 20 s partition, the breaker opened and fallbacks served within it, then the heal.
    partition = method("04-network-partition.json")
    assert partition[0]["provider"]["arguments"]["duration"] == "20s"
    queries = {p["query"] for p in during("04-network-partition.json") if p.get("rise_at_least")}
    assert queries == {'sum(circuit_breaker_opens_total{dependency="postgres"}) or vector(0)',
                       'sum(fallbacks_total{dependency="postgres"}) or vector(0)'}
    [healed] = _probes(partition, "metric_during_fault")
    assert healed["name"] == "db-partition" and healed["recovered_within"] == "30s"
    assert partition[-1]["pauses"]["after"] >= 20
    # 3 and 5: scaled out, and the failure contained behind the ml-recs breaker.
    assert any(p.get("rise_at_least") == 1 and "replicas" in p["query"]
               for p in during("03-resource-exhaustion.json"))
    assert any("ml-recs" in p["query"] and p.get("rise_at_least") == 1
               for p in during("05-cascading-failure.json"))
