"""Every control fails closed: malformed arguments and broken files stop a real
``chaos run`` before its first activity, with an ERROR and an audit entry."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

import chaosllm
from chaosllm.controls._failclosed import HOOKS, is_protected
from tests.chaos_run import run_experiment

pytestmark = pytest.mark.integration

PACKAGE = Path(chaosllm.__file__).parent
_HOOK_DEF = re.compile(rf"^def ({'|'.join(HOOKS)})\(", re.M)


def _control_modules() -> list[str]:
    """Every chaosllm module that defines a Chaos Toolkit control hook."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _HOOK_DEF.search(path.read_text(encoding="utf-8")):
            relative = path.relative_to(PACKAGE.parent).with_suffix("")
            found.append(".".join(relative.parts))
    return found


def test_every_hook_of_every_control_is_protected() -> None:
    modules = _control_modules()
    assert {"chaosllm.controls.approval", "chaosllm.controls.audit",
            "chaosllm.controls.blast_radius", "chaosllm.controls.guard",
            "chaosllm.controls.metrics", "chaosllm.controls.rollbacks",
            "chaosllm.sandbox.control"} <= set(modules)  # fmt: skip
    unprotected = []
    for name in modules:
        module = importlib.import_module(name)
        for hook in HOOKS:
            func = getattr(module, hook, None)
            if func is not None and not is_protected(func):
                unprotected.append(f"{name}.{hook}")
        if hasattr(module, "configure_control"):
            assert is_protected(module.before_experiment_control), name
    assert unprotected == []


def _control(module: str, **arguments: Any) -> dict[str, Any]:
    return {"name": module.rsplit(".", 1)[1], "provider": {
        "type": "python", "module": module, "arguments": arguments}}  # fmt: skip


def _experiment(workdir: Path, controls: list[dict[str, Any]],
                configuration: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "title": "fails closed", "description": "a control that cannot work stops the run",
        "configuration": configuration or {},
        "method": [{"type": "action", "name": "touch-marker",
                    "provider": {"type": "process", "path": "touch",
                                 "arguments": str(workdir / "ran")}}],
        "rollbacks": [{"type": "action", "name": "touch-rolled-back",
                       "provider": {"type": "process", "path": "touch",
                                    "arguments": str(workdir / "rolled-back")}}],
        "controls": controls,
    }  # fmt: skip


CRAFTED = ('{"approver":"x","environment":"production","experiment_digest":"sha256:0",'
           '"issued_at":"x","expires_at":"2999-01-01T00:00:00+00:00","signature":"00",'
           '"junk":"\\ud800"}')  # fmt: skip

APPROVAL = "chaosllm.controls.approval"
AUDIT = "chaosllm.controls.audit"
BLAST = "chaosllm.controls.blast_radius"
GUARD = "chaosllm.controls.guard"
METRICS = "chaosllm.controls.metrics"
ROLLBACKS = "chaosllm.controls.rollbacks"
LOAD = "chaosllm.sandbox.control"
REDACT = "chaosllm.controls.redact"
GRAFANA = "chaosllm.controls.grafana"
OTEL = "chaosllm.controls.otel"
SILENCE = "chaosllm.controls.silence"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback
PRODUCTION = {"environment": "production"}
NAMES = {APPROVAL: "chaosllm-approval", AUDIT: "chaosllm-audit", BLAST: "chaosllm-blast-radius",
         GUARD: "chaosllm-guard", METRICS: "chaosllm-metrics", ROLLBACKS: "chaosllm-rollbacks",
         LOAD: "sandbox-load", REDACT: "chaosllm-redact", GRAFANA: "chaosllm-grafana",
         OTEL: "chaosllm-otel", SILENCE: "chaosllm-silence"}  # fmt: skip

# (case, module, control arguments, configuration, file to write as the "broken file", text expected)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str | None, str]] = [
    ("approval-crafted-file", APPROVAL, {"approval_file": "{file}"}, PRODUCTION, CRAFTED, "approval"),
    ("approval-100000-brackets", APPROVAL, {"approval_file": "{file}"}, PRODUCTION, "[" * 100_000,
     "approval"),
    ("approval-protected-not-a-list", APPROVAL, {"protected": 5}, PRODUCTION, None, "approval"),
    ("approval-environment-key-a-list", APPROVAL, {"environment_key": ["environment"]}, PRODUCTION,
     None, "approval"),
    ("audit-path-a-directory", AUDIT, {"path": "{dir}"}, {}, None, "audit"),
    ("audit-path-under-proc", AUDIT, {"path": "/proc/self/chaosllm-audit.jsonl"}, {}, None, "audit"),
    ("audit-path-a-number", AUDIT, {"path": 5}, {}, None, "audit"),
    ("blast-radius-labels-a-list", BLAST, {"policy": {"required_labels": ["chaos-ready"]}}, {}, None,
     "blast_radius"),
    ("blast-radius-policy-a-number", BLAST, {"policy": 5}, {}, None, "blast_radius"),
    ("blast-radius-policy-file-broken", BLAST, {"policy": "${policy}"}, {"policy": "{\"max_count\": "},
     None, "blast_radius"),
    ("guard-quantile-p95-through-a-placeholder", GUARD,
     {"conditions": [{"latency_quantile": {"metric": "m", "quantile": "${q}"}, "above": 1}],
      "prometheus_base_url": "http://127.0.0.1:9"}, {"q": "p95"}, None, "guard"),
    ("guard-conditions-a-number-through-a-placeholder", GUARD, {"conditions": "${c}"}, {"c": 5},
     None, "guard"),
    ("metrics-series-through-a-placeholder", METRICS, {"series": "${s}"}, {"s": 5}, None, "metrics"),
    ("rollbacks-state-dir-a-file", ROLLBACKS, {}, {}, None, "rollbacks"),
    ("sandbox-load-rate-a-list", LOAD, {"rate": ["x"], "warmup": "0s"}, {}, None, "load"),
    ("guard-slo-file-broken", GUARD, {"slo_file": "{file}", "prometheus_base_url": NOWHERE}, {},
     '{"slos": [', "guard"),
    ("metrics-slo-file-broken", METRICS, {"slo_file": "{file}"}, {}, '{"slos": [', "metrics"),
    ("redact-given-arguments", REDACT, {"keep": ["token"]}, {}, None, "redact"),
    ("grafana-no-url", GRAFANA, {}, {}, None, "grafana_url"),
    ("grafana-dashboard-a-number", GRAFANA, {"dashboard_uid": 5, "grafana_url": NOWHERE}, {}, None,
     "dashboard_uid"),
    ("otel-no-url", OTEL, {}, {}, None, "otlp_url"),
    ("silence-matchers-a-number", SILENCE, {"matchers": 5, "alertmanager_url": NOWHERE}, {}, None,
     "matchers"),
    ("silence-alertmanager-unreachable", SILENCE, {"matchers": {"alertname": "X"},
                                                   "alertmanager_url": NOWHERE}, {}, None, "silence"),
    # A misspelt argument would leave its default in force (a guard that ignores missing data).
    ("guard-misspelt-argument", GUARD, {"on_nodata": "abort", "conditions": []}, {}, None,
     "'chaosllm-guard' does not take the argument(s) 'on_nodata'"),
    ("metrics-misspelt-argument", METRICS, {"stpe": "1s", "series": []}, {}, None,
     "'chaosllm-metrics' does not take the argument(s) 'stpe'"),
    ("blast-radius-misspelt-argument", BLAST, {"polcy": {"max_count": 1}}, {}, None,
     "'chaosllm-blast-radius' does not take the argument(s) 'polcy'"),
    ("approval-misspelt-argument", APPROVAL, {"aproval_file": "a.json"}, PRODUCTION, None,
     "'chaosllm-approval' does not take the argument(s) 'aproval_file'"),
    ("audit-misspelt-argument", AUDIT, {"pth": "audit.jsonl"}, {}, None,
     "'chaosllm-audit' does not take the argument(s) 'pth'"),
    ("sandbox-load-misspelt-argument", LOAD, {"rat": 5}, {}, None,
     "'sandbox-load' does not take the argument(s) 'rat'"),
    ("silence-misspelt-argument", SILENCE, {"matcher": {"alertname": "X"}}, {}, None,
     "'chaosllm-silence' does not take the argument(s) 'matcher'"),
]


@pytest.mark.parametrize("case, module, arguments, configuration, broken, expected", CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_a_control_that_cannot_work_stops_the_run_before_the_first_activity(
    tmp_path: Path, case: str, module: str, arguments: dict[str, Any],
    configuration: dict[str, Any], broken: str | None, expected: str,
) -> None:  # fmt: skip
    broken_file = tmp_path / "broken.json"
    if broken is not None:
        broken_file.write_text(broken)
    (tmp_path / "a-directory").mkdir()
    text = json.dumps(arguments).replace("{file}", str(broken_file)).replace(
        "{dir}", str(tmp_path / "a-directory"))  # fmt: skip
    env = {"CHAOSLLM_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "CHAOSLLM_APPROVAL_KEY": "k"}
    if case == "rollbacks-state-dir-a-file":
        (tmp_path / "state-file").write_text("not a directory")
        env["CHAOSLLM_STATE_DIR"] = str(tmp_path / "state-file")
    experiment = _experiment(tmp_path, [_control(module, **json.loads(text))], configuration)
    proc, journal = run_experiment(experiment, tmp_path, env=env, timeout=120)

    assert not (tmp_path / "ran").exists(), proc.stderr
    assert proc.returncode != 0
    if journal:  # refused by chaos run's validation, there is no journal at all
        assert journal["status"] == "interrupted" and journal["run"] == []
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr
    # a set-up failure raised again at the start of the run is said once, not prefixed twice
    assert not re.search(r"(refused the run|failed in \w+): chaosllm control", proc.stderr)
    if case.startswith("audit-"):
        return  # the audit log is what is broken
    if journal:
        entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert entries and {e["event"] for e in entries} <= {"control-failed", "control-refused"}
        assert entries[-1]["control"] == NAMES[module]
        assert entries[-1]["experiment"]["title"] == "fails closed"


def test_an_audit_log_that_breaks_during_the_method_stops_the_run_and_the_rollbacks_still_run(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    experiment = _experiment(tmp_path, [_control(AUDIT, path=str(log))])
    # the first action replaces the log with a directory: the entry after it cannot be written
    experiment["method"] = [
        {"type": "action", "name": "break-the-log",
         "provider": {"type": "process", "path": "sh",
                      "arguments": f"-c 'rm {log} && mkdir {log}'"}},
        *experiment["method"],
    ]  # fmt: skip
    proc, journal = run_experiment(experiment, tmp_path, timeout=120)
    assert journal["status"] == "interrupted", proc.stderr
    assert not (tmp_path / "ran").exists()
    assert (tmp_path / "rolled-back").exists()
    failures = next(e for e in journal["extensions"] if e["name"] == "chaosllm-failclosed")["failures"]
    assert failures[0]["hook"] == "after_activity_control" and "IsADirectoryError" in failures[0]["error"]
    assert "chaosllm control 'chaosllm-audit' failed in after_activity_control" in proc.stderr


def test_a_misspelt_chaosllm_control_stops_the_run_that_chaos_toolkit_would_run_without_it(
    tmp_path: Path,
) -> None:
    # Chaos Toolkit only warns about a control module it cannot import, and runs without it.
    controls = [_control(ROLLBACKS), _control("chaosllm.controls.aproval", approval_file="a.json")]
    proc, journal = run_experiment(_experiment(tmp_path, controls, PRODUCTION), tmp_path,
                                   env={"CHAOSLLM_AUDIT_LOG": str(tmp_path / "audit.jsonl")})  # fmt: skip
    assert not (tmp_path / "ran").exists(), proc.stderr
    assert journal["status"] == "interrupted" and journal["run"] == []
    assert ("chaosllm control module(s) that cannot be imported, which Chaos Toolkit would skip: "
            "chaosllm.controls.aproval (ModuleNotFoundError") in proc.stderr  # fmt: skip
    entry = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert entry["event"] == "control-refused" and "chaosllm.controls.aproval" in entry["error"]


def test_a_misspelt_argument_also_refuses_a_run_that_skipped_validation() -> None:
    from chaoslib.exceptions import InterruptExecution, InvalidActivity

    from chaosllm.controls import guard, metrics

    with pytest.raises(InvalidActivity, match="does not take the argument.*'intervall'.*takes: "
                                              "conditions, for, interval"):  # fmt: skip
        guard.validate_control({"provider": {"arguments": {"intervall": "1s"}}})
    experiment = {"title": "t", "method": []}
    for control, arguments in ((guard, {"intervall": "1s"}), (metrics, {"before": "1s", "aftr": "5s"})):
        control.configure_control(configuration={}, secrets={}, experiment=experiment, **arguments)
        with pytest.raises(InterruptExecution, match="does not take the argument"):
            control.before_experiment_control(experiment)
        getattr(control, "cleanup_control", lambda: None)()
