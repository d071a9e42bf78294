"""The SLO file loader, threshold parsing, the exposition parser and guard conditions (no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosllm.controls._conditions import parse_conditions
from chaosllm.errors import ConfigurationError, InvalidArgument
from chaosllm.slo import exposition as expo
from chaosllm.slo import tolerances
from chaosllm.slo.spec import load_slos
from chaosllm.thresholds import parse_threshold

GOOD = """
slos:
  - name: api_availability
    objective: 99.9%
    window: 30d
    indicator:
      ratio: {good: 'http_requests_total{status!~"5.."}', total: http_requests_total}
  - name: api_latency_p95
    target: 500ms
    window: 5m
    indicator:
      latency: {metric: http_request_duration_seconds, quantile: 0.95}
  - name: error_rate
    objective: "<1%"
    window: 5m
    indicator:
      query: sum(rate(errors_total[$window]))
"""


def test_seed_slos_load_with_their_comparisons(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text(GOOD)
    availability, latency, errors = load_slos(path)
    assert (availability.objective, availability.comparison) == (pytest.approx(0.999), ">=")
    assert (latency.objective, latency.comparison) == (0.5, "<=")
    assert (errors.objective, errors.comparison) == (0.01, "<")
    assert errors.query() == "sum(rate(errors_total[5m]))"
    assert "[1m]" in availability.query("1m") and "histogram_quantile(0.95" in latency.query()
    assert availability.burn_rate(0.99) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "entry, message",
    [
        ("- name: a\n  window: 5m\n  indicator: {query: up}", "slos[0] ('a'): field 'objective'"),
        ("- name: a\n  objective: 1\n  window: 5 min\n  indicator: {query: up}",
         "slos[0] ('a'): field 'window'"),
        ("- name: a\n  objective: 1\n  window: 5m\n  indicator: {sql: x}",
         "slos[0] ('a'): field 'indicator' has unknown key(s) 'sql' (allowed: ratio, latency, query)"),
        ("- name: a\n  objective: 1\n  window: 5m\n  indicator: {ratio: {good: x}}",
         "slos[0] ('a'): field 'indicator.ratio' needs 'total'"),
        ("- objective: 1\n  window: 5m\n  indicator: {query: up}", "slos[0]: field 'name'"),
        ("- name: a\n  objective: fast\n  window: 5m\n  indicator: {query: up}",
         "slos[0] ('a'): field 'objective'"),
        ("- name: a\n  objective: 1\n  window: 5m\n  indicator: {ratio: {good: x, bad: y, total: z}}",
         "slos[0] ('a'): field 'indicator.ratio': give exactly one of 'good' or 'bad' (rule: oneOf)"),
        ("- name: a\n  objective: 1\n  window: 5m\n  indicator: {latency: {metric: h, quantile: 2}}",
         "slos[0] ('a'): field 'indicator.latency.quantile' must be a number between 0 and 1, got 2 "
         "(rule: exclusiveMaximum)"),
    ],
)
def test_loader_errors_name_file_entry_and_field(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("slos:\n" + "\n".join("  " + line for line in entry.splitlines()) + "\n")
    with pytest.raises(ConfigurationError) as err:
        load_slos(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_thresholds_and_tolerances() -> None:
    assert parse_threshold("5%") == 0.05 and parse_threshold("2000ms") == 2.0
    assert parse_threshold(3) == 3.0
    with pytest.raises(InvalidArgument, match="a number, a percentage .* or a duration"):
        parse_threshold("lots")
    assert tolerances.between({"value": 0.5}, lower=0, upper=1)
    assert tolerances.above({"burn_rate": 3.0, "value": 0.1}, threshold=2, target="burn_rate")
    assert not tolerances.above(2, threshold=2) and tolerances.above(2, threshold=2, inclusive=True)
    with pytest.raises(InvalidArgument):
        tolerances.below("text", threshold=1)
    # No data fails unless allowed; a bad threshold is an error with or without data.
    assert not tolerances.below(None, threshold=1) and tolerances.below(None, threshold=1, allow_no_data=True)
    assert not tolerances.between({"value": None}, lower=0, upper=1)
    for judge in (tolerances.below, tolerances.above):
        with pytest.raises(InvalidArgument, match="lots"):
            judge(None, threshold="lots", allow_no_data=True)


def test_exposition_parser_and_histogram_quantile() -> None:
    text = (
        "# HELP x Test.\n# TYPE x counter\n"
        'x{code="200",path="/a\\"b"} 7\nx{code="500"} 3 1700000000000\n'
        'h_bucket{le="0.1"} 10\nh_bucket{le="0.5"} 20\nh_bucket{le="+Inf"} 20\n'
        "broken line\ng NaN\n"
    )
    samples = expo.parse_exposition(text)
    assert expo.total(samples, "x") == 10
    assert expo.total(samples, "x", {"code": "5.."}) == 3
    assert expo.select(samples, "x", {"code": "200"})[0].labels["path"] == '/a"b'
    assert expo.total(samples, "missing") is None
    cumulative = expo.buckets(samples, "h")
    assert expo.bucket_quantile(0.5, cumulative) == pytest.approx(0.1)
    assert expo.bucket_quantile(0.75, cumulative) == pytest.approx(0.3)
    assert expo.bucket_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None


def test_exposition_keeps_names_as_written_and_skips_only_bad_lines() -> None:
    text = (
        "# A plain comment.\n"
        '# HELP jobs_done Jobs done, with "quotes" and a \\\\ in the help.\n'
        "# TYPE jobs_done counter\n"
        'jobs_done{queue="say \\"hi\\"",path="C:\\\\tmp\\nx"} 4 1700000000000\n'
        "jobs_done{queue=unquoted} 99\n"
        'jobs_done{queue="b"} 6\n'
    )
    samples = expo.parse_exposition(text)
    # a counter declared without _total keeps its name, as PromQL shows it
    assert expo.total(samples, "jobs_done") == 10 and expo.total(samples, "jobs_done_total") is None
    (quoted,) = expo.select(samples, "jobs_done", {"queue": 'say "hi"'})
    assert quoted.labels["path"] == "C:\\tmp\nx" and quoted.value == 4


def test_guard_conditions_are_checked_field_by_field() -> None:
    (condition,) = parse_conditions(
        [{"scrape": "http://127.0.0.1:1/metrics", "latency_quantile": {"metric": "h"},
          "above": "2000ms", "for": "2s"}], 0.0, 1)  # fmt: skip
    assert condition.text == "latency_quantile(0.95) > 2" and condition.for_seconds == 2.0
    assert condition.source == "metrics"
    with pytest.raises(InvalidArgument, match="guard condition 1: unknown field"):
        parse_conditions([{"query": "up", "above": 1, "treshold": 2}], 0.0, 1)
    with pytest.raises(InvalidArgument, match="guard condition 2 \\('p95'\\): field 'min_samples' .*minimum"):
        parse_conditions([{"query": "up", "above": 1},
                          {"name": "p95", "query": "up", "above": 1, "min_samples": 0}], 0.0, 1)
    with pytest.raises(InvalidArgument, match="give exactly one of 'query', 'error_ratio'"):
        parse_conditions([{"above": 1}], 0.0, 1)


def test_chaos_validate_accepts_slo_tolerances_and_controls(tmp_path: Path) -> None:
    import json

    from tests.chaos_run import validate

    def tolerance(func: str, **arguments: object) -> dict[str, object]:
        return {"type": "probe", "name": func, "provider": {
            "type": "python", "module": "chaosllm.slo.tolerances", "func": func,
            "arguments": arguments}}  # fmt: skip

    def probe(func: str, tol: dict[str, object], **arguments: object) -> dict[str, object]:
        return {"type": "probe", "name": f"{func}-probe", "tolerance": tol, "provider": {
            "type": "python", "module": "chaosllm.slo.probes", "func": func,
            "arguments": arguments}}  # fmt: skip

    experiment = {
        "title": "validated", "description": "slo tolerances",
        "steady-state-hypothesis": {"title": "slos hold", "probes": [
            probe("error_ratio", tolerance("below", threshold="1%")),
            probe("availability", tolerance("above", threshold=0.95, inclusive=True)),
            probe("latency_quantile", tolerance("between", lower=0, upper="500ms"),
                  metric="http_request_duration_seconds"),
            probe("slo_status", tolerance("slo_met", max_burn_rate=2), slo_file="slos.yaml",
                  name="api"),
        ]},
        "method": [],
        "controls": [{"name": "chaosllm-guard", "provider": {
            "type": "python", "module": "chaosllm.controls.guard",
            "arguments": {"conditions": [{"query": "up", "below": 1}]}}}],
    }  # fmt: skip
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    proc = validate(path, tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "experiment looks valid" in (proc.stderr + proc.stdout).lower()


def test_an_unreachable_source_is_no_data_and_can_count_as_a_breach() -> None:
    import threading

    from chaosllm.controls.guard import Guard
    from chaosllm.controls.metrics import collect, parse_series
    from chaosllm.sandbox.app.launcher import free_port

    url = f"http://127.0.0.1:{free_port()}"
    interrupted = threading.Event()
    guard = Guard([{"query": "up", "below": 1}, {"scrape": url + "/metrics", "metric": "up",
                                                  "below": 1}],
                  interval="100ms", on_no_data="breach", prometheus_base_url=url,
                  interrupt=interrupted.set)  # fmt: skip
    guard.start()
    try:
        assert interrupted.wait(10), "the guard never interrupted"
    finally:
        guard.method_ended()
        guard.stop()
    entry = guard.extension()
    assert entry["aborted"] is True and entry["errors"] >= 1
    assert {b["source"] for b in entry["breaches"]} <= {"prometheus", "metrics"}
    assert all(b["observed"] is None for b in entry["breaches"])

    series = parse_series([{"name": "up", "query": "up", "threshold": "1%"}])
    recorded = collect(series, 0.0, 10.0, 1.0, url)
    (one,) = recorded["series"]
    assert one["points"] == [] and "could not record series 'up'" in one["error"]
    assert one["threshold"] == 0.01 and recorded["name"] == "chaosllm-metrics"


def test_prometheus_auth_header_comes_from_the_settings() -> None:
    import base64

    from chaosllm._clients.prometheus import PrometheusAPI, auth_header

    assert auth_header(None, {"prometheus_bearer_token": "tok"}) == "Bearer tok"
    basic = auth_header({"prometheus_username": "u"}, {"prometheus_password": "p"})
    assert basic == "Basic " + base64.b64encode(b"u:p").decode()
    assert auth_header(None, None) is None
    api = PrometheusAPI("http://u:p%40ss@127.0.0.1:9090/prom", "read")
    assert api.base_url == "http://127.0.0.1:9090/prom" and "p@ss" not in repr(api)
    assert api._authorization == "Basic " + base64.b64encode(b"u:p@ss").decode()


def test_a_metrics_answer_cut_off_mid_body_is_unreachable_not_a_crash() -> None:
    import socket
    import threading

    from chaosllm._clients.prometheus import scrape
    from chaosllm.errors import TargetUnreachable

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer_half() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhttp_requests_total 1\n")
        conn.close()

    thread = threading.Thread(target=answer_half, daemon=True)
    thread.start()
    try:
        with pytest.raises(TargetUnreachable, match="broken answer"):
            scrape(f"http://127.0.0.1:{server.getsockname()[1]}/metrics")
    finally:
        thread.join(5)
        server.close()
