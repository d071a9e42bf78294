"""A real Alertmanager, fed by a real Prometheus that loads deploy/prometheus/chaos-alerts.yml:
the outage alert arrives, the probe and tolerance see it, and the silence
control silences it for a run only (also when the run is killed)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm.alertmanager.probes import alertmanager_alerts
from chaosllm.controls import silence
from chaosllm.errors import ChaosLLMError
from chaosllm.faults import Ledger, cleanup
from chaosllm.sandbox.app import launcher
from chaosllm.sandbox.app.alerting import start_alertmanager
from chaosllm.sandbox.app.launcher import wait_until
from chaosllm.slo.tolerances import no_alerts
from tests.conftest import _start
from tests.target import Traffic

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "chaos-alerts.yml"
OUTAGE = {"alertname": "ChaosCausedOutage"}


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launcher.Server]:
    server = _start(start_alertmanager, tmp_path_factory.mktemp("alertmanager"))
    yield server
    server.stop()


@pytest.fixture
def outage(alertmanager: launcher.Server, traffic: Traffic,
           prometheus_factory: Callable[..., launcher.Server]) -> str:
    """Prometheus sends ChaosCausedOutage (10 % errors on a private target) to Alertmanager."""
    traffic.error_share = 0.10
    prometheus_factory(targets={"app": [traffic.target.address]}, rule_files=[str(RULES)],
                       alertmanager=f"127.0.0.1:{alertmanager.port}")
    wait_until(lambda: alertmanager_alerts(OUTAGE, alertmanager_url=alertmanager.url)["count"] == 1,
               60, "the outage alert in Alertmanager")
    return alertmanager.url


def _silence(url: str, silence_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/v2/silence/{silence_id}", timeout=5) as resp:
        return dict(json.load(resp))


def test_the_outage_alert_arrives_and_the_tolerance_sees_it(outage: str) -> None:
    found = alertmanager_alerts(OUTAGE, alertmanager_url=outage)
    alert = found["alerts"][0]
    assert alert["labels"]["severity"] == "critical" and alert["labels"]["during_chaos"] == "true"
    assert no_alerts(found, severity="critical") is False
    assert no_alerts(found, severity="warning") is True
    assert alertmanager_alerts({"alertname": "SlowRecovery"}, alertmanager_url=outage)["count"] == 0


def test_the_silence_control_silences_for_the_run_and_expires_at_its_end(outage: str) -> None:
    experiment = {"title": "cascading failure"}
    silence.before_experiment_control(experiment, matchers=OUTAGE, max_duration="10m",
                                      alertmanager_url=outage)  # fmt: skip
    [(key, entry)] = Ledger().entries().items()
    silence_id = entry["state"]["silence_id"]
    created = _silence(outage, silence_id)
    assert created["status"]["state"] == "active"
    assert created["comment"] == "chaos experiment: cascading failure"
    assert created["createdBy"].startswith("chaosllm (")
    wait_until(lambda: alertmanager_alerts(OUTAGE, alertmanager_url=outage)["alerts"][0]["silenced_by"]
               == [silence_id], 10, "the alert silenced")  # fmt: skip
    assert alertmanager_alerts(OUTAGE, include_silenced=False, alertmanager_url=outage)["count"] == 0
    silence.after_experiment_control(experiment, state={"status": "completed"})
    assert _silence(outage, silence_id)["status"]["state"] == "expired"
    assert Ledger().entries() == {}
    silence.after_experiment_control(experiment)  # idempotent: nothing left to expire


def test_a_killed_run_leaves_a_silence_that_cleanup_expires(outage: str) -> None:
    silence.before_experiment_control({"title": "killed"}, matchers=OUTAGE,
                                      alertmanager_url=outage)  # fmt: skip
    [entry] = Ledger().entries().values()
    silence._active.clear()  # the run is gone: only the ledger knows
    assert [r["id"] for r in cleanup()] and Ledger().entries() == {}
    assert _silence(outage, entry["state"]["silence_id"])["status"]["state"] == "expired"


@pytest.mark.parametrize("matchers", [None, {}, {"alertname": 5}, ["alertname"], {"bad name": "x"}])
def test_bad_matchers_stop_the_run_and_create_nothing(alertmanager: launcher.Server,
                                                      matchers: Any) -> None:
    with urllib.request.urlopen(f"{alertmanager.url}/api/v2/silences", timeout=5) as resp:
        before = len(json.load(resp))
    with pytest.raises(InterruptExecution, match="matchers"):
        silence.before_experiment_control({"title": "t"}, matchers=matchers,
                                          alertmanager_url=alertmanager.url)  # fmt: skip
    with urllib.request.urlopen(f"{alertmanager.url}/api/v2/silences", timeout=5) as resp:
        assert len(json.load(resp)) == before
    assert Ledger().entries() == {}


def test_credentials_in_the_url_never_show(alertmanager: launcher.Server) -> None:
    url = alertmanager.url.replace("http://", "http://admin:s3cr3t@") + "/nowhere"
    with pytest.raises(ChaosLLMError) as info:
        alertmanager_alerts(OUTAGE, alertmanager_url=url)
    assert "s3cr3t" not in str(info.value) and "***" in str(info.value)


def test_no_alertmanager_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_ALERTMANAGER_URL", raising=False)
    with pytest.raises(ChaosLLMError, match="alertmanager_url"):
        alertmanager_alerts(OUTAGE)
