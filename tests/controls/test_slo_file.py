"""The guard and metrics controls reading an SLO file: its shared ``guard`` and
``metrics`` lists, and conditions and series that name an SLO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaosllm.controls import guard, metrics
from chaosllm.controls._conditions import parse_conditions
from chaosllm.errors import InvalidArgument
from chaosllm.slo.promql import error_ratio_query, latency_quantile_query
from chaosllm.slo.refs import GUARD, METRICS, resolve
from chaosllm.slo.spec import load_slo_file

ROOT = Path(__file__).resolve().parents[2]
MARKETPLACE = ROOT / "experiments" / "slo" / "marketplace.yaml"
LOCAL = sorted((ROOT / "experiments" / "scenarios" / "local").glob("*.json"))

# What the local scenarios wrote out in full before they shared the SLO file (a minimum's
# threshold now says so: "bound": "lower").
INLINE_CONDITIONS = [
    {"name": "outage: gateway error ratio above 5%",
     "error_ratio": {"metric": "sandbox_http_requests_total", "selector": 'service="gateway"',
                     "error_selector": 'status=~"5.."', "window": "15s"}, "above": "5%"},
    {"name": "gateway p95 above 5s",
     "latency_quantile": {"metric": "sandbox_http_request_duration_seconds", "quantile": 0.95,
                          "selector": 'service="gateway"', "window": "15s"}, "above": "5s"},
]  # fmt: skip
INLINE_SERIES = [
    {"name": "gateway p95 latency", "unit": "s", "threshold": "1s",
     "latency_quantile": {"metric": "sandbox_http_request_duration_seconds", "quantile": 0.95,
                          "selector": 'service="gateway"', "window": "10s"}},
    {"name": "gateway error ratio", "unit": "ratio", "threshold": "1%",
     "error_ratio": {"metric": "sandbox_http_requests_total", "selector": 'service="gateway"',
                     "error_selector": 'status=~"5.."', "window": "10s"}},
    {"name": "requests/s", "query": 'sum(rate(sandbox_http_requests_total{service="gateway"}[10s]))'},
    {"name": "cache hit ratio", "unit": "ratio", "threshold": "80%", "bound": "lower",
     "query": 'sum(rate(sandbox_cache_requests_total{result=~"hit|stale"}[10s])) '
              "/ sum(rate(sandbox_cache_requests_total[10s]))"},
    {"name": "circuit breaker state (2 = open)",
     "query": "max by (dependency) (sandbox_circuit_breaker_state)"},
    {"name": "fallback answers/s", "query": "sum by (dependency) (rate(sandbox_fallbacks_total[10s]))"},
    {"name": "gateway replicas ready", "query": "max(sandbox_gateway_replicas_ready)"},
    {"name": "node CPU utilisation", "unit": "ratio", "threshold": "80%",
     "query": "max(sandbox_node_cpu_utilisation)"},
    {"name": "orders accepted/s", "query": "sum(rate(sandbox_orders_accepted_total[10s]))"},
    {"name": "orders persisted/s", "query": "sum(rate(sandbox_orders_persisted_total[10s]))"},
    {"name": "orders queued", "query": "max(sandbox_orders_queued)"},
]  # fmt: skip


# Scenario 6 records series of its own; three of them now name the LLM and gateway SLOs.
INLINE_SERIES_06 = [
    {"name": "goodput", "unit": "ratio", "threshold": "95%", "bound": "lower",
     "query": 'sum(rate(sandbox_llm_goodput_total{result="good"}[10s])) '
              "/ sum(rate(sandbox_llm_goodput_total[10s]))"},
    {"name": "time to first token p95 (gateway)", "unit": "s", "threshold": "2s",
     "latency_quantile": {"metric": "sandbox_llm_gateway_time_to_first_token_seconds",
                          "quantile": 0.95, "window": "10s"}},
    {"name": "primary attempts/s by outcome",
     "query": 'sum by (outcome) (rate(sandbox_llm_gateway_attempts_total{provider="primary"}[10s]))'},
    {"name": "failovers/s", "query": "sum(rate(sandbox_llm_failovers_total[10s]))"},
    INLINE_SERIES[1],
    INLINE_SERIES[2],
]  # fmt: skip


def _judged(conditions: list[Any]) -> list[tuple[Any, ...]]:
    return [(c.label, c.op, c.threshold, c.query, c.for_seconds, c.min_samples, c.scrape_url)
            for c in parse_conditions(conditions, 5.0, 1)]  # fmt: skip


def _control(path: Path, name: str) -> dict[str, Any]:
    controls = json.loads(path.read_text())["controls"]
    return next(c for c in controls if c["name"] == name)["provider"]["arguments"]


@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.stem)
def test_the_local_scenarios_keep_their_criteria(path: Path) -> None:
    config = {"slo_file": str(MARKETPLACE)}
    raw, conditions = resolve(_control(path, "chaosllm-guard"), GUARD, config, None)
    assert raw == load_slo_file(MARKETPLACE).guard
    assert _judged(conditions) == _judged(INLINE_CONDITIONS)
    _, series = resolve(_control(path, "chaosllm-metrics"), METRICS, config, None)
    inline = INLINE_SERIES_06 if path.name.startswith("06-") else INLINE_SERIES
    assert metrics.parse_series(series) == metrics.parse_series(inline)


# The SLO criteria of the local scenarios, as they wrote them before reading the SLO file
# (a Prometheus probe and a below/above tolerance): the SLO each now names must be that
# query over the same window, with the same threshold and the same strictness.
REQUESTS, LATENCY, ERRORS = ("sandbox_http_requests_total", "sandbox_http_request_duration_seconds",
                             'status=~"5.."')  # fmt: skip
GATEWAY, OTHER_ROUTES = 'service="gateway"', 'service="gateway",route!="recommendations"'
SLO_CRITERIA = {
    ("01", "api-p95-below-1s"): ("<", 1.0, latency_quantile_query(LATENCY, 0.95, GATEWAY, "25s")),
    ("01", "error-rate-below-1pct"): ("<", 0.01, error_ratio_query(REQUESTS, GATEWAY, ERRORS, "25s")),
    ("01", "cache-hit-rate-above-80pct"): (">", 0.8, 'sum(rate(sandbox_cache_requests_total'
                                           '{result=~"hit|stale"}[25s])) / sum(rate('
                                           'sandbox_cache_requests_total[25s]))'),
    ("04", "error-rate-below-1pct"): ("<", 0.01, error_ratio_query(REQUESTS, GATEWAY, ERRORS, "40s")),
    ("05", "other-routes-p95-below-1s"): ("<", 1.0, latency_quantile_query(LATENCY, 0.95,
                                                                            OTHER_ROUTES, "30s")),
    ("05", "other-routes-errors-below-1pct"): ("<", 0.01, error_ratio_query(REQUESTS, OTHER_ROUTES,
                                                                            ERRORS, "30s")),
    ("05", "gateway-errors-below-1pct-overall"): ("<", 0.01, error_ratio_query(REQUESTS, GATEWAY,
                                                                               ERRORS, "30s")),
}  # fmt: skip


def test_the_local_scenarios_slo_criteria_read_the_slo_file_with_their_thresholds() -> None:
    slos = load_slo_file(MARKETPLACE)
    found = {}
    for path in LOCAL:
        for probe in json.loads(path.read_text())["steady-state-hypothesis"]["probes"]:
            provider = probe["provider"]
            if provider.get("func") != "slo_status":
                continue
            args = provider["arguments"]
            assert provider["module"] == "chaosllm.slo.probes" and probe["tolerance"] == ["met"]
            assert args["slo_file"] == "${slo_file}", path.name
            slo = slos.slo(args["name"])
            found[(path.name[:2], probe["name"])] = (slo.comparison, slo.objective,
                                                    slo.query(args["window"]))  # fmt: skip
    assert found == SLO_CRITERIA


def _slo_file(tmp_path: Path, **sections: Any) -> str:
    import yaml

    path = tmp_path / "slos.yaml"
    data = {"slos": [
        {"name": "errors", "objective": "<1%", "window": "5m",
         "indicator": {"query": "sum(rate(bad[$window])) / sum(rate(all[$window]))"}},
        {"name": "availability", "objective": "99.5%", "window": "30d",
         "indicator": {"ratio": {"good": "ok_total", "total": "all_total"}}},
        {"name": "p99", "objective": "300ms", "window": "5m",
         "indicator": {"latency": {"metric": "rpc_seconds", "quantile": 0.99}}},
    ], **sections}  # fmt: skip
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_a_reference_takes_what_it_leaves_out_from_the_slo(tmp_path: Path) -> None:
    arguments = {"slo_file": _slo_file(tmp_path), "conditions": [
        {"slo": "errors", "window": "15s"},
        {"slo": "availability", "window": "1m", "for": "3s"},
        {"slo": "p99", "above": "2s", "name": "p99 far too slow"},
    ]}  # fmt: skip
    _, conditions = resolve(arguments, GUARD, None, None)
    judged = parse_conditions(conditions, 0.0, 1)
    assert [(c.label, c.op, c.threshold, c.for_seconds) for c in judged] == [
        ("errors", ">", 0.01, 0.0), ("availability", "<", 0.995, 3.0),
        ("p99 far too slow", ">", 2.0, 0.0)]  # fmt: skip
    assert judged[0].query == "sum(rate(bad[15s])) / sum(rate(all[15s]))"
    assert judged[2].query.endswith("[5m])))")  # the SLO's own window
    _, series = resolve({"slo_file": arguments["slo_file"], "series": [
        {"slo": "p99", "window": "1m"}, {"slo": "availability", "threshold": 0.9, "unit": "share"},
        {"name": "plain", "query": "up"}]}, METRICS, None, None)  # fmt: skip
    assert [(s["name"], s["unit"], s["threshold"]) for s in metrics.parse_series(series)] == [
        ("p99", "s", 0.3), ("availability", "share", 0.9), ("plain", None, None)]
    # The objective's direction goes with its threshold: a ratio of 99.5 % is a minimum.
    _, series = resolve({"slo_file": arguments["slo_file"], "series": [
        {"slo": "availability"}, {"slo": "errors"}, {"slo": "p99"}]}, METRICS, None, None)  # fmt: skip
    assert [(s["threshold"], s.get("bound", "upper")) for s in metrics.parse_series(series)] == [
        (0.995, "lower"), (0.01, "upper"), (0.3, "upper")]
    with pytest.raises(InvalidArgument, match="metrics series 1: 'bound' must be one of upper, lower"):
        metrics.parse_series([{"name": "x", "query": "up", "threshold": 1, "bound": "over"}])


def test_the_slo_file_comes_from_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _slo_file(tmp_path, guard=[{"slo": "errors", "above": "5%"}])
    monkeypatch.setenv("CHAOSLLM_SLO_FILE", path)
    raw, conditions = resolve({}, GUARD, None, None)
    assert raw == [{"slo": "errors", "above": "5%"}]
    assert conditions[0]["above"] == "5%" and "[5m]" in conditions[0]["query"]
    # The argument wins over the setting, as everywhere.
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(InvalidArgument, match="has no 'guard' list"):
        resolve({"slo_file": _slo_file(other)}, GUARD, None, None)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"conditions": [{"slo": "errors"}]},
     "guard conditions name SLOs ('slo'), but no SLO file is given: set the control's argument "
     "'slo_file' or the setting slo_file ($CHAOSLLM_SLO_FILE)"),
    ({"conditions": [{"slo": "nope"}], "slo_file": "<FILE>"},
     "guard condition 1: <FILE>: no SLO named 'nope' (the file defines: errors, availability, p99)"),
    ({"conditions": [{"slo": ["errors"]}], "slo_file": "<FILE>"},
     "guard condition 1: 'slo' must be the name of an SLO, got ['errors']"),
    ({"conditions": [{"slo": "errors", "window": "soon"}], "slo_file": "<FILE>"},
     "guard condition 1: "),
    ({"slo_file": "<FILE>"},
     "no 'conditions' given, and the SLO file <FILE> has no 'guard' list to use instead"),
    ({"slo_file": "missing.yaml", "conditions": [{"slo": "errors"}]},
     "guard conditions: could not read SLO file missing.yaml: No such file or directory"),
])  # fmt: skip
def test_bad_references_are_refused_naming_the_cause(
    tmp_path: Path, arguments: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    path = _slo_file(tmp_path)
    if arguments.get("slo_file") == "<FILE>":
        arguments = {**arguments, "slo_file": path}
    with pytest.raises(InvalidArgument) as info:
        guard._build(arguments, None, None)
    assert str(info.value).startswith(message.replace("<FILE>", path))


def test_a_guard_from_the_file_records_the_conditions_it_used(tmp_path: Path) -> None:
    shared = [{"name": "outage", "slo": "errors", "window": "15s", "above": "5%"}]
    path = _slo_file(tmp_path, guard=shared)
    guard.configure_control({"slo_file": path}, None, None, None)
    try:
        assert guard._setup_error is None and guard._current is not None
        assert guard._current.extension()["conditions"] == shared
    finally:
        guard.cleanup_control()


def test_validation_waits_for_the_run_when_the_file_comes_from_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    # no conditions or series, no slo_file yet: judged at run time
    guard.validate_control({"provider": {"arguments": {"interval": "1s"}}})
    metrics.validate_control({"provider": {"arguments": {"step": "1s"}}})
    with pytest.raises(Exception, match="metrics series: could not read SLO file .*absent.yaml"):
        metrics.validate_control({"provider": {"arguments": {"slo_file": str(MARKETPLACE.with_name(
            "absent.yaml"))}}})  # fmt: skip
