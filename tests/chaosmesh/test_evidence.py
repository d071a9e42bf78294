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


def test_metric_during_fault_reads_prometheus_within_the_faults_window(
    cluster: FakeCluster, prometheus_factory: Callable[..., launcher.Server],
    target: Target, traffic: Traffic, tmp_path: Path,
) -> None:
    server = prometheus_factory(targets={"app": [target.address]})
    cfg = {"prometheus_base_url": server.url}
    rate = "sum(rate(http_requests_total[3s]))"
    mean = ("sum(rate(http_request_duration_seconds_sum[3s]))"
            " / sum(rate(http_request_duration_seconds_count[3s]))")
    launcher.wait_until(lambda: (query_value(rate, configuration=cfg) or 0) > 0, 30,
                        "prometheus to hold two scrapes of the target")
    time.sleep(6)  # a baseline before the fault: 10 ms answers
    actions.inject_network_delay(latency="800ms", name="slow-web", **WEB)
    traffic.latency = 0.8  # what the delay does to the target's answers
    time.sleep(8)
    args: dict[str, Any] = {"kind": "NetworkChaos", "name": "slow-web", "namespace": NS, "step": "1s",
                            "configuration": cfg}
    rose = probes.metric_during_fault(query=mean, aggregate="mean", rise_at_least="400ms", **args)
    assert rose["met"] is True and rose["window"] == "still injected" and rose["samples"] >= 5
    assert rose["baseline"] < 0.05 and rose["rise"] >= 0.4 and 7 <= rose["window_seconds"] <= 15
    flowed = probes.metric_during_fault(query=rate, aggregate="min", at_least=50, **args)
    assert flowed["met"] is True and flowed["value"] >= 50
    # The same criterion on a series of an SLO file's 'metrics' list, by name.
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(yaml.safe_dump({
        "slos": [{"name": "traffic", "objective": ">0", "window": "3s",
                  "indicator": {"query": "sum(rate(http_requests_total[$window]))"}}],
        "metrics": [{"name": "requests/s", "slo": "traffic"}, {"name": "mean", "query": mean}]}))
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
    method[0]["provider"]["arguments"]["duration"] = "4s"
    for activity in method:
        if "pauses" in activity:
            activity["pauses"] = {"after": 5 if activity["name"] == "partition-the-database" else 1}
        if activity["provider"]["func"] == "metric_during_fault":
            activity["provider"]["arguments"]["step"] = "1s"
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
    proc, journal = run_experiment(experiment, tmp_path, env)
    runs = {run["activity"]["name"]: run for run in journal.get("run", [])}
    assert runs, proc.stdout + proc.stderr
    partition = runs["partition-the-database"]["output"]
    assert partition["effect"] == "observed"
    assert partition["evidence"]["pods"] == "llm-marketplace/postgresql-0"
    assert runs["traffic-during-the-partition"]["status"] == "succeeded"
    assert 3 <= runs["traffic-during-the-partition"]["output"]["window_seconds"] <= 8
    breaker = runs["database-breaker-opened-during-the-partition"]
    assert runs["partition-healed"]["status"] == "succeeded"
    model = parse_journal(journal)
    if breaker_opens:
        assert breaker["status"] == "succeeded" and breaker["output"]["rise"] == 1.0
        assert runs["fallbacks-served-during-the-partition"]["output"]["rise"] == 40.0
        assert model.verdict == "passed", model.verdict_reasons
    else:
        assert breaker["status"] == "failed" and "below rise_at_least 1" in breaker["exception"][-1]
        # chaoslib calls it completed; the report does not.
        assert journal["status"] == "completed" and model.verdict == "failed", model.verdict_reasons
        assert any("database-breaker-opened-during-the-partition" in r for r in model.verdict_reasons)
    assert cluster.objects == {}  # the rollback removed the partition
    # The guard and the charts took the gateway's series from the SLO file too.
    [charts] = [e for e in journal["extensions"] if e.get("name") == "chaosllm-metrics"]
    recorded = {series["name"]: series["query"] for series in charts["series"]}
    assert [recorded[name] for name in ("requests/s", "p95 latency", "error ratio")] == [
        "sum(rate(http_requests_total[1m]))",
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="app"}[1m])))',
        '(sum(rate(http_requests_total{job="app",status=~"5.."}[1m])) or vector(0))'
        ' / sum(rate(http_requests_total{job="app"}[1m]))'], charts
    assert runs["traffic-during-the-partition"]["output"]["series"] == "requests/s"
