"""Evidence criteria about a Chaos Mesh fault: `pods_injected` against the fake API server,
and `metric_during_fault` against the fake API server and a private Prometheus."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.chaosmesh import actions, probes
from chaosllm.chaosmesh._evidence import Criteria, fault_window, judge_metric
from chaosllm.errors import CriterionNotMet, InvalidArgument, NotInjected
from chaosllm.report.model import parse_journal
from chaosllm.sandbox.app import launcher
from chaosllm.slo.probes import query_value
from tests.chaos_run import run_experiment
from tests.chaosmesh.conftest import REPO
from tests.chaosmesh.fake_k8s import FakeCluster
from tests.target import Target, Traffic

NS = "shop"
WEB = {"namespace": NS, "label_selectors": "app=web,chaos-ready=true", "duration": "5m", "timeout": "5s"}


def test_pods_injected_counts_the_records_and_fails_below_at_least(cluster: FakeCluster) -> None:
    actions.kill_pods(**WEB, mode="all", name="kill-web")
    found = probes.pods_injected("PodChaos", "kill-web", NS, at_least=2)
    assert found["pods_injected"] == found["pods_selected"] == 2
    assert found["pods"] == "shop/web-1,shop/web-2" and found["state"] == "injected"
    with pytest.raises(NotInjected, match=r"PodChaos shop/kill-web: 2 pod\(s\) injected, at least 3 "
                                          r"expected \(2 selected, state injected\)"):
        probes.pods_injected("PodChaos", "kill-web", NS, at_least=3)
    with pytest.raises(NotInjected, match="PodChaos shop/gone is absent: no pod was injected"):
        probes.pods_injected("PodChaos", "gone", NS)
    with pytest.raises(InvalidArgument, match="at_least must be a whole number"):
        probes.pods_injected("PodChaos", "kill-web", NS, at_least=0)


def _stamped(created: str, events: list[tuple[str, str]], phase: str, recovered: bool) -> dict[str, Any]:
    record = {"id": "shop/web-1", "selectorKey": ".", "phase": phase, "injectedCount": 1,
              "recoveredCount": 1 if recovered else 0,
              "events": [{"type": "Succeeded", "operation": op, "timestamp": at} for op, at in events]}
    conditions = [{"type": "AllRecovered", "status": "True" if recovered else "False"},
                  {"type": "Selected", "status": "True"}]
    return {"kind": "NetworkChaos", "metadata": {"name": "d", "namespace": NS, "creationTimestamp": created},
            "status": {"experiment": {"desiredPhase": "Stop" if recovered else "Run",
                                      "containerRecords": [record]}, "conditions": conditions}}


def test_the_fault_window_runs_from_the_first_injection_to_the_recovery() -> None:
    obj = _stamped("2026-12-05T09:00:00Z", [("Apply", "2026-12-05T09:00:02Z"),
                                            ("Recover", "2026-12-05T09:00:22Z")], "Not Injected", True)
    start, end, ended = fault_window(obj, "NetworkChaos shop/d")
    assert (end - start, ended) == (20.0, "recovered")
    holding = _stamped("2026-12-05T09:00:00Z", [("Apply", "2026-12-05T09:00:02Z")], "Injected", False)
    start, end, ended = fault_window(holding, "NetworkChaos shop/d", now=start + 100)
    assert (end - start, ended) == (100.0, "still injected")
    never = _stamped("2026-12-05T09:00:00Z", [], "Not Injected", False)
    never["status"]["experiment"]["containerRecords"][0]["injectedCount"] = 0
    with pytest.raises(NotInjected, match="shop/d injected no container .*no fault window"):
        fault_window(never, "NetworkChaos shop/d")


def test_a_metric_is_judged_by_every_bound_and_never_on_no_samples() -> None:
    during = [{"metric": {}, "values": [[1, "0.5"], [2, "0.7"], [3, "NaN"]]}]
    before = [{"metric": {}, "values": [[0, "0.1"], [0.5, "0.1"]]}]
    met = judge_metric(Criteria("mean", None, "1s", "400ms", None), during, before, "m")
    assert met["met"] is True and met["samples"] == 2 and round(met["rise"], 6) == 0.5
    with pytest.raises(CriterionNotMet, match=r"m: mean 0.6 is above at_most 0.5; ratio 6 to the "
                                              r"baseline 0.1 is above ratio_at_most 2"):
        judge_metric(Criteria("mean", None, 0.5, None, 2), during, before, "m")
    with pytest.raises(CriterionNotMet, match="no sample in the fault window"):
        judge_metric(Criteria("max", 1, None, None, None), [], None, "m")
    with pytest.raises(InvalidArgument, match="returned 2 series"):
        judge_metric(Criteria("max", 1, None, None, None), during * 2, None, "m")
    with pytest.raises(InvalidArgument, match="give at least one of"):
        Criteria("max", None, None, None, None)
    with pytest.raises(InvalidArgument, match="aggregate must be one of max, min, mean"):
        Criteria("p99", 1, None, None, None)


RATE = "sum(rate(http_requests_total[3s]))"
MEAN = "sum(rate(http_request_duration_seconds_sum[3s])) / sum(rate(http_request_duration_seconds_count[3s]))"


def _slowed_web(prometheus: Callable[..., launcher.Server], target: Target, traffic: Traffic,
                before: float, during: float, **delay: Any) -> dict[str, Any]:  # fmt: skip
    """Prometheus scraping the target, ``before`` seconds of 10 ms answers, then the fault
    slow-web (800 ms) for ``during`` seconds; the configuration that reads that Prometheus."""
    server = prometheus(targets={"app": [target.address]})
    cfg = {"prometheus_base_url": server.url}
    launcher.wait_until(lambda: (query_value(RATE, configuration=cfg) or 0) > 0, 30,
                        "prometheus to hold two scrapes of the target")
    time.sleep(before)  # a baseline before the fault
    actions.inject_network_delay(latency="800ms", name="slow-web", **WEB, **delay)
    traffic.latency = 0.8  # what the delay does to the target's answers
    time.sleep(during)
    return cfg


def _slo_file(tmp_path: Path) -> Path:
    """An SLO file whose 'metrics' list names the target's rate ('requests/s') and mean latency."""
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(yaml.safe_dump({
        "slos": [{"name": "traffic", "objective": ">0", "window": "3s",
                  "indicator": {"query": "sum(rate(http_requests_total[$window]))"}}],
        "metrics": [{"name": "requests/s", "slo": "traffic"}, {"name": "mean", "query": MEAN}]}))
    return slo_file


def test_metric_during_fault_reads_prometheus_within_the_faults_window(
    cluster: FakeCluster, prometheus_factory: Callable[..., launcher.Server],
    target: Target, traffic: Traffic, tmp_path: Path,
) -> None:
    cfg = _slowed_web(prometheus_factory, target, traffic, before=6, during=8)
    rate, mean = RATE, MEAN
    args: dict[str, Any] = {"kind": "NetworkChaos", "name": "slow-web", "namespace": NS, "step": "1s",
                            "configuration": cfg}
    rose = probes.metric_during_fault(query=mean, aggregate="mean", rise_at_least="400ms", **args)
    assert rose["met"] is True and rose["window"] == "still injected" and rose["samples"] >= 5
    assert rose["baseline"] < 0.05 and rose["rise"] >= 0.4 and 7 <= rose["window_seconds"] <= 15
    flowed = probes.metric_during_fault(query=rate, aggregate="min", at_least=50, **args)
    assert flowed["met"] is True and flowed["value"] >= 50
    # The same criterion on a series of an SLO file's 'metrics' list, by name.
    slo_file = _slo_file(tmp_path)
    named = probes.metric_during_fault(series="requests/s", slo_file=str(slo_file), aggregate="min",
                                       at_least=50, **args)
    assert named["met"] is True and (named["series"], named["query"]) == ("requests/s", rate)
    with pytest.raises(CriterionNotMet, match=r"'mean' during NetworkChaos shop/slow-web: max .* is "
                                              r"above at_most 0.1"):
        probes.metric_during_fault(series="mean", slo_file=str(slo_file), at_most="100ms", **args)
    with pytest.raises(CriterionNotMet, match=r"metric during NetworkChaos shop/slow-web: max .* is above "
                                              r"at_most 0.1"):
        probes.metric_during_fault(query=mean, at_most="100ms", **args)
    # No traffic: a query with no samples in the window fails, it never passes.
    with pytest.raises(CriterionNotMet, match="no sample in the fault window"):
        probes.metric_during_fault(query="sum(rate(no_such_requests_total[3s]))", at_most=1, **args)
    # Once the fault is over, the window ends at its recovery, not at the time of the check.
    actions.remove_chaos("NetworkChaos", "slow-web", NS)
    cluster.put_raw({"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
                     "metadata": {"name": "idle", "namespace": NS},
                     "spec": {"action": "delay", "mode": "all", "selector": {"namespaces": [NS]},
                              "delay": {"latency": "1s"}, "duration": "1m"}}, "networkchaos")
    with pytest.raises(NotInjected, match="NetworkChaos shop/idle injected no container"):
        probes.metric_during_fault(query=rate, at_least=1, **{**args, "name": "idle"})


def test_metric_during_fault_reads_a_series_of_the_slo_file_or_a_query_not_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    fault = {"kind": "NetworkChaos", "name": "d", "namespace": NS, "at_least": 1}
    for given in ({}, {"query": "up", "series": "requests/s"}):
        with pytest.raises(InvalidArgument, match="give exactly one of 'query' .* and 'series'"):
            probes.metric_during_fault(**fault, **given)
    with pytest.raises(InvalidArgument, match="series 'requests/s' names a series of an SLO file's "
                                              r"'metrics' list, but no SLO file is given"):
        probes.metric_during_fault(**fault, series="requests/s")
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(yaml.safe_dump({"slos": [], "metrics": [
        {"name": "requests/s", "query": "sum(rate(a[1m]))"}, {"name": "twice", "query": "b"},
        {"name": "twice", "query": "c"}]}))
    with pytest.raises(InvalidArgument, match=r"has no series named 'rps' \(it has: 'requests/s', "
                                              r"'twice', 'twice'\)"):
        probes.metric_during_fault(**fault, series="rps", slo_file=str(slo_file))
    # The SLO file may come from the setting; two series of one name are refused.
    monkeypatch.setenv("CHAOSLLM_SLO_FILE", str(slo_file))
    with pytest.raises(InvalidArgument, match="has 2 series named 'twice'"):
        probes.metric_during_fault(**fault, series="twice")


def test_metric_during_fault_judges_several_checks_over_one_window(
    cluster: FakeCluster, prometheus_factory: Callable[..., launcher.Server],
    target: Target, traffic: Traffic, tmp_path: Path,
) -> None:
    cfg = _slowed_web(prometheus_factory, target, traffic, before=5, during=6, mode="all")
    rate, mean, slo_file = RATE, MEAN, _slo_file(tmp_path)
    fault: dict[str, Any] = {"kind": "NetworkChaos", "name": "slow-web", "namespace": NS, "step": "1s",
                             "slo_file": str(slo_file), "configuration": cfg}
    flowing = {"series": "requests/s", "aggregate": "min", "at_least": 50}
    rose = {"series": "mean", "aggregate": "mean", "rise_at_least": "400ms"}
    up = {"query": "max(app_up)", "at_least": 1}
    # Every check holds: one result each, the series' queries from the SLO file.
    met = probes.metric_during_fault(checks=[flowing, rose, up], pods_at_least=2, **fault)
    assert met["met"] is True and met["window"] == "still injected" and "query" not in met
    assert (met["pods_injected"], met["pods_selected"], met["pods"]) == (2, 2, "shop/web-1,shop/web-2")
    assert [(c["name"], c["query"], c.get("series")) for c in met["checks"]] == [
        ("requests/s", rate, "requests/s"), ("mean", mean, "mean"), ("check 3", "max(app_up)", None)]
    assert all(c["met"] is True and c["samples"] >= 3 for c in met["checks"])
    assert met["checks"][0]["value"] >= 50 and met["checks"][1]["rise"] >= 0.4
    assert met["checks"][1]["baseline"] < 0.05 and met["checks"][2]["value"] == 1
    # One check misses: the probe fails, naming that check and not the others.
    fast = {"series": "mean", "at_most": "100ms"}
    with pytest.raises(CriterionNotMet) as missed:
        probes.metric_during_fault(checks=[flowing, fast, up], **fault)
    assert str(missed.value).startswith("NetworkChaos shop/slow-web: 1 of 3 checks missed: 'mean': max ")
    assert "above at_most 0.1" in str(missed.value)
    assert "requests/s" not in str(missed.value) and "check 3" not in str(missed.value)
    # Two miss: both are named, whatever their order.
    idle = {"name": "idle route", "query": "sum(rate(no_such_requests_total[3s]))", "at_least": 1}
    with pytest.raises(CriterionNotMet) as missed:
        probes.metric_during_fault(checks=[idle, flowing, fast], **fault)
    assert str(missed.value).startswith("NetworkChaos shop/slow-web: 2 of 3 checks missed: 'idle route': "
                                        "no sample in the fault window")
    assert " | 'mean': max " in str(missed.value) and "requests/s" not in str(missed.value)
    # pods_at_least: the records must show that many pods injected.
    with pytest.raises(NotInjected, match=r"NetworkChaos shop/slow-web: 2 pod\(s\) injected, "
                                          r"at least 3 expected \(2 selected, state injected\)"):
        probes.metric_during_fault(checks=[flowing], pods_at_least=3, **fault)
    # recovered_within: a fault that holds on fails after that long, with wait_for_recovery's message.
    began = time.monotonic()
    with pytest.raises(NotInjected, match=r"NetworkChaos shop/slow-web: no recovery within 1s "
                                          r"\(state injected\)"):
        probes.metric_during_fault(checks=[flowing], recovered_within="1s", **fault)
    assert 0.9 <= time.monotonic() - began < 5
    # ... and a fault that recovers in time is judged over its whole window, to its recovery.
    actions.inject_network_delay(latency="800ms", name="short-web", mode="all", **{**WEB, "duration": "3s"})
    healed = probes.metric_during_fault(checks=[flowing], recovered_within="20s", pods_at_least=1,
                                        **{**fault, "name": "short-web"})
    assert healed["recovered"] is True and healed["window"] == "recovered" and healed["met"] is True
    assert 2.5 <= healed["window_seconds"] <= 6 and healed["pods_injected"] == 2
    assert cluster.get("networkchaos", NS, "short-web") is not None  # waited for, not removed
    # The single-check arguments go with pods_at_least and recovered_within too.
    single = probes.metric_during_fault(series="requests/s", aggregate="min", at_least=50,
                                        recovered_within="1s", **{**fault, "name": "short-web"})
    assert single["recovered"] is True and single["series"] == "requests/s" and single["met"] is True


def test_metric_during_fault_refuses_bad_checks_before_reading_anything(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    # Prometheus would be a closed port: a call that got past its checks would fail otherwise.
    fault: dict[str, Any] = {"kind": "NetworkChaos", "name": "d", "namespace": NS,
                             "configuration": {"prometheus_base_url": "http://127.0.0.1:9"}}
    good = {"query": "up", "at_least": 1}
    refused = {
        "give either 'checks' or the top-level 'query', not both":
            {"checks": [good], "query": "up"},
        "give either 'checks' or the top-level 'series', 'at_most', 'aggregate', not both":
            {"checks": [good], "series": "requests/s", "at_most": 1, "aggregate": "min"},
        # Every check is checked before a series is looked up (no SLO file here).
        r"checks\[2\]: unknown key 'at_mots' \(a check takes name, series, query, aggregate, ":
            {"checks": [{"series": "requests/s", "at_least": 1}, good, {"query": "up", "at_mots": 1}]},
        r"argument checks\[1\] must be a mapping, got 'up'": {"checks": [good, "up"]},
        "checks must be a list of one check or more": {"checks": []},
        r"checks\[0\]: give at least one of at_least, at_most, rise_at_least": {"checks": [{"query": "up"}]},
        r"checks\[1\]: ratio_at_most must be a number": {"checks": [good, {**good, "ratio_at_most": "x"}]},
        r"checks\[0\]: give exactly one of 'query' .* and 'series'":
            {"checks": [{**good, "series": "requests/s"}]},
        r"checks\[0\]: aggregate must be one of max, min, mean, got 'p99'":
            {"checks": [{**good, "aggregate": "p99"}]},
        r"checks\[0\]: name must be a non-empty string": {"checks": [{**good, "name": ""}]},
        r"checks\[0\]: series 'requests/s' names a series of an SLO file's 'metrics' list, but no SLO":
            {"checks": [{"series": "requests/s", "at_least": 1}]},
        "pods_at_least must be a whole number of pods, 1 or more, got 0":
            {"checks": [good], "pods_at_least": 0},
        "recovered_within 'soon' is not a duration": {"checks": [good], "recovered_within": "soon"},
    }
    for match, given in refused.items():
        with pytest.raises(InvalidArgument, match=match):
            probes.metric_during_fault(**fault, **given)
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(yaml.safe_dump({"slos": [], "metrics": [{"name": "requests/s", "query": "a"}]}))
    with pytest.raises(InvalidArgument, match=r"checks\[1\]: the SLO file's 'metrics' list has no series "
                                              r"named 'rps'"):
        probes.metric_during_fault(**fault, slo_file=str(slo_file),
                                   checks=[{"series": "requests/s", "at_least": 1},
                                           {"series": "rps", "at_least": 1}])
    assert cluster.requests == []  # nothing was read from the API server


@pytest.mark.parametrize("breaker_opens", [False, True], ids=["no-breaker", "breaker-opens"])
def test_the_partition_scenario_passes_only_when_the_breaker_opened_during_it(
    cluster: FakeCluster, prometheus_factory: Callable[..., launcher.Server],
    target: Target, traffic: Traffic, tmp_path: Path, breaker_opens: bool,
) -> None:
    """Scenario 4 through `chaos run`, shortened: the partition bites and traffic flows;
    a service whose breaker never opens fails the run, one whose breaker opens and
    whose fallbacks serve during the partition passes it."""
    server = prometheus_factory(targets={"app": [target.address]})
    rate = "sum(rate(http_requests_total[5s]))"
    launcher.wait_until(lambda: (query_value(rate, configuration={"prometheus_base_url": server.url})
                                 or 0) > 0, 30, "prometheus to hold two scrapes of the target")
    time.sleep(3)  # a baseline before the fault
    cluster.add_pod("llm-marketplace", "postgresql-0", {"app": "postgresql"})
    cluster.add_pod("llm-marketplace", "gateway-0", {"tier": "services"})
    experiment = json.loads((REPO / "experiments" / "scenarios" / "k8s" / "04-network-partition.json")
                            .read_text())
    # The fake API server serves no Deployments, and the run is made short.
    probes_ = experiment["steady-state-hypothesis"]["probes"]
    experiment["steady-state-hypothesis"]["probes"] = [
        p for p in probes_ if not p["provider"]["module"].startswith("chaosk8s")]
    method = experiment["method"]
    assert [a["name"] for a in method] == ["partition-the-database", "during-the-partition"]
    method[0]["provider"]["arguments"]["duration"] = "4s"
    method[0]["pauses"] = {"after": 5}
    method[1]["pauses"] = {"after": 1}
    method[1]["provider"]["arguments"]["step"] = "1s"
    # The target's own metric names: an SLO file of its own, as CHAOSLLM_SLO_FILE retargets a cluster.
    slos = yaml.safe_load((REPO / "experiments" / "slo" / "llm-marketplace-k8s.yaml").read_text()
                          .replace('app="graphql-gateway"', 'job="app"'))
    queries = {"traffic": "sum(rate(http_requests_total[$window]))", "orders_not_lost": "vector(0)",
               "catalog_freshness": "vector(5)"}
    for slo in slos["slos"]:
        if slo["name"] in queries:
            slo["indicator"] = {"query": queries[slo["name"]]}
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(yaml.safe_dump(slos))
    env = {"CHAOSLLM_PROMETHEUS_BASE_URL": server.url, "CHAOSLLM_SLO_FILE": str(slo_file)}
    opened = {'circuit_breaker_opens_total{dependency="postgres"}': 1.0,
              'fallbacks_total{dependency="postgres"}': 40.0}

    def open_breaker_once_partitioned() -> None:
        launcher.wait_until(lambda: cluster.get("networkchaos", "llm-marketplace", "db-partition"), 60,
                            "the partition")
        time.sleep(1)
        target.extra.update(opened)

    if breaker_opens:
        threading.Thread(target=open_breaker_once_partitioned, daemon=True).start()
    # With the scenarios' control file: guard, metrics, rollbacks and redact.
    control_file = REPO / "experiments" / "settings" / "k8s-controls.yaml"
    proc, journal = run_experiment(experiment, tmp_path, env,
                                   extra_args=("--control-file", str(control_file)))
    runs = {run["activity"]["name"]: run for run in journal.get("run", [])}
    assert runs, proc.stdout + proc.stderr
    partition = runs["partition-the-database"]["output"]
    assert partition["effect"] == "observed"
    assert partition["evidence"]["pods"] == "llm-marketplace/postgresql-0"
    during = runs["during-the-partition"]
    model = parse_journal(journal)
    if breaker_opens:
        assert during["status"] == "succeeded", during
        output = during["output"]
        assert output["recovered"] is True and output["window"] == "recovered"
        assert 3 <= output["window_seconds"] <= 8
        checks = {c["name"]: c for c in output["checks"]}
        assert list(checks) == ["database breaker opens", "database fallbacks", "requests/s"]
        assert checks["database breaker opens"]["rise"] == 1.0
        assert checks["database fallbacks"]["rise"] == 40.0
        assert checks["requests/s"]["met"] is True and checks["requests/s"]["value"] > 0
        assert model.verdict == "passed", model.verdict_reasons
    else:
        # Both checks about the breaker missed and are named; traffic flowed, so it is not.
        missed = during["exception"][-1]
        assert during["status"] == "failed" and "2 of 3 checks missed" in missed, missed
        assert "'database breaker opens': rise 0 (from 0) is below rise_at_least 1" in missed
        assert "'database fallbacks': rise 0 (from 0) is below rise_at_least 1" in missed
        assert "requests/s" not in missed
        # chaoslib calls it completed; the report does not.
        assert journal["status"] == "completed" and model.verdict == "failed", model.verdict_reasons
        assert any("during-the-partition" in r for r in model.verdict_reasons)
    assert cluster.objects == {}  # the rollback removed the partition
    # The guard and the charts took the gateway's series from the SLO file too.
    [charts] = [e for e in journal["extensions"] if e.get("name") == "chaosllm-metrics"]
    recorded = {series["name"]: series["query"] for series in charts["series"]}
    assert [recorded[name] for name in ("requests/s", "p95 latency", "error ratio")] == [
        "sum(rate(http_requests_total[1m]))",
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="app"}[1m])))',
        '(sum(rate(http_requests_total{job="app",status=~"5.."}[1m])) or vector(0))'
        ' / sum(rate(http_requests_total{job="app"}[1m]))'], charts
