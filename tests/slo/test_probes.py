"""SLO probes, the SLO file and the alert rules against a private Prometheus.

One Prometheus (scrape interval 1 s) scrapes a test target serving 100
requests/s, a quarter of them errors, all answered in 0.3 s.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from chaosllm.errors import ConfigurationError, InvalidArgument, TargetUnreachable
from chaosllm.sandbox.app import launcher
from chaosllm.slo import probes, tolerances
from tests.conftest import IN_CI
from tests.target import Target, Traffic

# These tests start a private Prometheus.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "chaos-alerts.yml"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One Prometheus for the module: starting it is the slow part."""
    target = Target()
    traffic = Traffic(target)
    traffic.error_share = 0.25
    traffic.latency = 0.3
    try:
        server = launcher.start_prometheus(
            tmp_path_factory.mktemp("prometheus"), targets={"app": [target.address]},
            rule_files=[str(ALERTS)],
        )  # fmt: skip
    except launcher.MissingBinary as exc:
        traffic.stop()
        target.close()
        if IN_CI:
            pytest.fail(f"CI=true and a server binary is missing: {exc}")
        pytest.skip(str(exc))
    cfg = {"prometheus_base_url": server.url}
    try:
        launcher.wait_until(
            lambda: (probes.query_value("sum(rate(http_requests_total[5s]))",
                                        configuration=cfg) or 0) > 0,
            30, "prometheus to hold two scrapes of the target",
        )  # fmt: skip
        yield {"configuration": cfg, "server": server}
    finally:
        server.stop()
        traffic.stop()
        target.close()


def test_probes_return_the_values_the_target_serves(stack: dict[str, Any], tmp_path: Path) -> None:
    cfg = stack["configuration"]
    ratio = probes.error_ratio(window="10s", configuration=cfg)
    assert ratio is not None and ratio == pytest.approx(0.25, abs=0.03)
    available = probes.availability(window="10s", configuration=cfg)
    assert available is not None and available == pytest.approx(0.75, abs=0.03)
    # every request took 0.3 s: inside the (0.25, 0.5] bucket, interpolated linearly
    p95 = probes.latency_quantile("http_request_duration_seconds", 0.95, window="10s",
                                  configuration=cfg)  # fmt: skip
    assert p95 == pytest.approx(0.25 + 0.25 * 0.95, abs=1e-6)
    p50 = probes.latency_quantile("http_request_duration_seconds_bucket", 0.5,
                                  selector='job="app"', window="10s", configuration=cfg)
    assert p50 == pytest.approx(0.375, abs=1e-6)
    assert probes.query_value('sum(app_up{job="app"})', configuration=cfg) == 1.0

    assert tolerances.below(ratio, threshold="30%") and not tolerances.below(ratio, threshold="5%")
    assert tolerances.below(p95, threshold="500ms") and tolerances.above(available, threshold=0.7)
    assert tolerances.between(available, lower=0.7, upper="80%")


def test_no_data_is_null_never_zero(stack: dict[str, Any]) -> None:
    cfg = stack["configuration"]
    assert probes.query_value("sum(no_such_metric)", configuration=cfg) is None
    assert probes.error_ratio(selector='job="missing"', configuration=cfg) is None
    assert probes.availability(selector='job="missing"', configuration=cfg) is None
    assert probes.latency_quantile("no_such_histogram", configuration=cfg) is None
    assert tolerances.below(None, threshold=1) is False
    assert tolerances.below(None, threshold=1, allow_no_data=True) is True


def test_slo_file_status_burn_rate_and_no_data(stack: dict[str, Any], tmp_path: Path) -> None:
    cfg = stack["configuration"]
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(
        "slos:\n"
        "  - name: api_availability\n    objective: 99%\n    window: 30d\n"
        "    indicator:\n      ratio:\n"
        "        good: http_requests_total{job=\"app\",status!~\"5..\"}\n"
        "        total: http_requests_total{job=\"app\"}\n"
        "  - name: api_latency_p95\n    objective: 500ms\n    window: 5m\n"
        "    indicator:\n      latency: {metric: http_request_duration_seconds, quantile: 0.95}\n"
        "  - name: error_rate\n    objective: \"<30%\"\n    window: 5m\n"
        "    indicator:\n      query: sum(rate(http_requests_total{status=~\"5..\"}[$window]))"
        " / sum(rate(http_requests_total[$window]))\n"
        "  - name: ghost\n    objective: 99%\n    window: 5m\n"
        "    indicator:\n      ratio: {bad: 'ghost_total{code=\"5\"}', total: ghost_total}\n"
    )  # fmt: skip
    availability = probes.slo_status(str(slo_file), "api_availability", window="10s",
                                     configuration=cfg)  # fmt: skip
    assert availability["met"] is False and availability["objective"] == 0.99
    assert availability["value"] == pytest.approx(0.75, abs=0.03)
    assert availability["burn_rate"] == pytest.approx(25, abs=3)  # 25% errors / 1% budget
    assert tolerances.slo_met(availability) is False

    latency = probes.slo_status(str(slo_file), "api_latency_p95", configuration=cfg)
    assert latency["met"] is True and latency["comparison"] == "<="
    assert latency["burn_rate"] is None and latency["window"] == "5m"
    errors = probes.slo_status(str(slo_file), "error_rate", window="10s", configuration=cfg)
    assert errors["met"] is True and errors["comparison"] == "<"
    assert errors["burn_rate"] == pytest.approx(0.25 / 0.30, abs=0.1)
    assert tolerances.slo_met(errors, max_burn_rate=2) is True
    assert tolerances.slo_met(errors, max_burn_rate=0.5) is False

    ghost = probes.slo_status(str(slo_file), "ghost", configuration=cfg)
    assert ghost["no_data"] is True and ghost["value"] is None and ghost["met"] is None
    assert tolerances.slo_met(ghost) is False

    # The short tolerance ["met"]: Chaos Toolkit compares the result's status with the list.
    from chaoslib.hypothesis import within_tolerance

    statuses = [r["status"] for r in (availability, latency, ghost)]
    assert statuses == ["missed", "met", "no data"]
    assert [within_tolerance(["met"], r) for r in (availability, latency, errors, ghost)] == [
        False, True, True, False]  # fmt: skip


def test_slo_status_of_several_slos_from_the_setting(stack: dict[str, Any], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from chaoslib.hypothesis import within_tolerance

    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(
        "slos:\n"
        "  - name: latency\n    objective: 500ms\n    window: 5m\n"
        "    indicator:\n      latency: {metric: http_request_duration_seconds, quantile: 0.95}\n"
        "  - name: strict_latency\n    objective: 1ms\n    window: 5m\n"
        "    indicator:\n      latency: {metric: http_request_duration_seconds, quantile: 0.95}\n"
        "  - name: ghost\n    objective: 99%\n    window: 5m\n"
        "    indicator:\n      ratio: {good: ghost_total, total: ghost_total}\n"
    )  # fmt: skip
    # The SLO file comes from the configuration's slo_file when the argument is left out.
    cfg = {**stack["configuration"], "slo_file": str(slo_file)}
    met = probes.slo_status(names=["latency"], configuration=cfg)
    assert (met["status"], met["met"]) == ("met", True) and [s["name"] for s in met["slos"]] == ["latency"]
    assert met["slos"][0]["window"] == "5m" and met["slos"][0]["value"] is not None

    # One missed SLO misses the lot, whatever the others say; no data alone is no data.
    both = probes.slo_status(names=["latency", "strict_latency", "ghost"], window="1m", configuration=cfg)
    assert [s["status"] for s in both["slos"]] == ["met", "missed", "no data"]
    assert (both["status"], both["met"]) == ("missed", False)
    # The console names the SLOs at fault.
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SLO ")]
    assert any(w.startswith("SLO strict_latency: missed (value ") and "objective <= 0.001" in w
               for w in warned), warned
    assert any(w.startswith("SLO ghost: no data") for w in warned) and not any("SLO latency:" in w
                                                                            for w in warned)
    empty = probes.slo_status(names=["ghost", "latency"], configuration=cfg)
    assert (empty["status"], empty["met"]) == ("no data", None)
    assert [within_tolerance(["met"], r) for r in (met, both, empty)] == [True, False, False]

    # Every name is looked up before Prometheus is asked: a typo fails fast, naming it.
    monkeypatch.setenv("CHAOSLLM_PROMETHEUS_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="no SLO named 'latncy'"):
        probes.slo_status(names=["latency", "latncy"], configuration={"slo_file": str(slo_file)})
    with pytest.raises(InvalidArgument, match="exactly one of 'name'"):
        probes.slo_status(name="latency", names=["latency"], configuration=cfg)
    with pytest.raises(InvalidArgument, match="each SLO once"):
        probes.slo_status(names=["latency", "latency"], configuration=cfg)
    with pytest.raises(InvalidArgument, match="each SLO once"):
        probes.slo_status(names=[], configuration=cfg)
    monkeypatch.delenv("CHAOSLLM_SLO_FILE", raising=False)
    with pytest.raises(ConfigurationError, match="setting 'slo_file' is not set.*CHAOSLLM_SLO_FILE"):
        probes.slo_status(name="latency", configuration=stack["configuration"])


def test_alert_rules_fire_and_are_read_by_alerts_firing(stack: dict[str, Any]) -> None:
    cfg = stack["configuration"]
    launcher.wait_until(
        lambda: probes.alerts_firing("ChaosCausedOutage", configuration=cfg) == 1,
        20, "ChaosCausedOutage to fire",
    )  # fmt: skip
    assert probes.alerts_firing("SlowRecovery", configuration=cfg) == 0
    assert probes.alerts_firing(configuration=cfg) >= 1


def test_query_errors_are_translated(stack: dict[str, Any]) -> None:
    cfg = stack["configuration"]
    with pytest.raises(InvalidArgument, match="returned .* series"):
        probes.query_value("http_requests_total", configuration=cfg)
    with pytest.raises(InvalidArgument, match="could not run query on prometheus 127.0.0.1"):
        probes.query_value("sum(rate(", configuration=cfg)
    with pytest.raises(InvalidArgument, match="not a PromQL range"):
        probes.error_ratio(window="5 minutes", configuration=cfg)


def test_unreachable_prometheus_fails_fast() -> None:
    port = launcher.free_port()
    started = time.monotonic()
    with pytest.raises(TargetUnreachable, match=f"prometheus 127.0.0.1:{port}"):
        probes.query_value("up", prometheus_base_url=f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 3


def _bcrypt(password: str) -> str:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # glibc's bcrypt, which Prometheus's web config expects

    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


def test_basic_auth_from_secrets_against_a_protected_prometheus(tmp_path: Path) -> None:
    try:
        binary = launcher.find_binary("prometheus")
    except launcher.MissingBinary as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 1s\n")
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  chaos: {_bcrypt('s3cret-pw')}\n")
    port = launcher.free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--web.config.file={tmp_path / 'web.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        good = {"prometheus_username": "chaos", "prometheus_password": "s3cret-pw"}
        launcher.wait_until(
            lambda: probes.query_value("vector(1)", url, secrets=good) == 1.0, 30, "prometheus"
        )
        with pytest.raises(ConfigurationError, match="HTTP 401") as refused:
            probes.query_value("vector(1)", url, secrets={**good, "prometheus_password": "wrong"})
        assert "wrong" not in str(refused.value)
        # credentials in the URL work too and never show in messages
        assert probes.query_value("vector(2)", f"http://chaos:s3cret-pw@127.0.0.1:{port}") == 2.0
        with pytest.raises(InvalidArgument) as bad:
            probes.query_value("sum(", f"http://chaos:s3cret-pw@127.0.0.1:{port}")
        assert "s3cret-pw" not in str(bad.value)
    finally:
        launcher.stop_pid(proc.pid, 5, proc)


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if IN_CI:
            pytest.fail("CI=true and promtool is missing")
        pytest.skip("promtool is not installed")
    proc = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 rules found" in proc.stdout + proc.stderr


def test_guard_on_prometheus_and_metrics_control_write_the_journal(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    from tests.chaos_run import run_experiment

    url = stack["configuration"]["prometheus_base_url"]
    # The guard's 10 s rate windows need data from before the run.
    launcher.wait_until(
        lambda: (probes.query_value('count_over_time(app_up{job="app"}[10s])',
                                    configuration=stack["configuration"]) or 0) >= 8,
        30, "prometheus to hold 8 scrapes of the target",
    )  # fmt: skip
    experiment = {
        "title": "guarded by prometheus", "description": "25% errors abort the method",
        "configuration": {"prometheus_base_url": url},
        "method": [{"type": "action", "name": "hold",
                    "provider": {"type": "process", "path": "true"}, "pauses": {"after": 60}}],
        "controls": [
            {"name": "chaosllm-guard",
             "provider": {"type": "python", "module": "chaosllm.controls.guard", "arguments": {
                 "interval": "500ms",
                 "conditions": [{"error_ratio": {"window": "10s"}, "above": "5%"},
                                {"latency_quantile": {"metric": "http_request_duration_seconds",
                                                      "window": "10s"}, "above": "2000ms"}]}}},
            {"name": "chaosllm-metrics",
             "provider": {"type": "python", "module": "chaosllm.controls.metrics", "arguments": {
                 "step": "1s", "before": "5s",
                 "series": [{"name": "error ratio", "unit": "ratio", "threshold": "5%",
                             "error_ratio": {"window": "10s"}},
                            {"name": "up", "query": "up"},
                            {"name": "nothing", "query": "sum(no_such_metric)"}]}}},
        ],
    }  # fmt: skip
    started = time.monotonic()
    proc, journal = run_experiment(experiment, tmp_path)
    assert time.monotonic() - started < 40, proc.stderr
    assert journal["status"] == "interrupted", proc.stderr
    guard = next(e for e in journal["extensions"] if e["name"] == "chaosllm-guard")
    (breach,) = guard["breaches"]
    assert breach["condition"] == "error_ratio > 0.05" and breach["source"] == "prometheus"
    assert breach["observed"] == pytest.approx(0.25, abs=0.05)
    metrics = next(e for e in journal["extensions"] if e["name"] == "chaosllm-metrics")
    assert metrics["window"]["start"] < metrics["window"]["end"]
    series = {s["name"]: s for s in metrics["series"]}
    ratio = series["error ratio"]
    assert ratio["unit"] == "ratio" and ratio["threshold"] == 0.05 and "rate(" in ratio["query"]
    # The window starts at the run's start (the guard ends it within seconds), never before it.
    window_start = datetime.fromisoformat(metrics["window"]["start"]).timestamp()
    assert window_start >= datetime.fromisoformat(journal["start"]).timestamp() - 1.0
    assert ratio["points"] and all(p[0] >= window_start for p in ratio["points"])
    assert all(len(p) == 2 and p[1] == pytest.approx(0.25, abs=0.05) for p in ratio["points"])
    assert series["up"]["points"] and series["up"]["threshold"] is None
    assert series["nothing"]["points"] == []


def test_canary_secrets_never_reach_journal_log_or_audit(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    from chaosllm.controls.approval import sign_approval
    from tests.chaos_run import run_experiment

    canaries = {"CANARY_TOKEN": "canary-token-5f1e", "CANARY_KEY": "canary-key-93ab",
                "CANARY_PASSWORD": "canary-password-77c2", "CANARY_CONF": "canary-conf-0d4a"}
    url = stack["configuration"]["prometheus_base_url"]
    experiment = {
        "title": "leak check", "description": "secrets and configuration hold canaries",
        "configuration": {"prometheus_base_url": url, "environment": "production",
                          "db_password": {"type": "env", "key": "CANARY_CONF"}},
        "secrets": {"prometheus": {
            "prometheus_bearer_token": {"type": "env", "key": "CANARY_TOKEN"},
            "prometheus_password": {"type": "env", "key": "CANARY_PASSWORD"},
            "approval_key": {"type": "env", "key": "CANARY_KEY"}}},
        "method": [
            {"type": "probe", "name": "good-query", "secrets": ["prometheus"],
             "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "query_value",
                          "arguments": {"query": "sum(up)"}}},
            {"type": "probe", "name": "bad-query", "secrets": ["prometheus"],
             "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "query_value",
                          "arguments": {"query": "sum(rate("}}},
            {"type": "action", "name": "hold", "provider": {"type": "process", "path": "true"},
             "pauses": {"after": 60}},
        ],
        "rollbacks": [{"type": "probe", "name": "error-ratio-after", "secrets": ["prometheus"],
                       "provider": {"type": "python", "module": "chaosllm.slo.probes",
                                    "func": "error_ratio", "arguments": {"window": "10s"}}}],
        "controls": [
            {"name": "chaosllm-guard",
             "provider": {"type": "python", "module": "chaosllm.controls.guard", "arguments": {
                 "interval": "500ms", "conditions": [
                     {"error_ratio": {"window": "10s"}, "above": "5%", "min_samples": 2}]}}},
            {"name": "chaosllm-metrics",
             "provider": {"type": "python", "module": "chaosllm.controls.metrics", "arguments": {
                 "series": [{"name": "errors", "error_ratio": {"window": "10s"}}]}}},
            {"name": "chaosllm-audit",
             "provider": {"type": "python", "module": "chaosllm.controls.audit",
                          "arguments": {"path": str(tmp_path / "audit.jsonl")}}},
            {"name": "chaosllm-approval",
             "provider": {"type": "python", "module": "chaosllm.controls.approval",
                          "arguments": {"approval_file": str(tmp_path / "approval.json")}}},
        ],
    }  # fmt: skip
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    # the run's configuration, as chaos run resolves it from the environment
    resolved = {"prometheus_base_url": url, "environment": "production",
                "db_password": canaries["CANARY_CONF"]}  # fmt: skip
    approval = sign_approval(experiment, "alice", "production", expires, canaries["CANARY_KEY"],
                             resolved)  # fmt: skip
    (tmp_path / "approval.json").write_text(json.dumps(approval))
    # the key is the operator's (an approval_key in the secrets is never used, but stays a canary)
    proc, journal = run_experiment(experiment, tmp_path,
                                   env={**canaries, "CHAOSLLM_APPROVAL_KEY": canaries["CANARY_KEY"]})
    assert journal["status"] == "interrupted", proc.stderr
    assert _guard_aborted(journal) and journal["rollbacks"], proc.stderr
    assert "bad-query" in json.dumps(journal["run"])
    texts = {
        "journal": (tmp_path / "journal.json").read_text(),
        "chaostoolkit log": (tmp_path / "chaostoolkit.log").read_text(),
        "console": proc.stdout + proc.stderr,
        "audit log": (tmp_path / "audit.jsonl").read_text(),
    }
    assert "DEBUG" in texts["chaostoolkit log"]
    for where, text in texts.items():
        for name, canary in canaries.items():
            assert canary not in text, f"{name} leaked into the {where}"


def _guard_aborted(journal: dict[str, Any]) -> bool:
    return any(e["name"] == "chaosllm-guard" and e["aborted"] for e in journal["extensions"])
