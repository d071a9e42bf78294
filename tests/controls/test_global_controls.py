"""chaosllm's controls declared for every run (the Chaos Toolkit settings file's
``controls``, ``chaos run --control-file``), under a real ``chaos run``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.sandbox.app import launcher
from chaosllm.slo.probes import query_value
from tests.chaos_run import run_experiment
from tests.target import Target, Traffic

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "experiments" / "settings" / "chaosllm-controls.yaml"
UNREACHABLE = "http://127.0.0.1:1"  # nothing listens: a query fails at once


def _provider(module: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "python", "module": f"chaosllm.controls.{module}", "arguments": arguments}


def _settings(workdir: Path, **controls: dict[str, Any]) -> None:
    """Write the run's settings file with these controls (name -> provider)."""
    declared = {name.replace("_", "-"): {"provider": p} for name, p in controls.items()}
    (workdir / "settings.yaml").write_text(yaml.safe_dump({"controls": declared}))


def _experiment(workdir: Path, pause: float, **extra: Any) -> dict[str, Any]:
    """An experiment with no controls of its own: one action, a pause, a rollback."""
    return {
        "title": "every run", "description": "controls come from the settings",
        "method": [{"type": "action", "name": "touch",
                    "provider": {"type": "process", "path": "touch",
                                 "arguments": str(workdir / "ran")},
                    "pauses": {"after": pause}}],
        "rollbacks": [{"type": "action", "name": "undo",
                       "provider": {"type": "process", "path": "touch",
                                    "arguments": str(workdir / "rolled-back")}}],
        **extra,
    }  # fmt: skip


def _extension(journal: dict[str, Any], name: str) -> dict[str, Any]:
    entries = [e for e in journal.get("extensions", []) if e.get("name") == name]
    assert len(entries) == 1, journal.get("extensions")
    return entries[0]


def _slo_file(workdir: Path) -> Path:
    """The test target's error ratio as an SLO, with the guard and metrics lists naming it."""
    path = workdir / "slos.yaml"
    path.write_text(yaml.safe_dump({
        "slos": [{"name": "errors", "objective": "<1%", "window": "5m", "indicator": {"query": (
            '(sum(rate(http_requests_total{status=~"5.."}[$window])) or vector(0))'
            " / sum(rate(http_requests_total[$window]))")}}],
        "guard": [{"name": "error ratio above 5%", "slo": "errors", "window": "3s", "above": "5%"}],
        "metrics": [{"name": "error ratio", "slo": "errors", "window": "3s"},
                    {"name": "up", "query": "up"}],
    }))  # fmt: skip
    return path


def _prometheus(factory: Callable[..., launcher.Server], target: Target) -> str:
    server = factory(targets={"app": [target.address]})
    launcher.wait_until(
        lambda: (query_value("sum(rate(http_requests_total[3s]))", server.url) or 0) > 0, 30,
        "prometheus to hold two scrapes of the target")  # fmt: skip
    return server.url


def _later(seconds: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


def test_a_settings_file_guard_takes_the_slo_files_guard_list_and_aborts_on_a_breach(
    tmp_path: Path, prometheus_factory: Callable[..., launcher.Server],
    target: Target, traffic: Traffic,
) -> None:  # fmt: skip
    url = _prometheus(prometheus_factory, target)
    # no conditions: the guard reads the 'guard' list of the SLO file the configuration names
    _settings(tmp_path, chaosllm_guard=_provider("guard", interval="250ms"))
    experiment = _experiment(tmp_path, 60, configuration={
        "prometheus_base_url": url, "slo_file": str(_slo_file(tmp_path))})  # fmt: skip
    _later(1.0, lambda: setattr(traffic, "error_share", 0.5))
    started = time.monotonic()
    proc, journal = run_experiment(experiment, tmp_path)
    assert time.monotonic() - started < 40, "the 60 s pause was not interrupted"
    assert journal["status"] == "interrupted", proc.stderr
    guard = _extension(journal, "chaosllm-guard")
    assert guard["aborted"] is True and guard["conditions"][0]["slo"] == "errors"
    (breach,) = guard["breaches"]
    assert breach["condition"] == "error ratio above 5% > 0.05" and breach["source"] == "prometheus"
    assert breach["observed"] > 0.05
    assert (tmp_path / "ran").exists() and (tmp_path / "rolled-back").exists()
    assert guard["rollbacks_run_by"] == "chaosllm-guard"


def test_a_control_file_metrics_control_records_the_slo_files_series(
    tmp_path: Path, prometheus_factory: Callable[..., launcher.Server],
    target: Target, traffic: Traffic,
) -> None:  # fmt: skip
    traffic.error_share = 0.2
    url = _prometheus(prometheus_factory, target)
    control_file = tmp_path / "controls.yaml"
    control_file.write_text(yaml.safe_dump({"chaosllm-metrics": {"provider": _provider(
        "metrics", step="1s", prometheus_base_url=url)}}))  # fmt: skip
    proc, journal = run_experiment(
        _experiment(tmp_path, 4), tmp_path, env={"CHAOSLLM_SLO_FILE": str(_slo_file(tmp_path))},
        extra_args=("--control-file", str(control_file)),
    )  # fmt: skip
    assert journal["status"] == "completed", proc.stderr
    series = {s["name"]: s for s in _extension(journal, "chaosllm-metrics")["series"]}
    assert set(series) == {"error ratio", "up"}
    ratio = series["error ratio"]
    # the SLO's objective and unit come with its series, and the points are what the target served
    assert ratio["threshold"] == 0.01 and ratio["unit"] == "ratio" and "[3s]" in ratio["query"]
    assert len(ratio["points"]) >= 3
    assert all(p[1] == pytest.approx(0.2, abs=0.05) for p in ratio["points"])
    assert series["up"]["points"] and series["up"]["points"][-1][1] == 1.0


MALFORMED = [
    ("guard-nan-threshold", {"chaosllm-guard": _provider("guard", conditions=[
        {"query": "up", "above": float("nan")}])},
     "the global control 'chaosllm-guard' (chaosllm.controls.guard) is malformed: guard "
     "condition 1: field 'above' must be a finite number, got nan"),
    ("guard-unknown-quantile", {"chaosllm-guard": _provider("guard", conditions=[
        {"latency_quantile": {"metric": "m", "quantile": "p95"}, "above": "1s"}])},
     "guard condition 1: field 'latency_quantile.quantile'"),
    ("guard-slo-file-missing", {"chaosllm-guard": _provider("guard", slo_file="/nonexistent.yaml")},
     "could not read SLO file /nonexistent.yaml"),
    ("metrics-no-series-nor-slo-file", {"chaosllm-metrics": _provider("metrics")},
     "chaosllm metrics refused the experiment: metrics: 'series' must be a non-empty list"),
    ("rollbacks-with-arguments", {"chaosllm-rollbacks": _provider("rollbacks", undo=True)},
     "chaosllm rollbacks takes no arguments, got ['undo']"),
    # Chaos Toolkit drops this one before chaosllm's code runs; the guard beside it refuses the run
    ("redact-arguments-not-a-mapping", {
        "chaosllm-guard": _provider("guard", conditions=[{"query": "up", "above": 1}]),
        "chaosllm-redact": {"type": "python", "module": "chaosllm.controls.redact", "arguments": None}},
     "left out of the run: 'chaosllm-redact' (chaosllm.controls.redact): its provider's "
     "'arguments' must be a mapping, got NoneType"),
]  # fmt: skip


@pytest.mark.parametrize("case, providers, expected", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_a_malformed_global_control_stops_the_run_before_the_first_activity(
    tmp_path: Path, case: str, providers: dict[str, Any], expected: str
) -> None:
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(
        {"controls": {name: {"provider": p} for name, p in providers.items()}}))  # fmt: skip
    proc, journal = run_experiment(_experiment(tmp_path, 0), tmp_path,
                                   env={"CHAOSLLM_PROMETHEUS_BASE_URL": UNREACHABLE})  # fmt: skip
    assert not (tmp_path / "ran").exists(), proc.stderr
    assert proc.returncode != 0
    assert journal["status"] == "interrupted" and journal["run"] == []
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    failures = _extension(journal, "chaosllm-failclosed")["failures"]
    assert failures and expected in failures[-1]["error"]


def test_a_control_declared_in_the_experiment_and_globally_runs_once_with_the_experiments_arguments(
    tmp_path: Path, target: Target,
) -> None:  # fmt: skip
    # The global guard would abort at its first sample (app_up is 1); the experiment's never does.
    breaching = _provider("guard", interval="200ms", conditions=[
        {"scrape": target.url, "metric": "app_up", "above": 0.5}])  # fmt: skip
    calm = _provider("guard", interval="200ms", conditions=[
        {"scrape": target.url.replace("://", "://viewer:pw-9c1d7e@"), "metric": "app_up",
         "below": 0.5}])  # fmt: skip
    _settings(tmp_path, chaosllm_guard=breaching,
              chaosllm_metrics=_provider("metrics", series=[{"name": "global", "query": "up"}]),
              chaosllm_redact={"type": "python", "module": "chaosllm.controls.redact"})
    experiment = _experiment(tmp_path, 2, controls=[
        {"name": "my-guard", "provider": calm},
        {"name": "my-metrics", "provider": _provider("metrics", series=[{"name": "mine", "query": "up"}])},
    ], configuration={"prometheus_base_url": UNREACHABLE})  # fmt: skip
    proc, journal = run_experiment(experiment, tmp_path)
    assert journal["status"] == "completed", proc.stderr
    guard = _extension(journal, "chaosllm-guard")
    assert guard["aborted"] is False and guard["samples"] >= 3
    assert guard["conditions"][0]["below"] == 0.5
    assert [s["name"] for s in _extension(journal, "chaosllm-metrics")["series"]] == ["mine"]
    log = (tmp_path / "chaostoolkit.log").read_text()
    for name, module in (("chaosllm-guard", "chaosllm.controls.guard"),
                         ("chaosllm-metrics", "chaosllm.controls.metrics")):  # fmt: skip
        assert (f"the global control '{name}' ({module}) is left out of this run: the experiment's "
                f"declaration of {module} is used instead") in log  # fmt: skip
    # The settings file's redact runs before the experiment's controls end the experiment, and
    # still masks the password in the guard's record, which the experiment's guard wrote after it.
    text = json.dumps(journal)
    assert "pw-9c1d7e" not in text and "viewer:***@" in text


def test_a_later_control_file_declaration_replaces_the_settings_files(tmp_path: Path) -> None:
    _settings(tmp_path, chaosllm_metrics=_provider(
        "metrics", series=[{"name": "from settings", "query": "up"}]))  # fmt: skip
    control_file = tmp_path / "controls.yaml"
    control_file.write_text(yaml.safe_dump({"chaosllm-metrics-file": {"provider": _provider(
        "metrics", series=[{"name": "from the control file", "query": "up"}])}}))  # fmt: skip
    proc, journal = run_experiment(
        _experiment(tmp_path, 0, configuration={"prometheus_base_url": UNREACHABLE}), tmp_path,
        extra_args=("--control-file", str(control_file)),
    )  # fmt: skip
    assert journal["status"] == "completed", proc.stderr
    series = _extension(journal, "chaosllm-metrics")["series"]
    assert [s["name"] for s in series] == ["from the control file"]


def test_the_shipped_sample_is_a_control_file_of_valid_chaosllm_controls() -> None:
    from chaosllm.controls._global import check_declaration

    declared = yaml.safe_load(SAMPLE.read_text())
    assert {c["provider"]["module"] for c in declared.values()} == {
        "chaosllm.controls.guard", "chaosllm.controls.metrics", "chaosllm.controls.rollbacks",
        "chaosllm.controls.redact"}  # fmt: skip
    for name, control in declared.items():
        check_declaration({**control, "name": name})


K8S_CONTROLS = ROOT / "experiments" / "settings" / "k8s-controls.yaml"


def _blast_radius_only(workdir: Path, slo_file: Path) -> dict[str, Any]:
    """A harmless experiment declaring only the blast-radius control, as the Kubernetes scenarios do."""
    return _experiment(workdir, 0, configuration={"prometheus_base_url": UNREACHABLE,
                                                  "slo_file": str(slo_file)},
                       controls=[{"name": "blast-radius", "provider": {
                           "type": "python", "module": "chaosllm.controls.blast_radius"}}])  # fmt: skip


def test_an_slo_file_guard_list_without_a_guard_control_refuses_the_run_before_its_first_activity(
    tmp_path: Path,
) -> None:
    slo_file = _slo_file(tmp_path)
    proc, journal = run_experiment(_blast_radius_only(tmp_path, slo_file), tmp_path)
    assert not (tmp_path / "ran").exists(), proc.stderr
    assert proc.returncode != 0
    assert journal["status"] == "interrupted" and journal["run"] == []
    expected = (f"experiment 'every run': its SLO file {slo_file} declares guard conditions, but no "
                f"guard control runs: add --control-file experiments/settings/k8s-controls.yaml (or "
                f"declare chaosllm.controls.guard in the experiment)")  # fmt: skip
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    failures = _extension(journal, "chaosllm-failclosed")["failures"]
    assert [f["control"] for f in failures] == ["chaosllm-blast-radius"]
    assert expected in failures[0]["error"]


def test_the_k8s_control_file_brings_the_guard_and_the_run_goes_ahead(tmp_path: Path) -> None:
    proc, journal = run_experiment(_blast_radius_only(tmp_path, _slo_file(tmp_path)), tmp_path,
                                   extra_args=("--control-file", str(K8S_CONTROLS)))  # fmt: skip
    assert journal["status"] == "completed", proc.stderr
    assert (tmp_path / "ran").exists() and "declares guard conditions" not in proc.stderr
    guard = _extension(journal, "chaosllm-guard")
    assert guard["aborted"] is False and guard["conditions"][0]["slo"] == "errors"
    assert [s["name"] for s in _extension(journal, "chaosllm-metrics")["series"]] == ["error ratio", "up"]


def test_an_slo_file_without_a_guard_list_needs_no_guard(tmp_path: Path) -> None:
    slo_file = _slo_file(tmp_path)
    data = yaml.safe_load(slo_file.read_text())
    del data["guard"]
    slo_file.write_text(yaml.safe_dump(data))
    proc, journal = run_experiment(_blast_radius_only(tmp_path, slo_file), tmp_path)
    assert journal["status"] == "completed", proc.stderr
    assert (tmp_path / "ran").exists() and (tmp_path / "rolled-back").exists()
    assert "chaosllm-failclosed" not in {e.get("name") for e in journal.get("extensions", [])}
