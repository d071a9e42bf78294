"""Every exported activity that reaches a server refuses to run when its target is not set.

The list is taken from discovery, so an activity added later is covered too:
each is called with plausible arguments, no configuration, no secrets and no
target in the environment, and must fail with the error that names the
setting and the four places it can come from, before touching anything.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

import chaosllm
from chaosllm.errors import ConfigurationError
from chaosllm.faults import Ledger

TARGETS = ("redis_url", "postgres_dsn", "rabbitmq_url", "rabbitmq_management_url", "proxy_api_url",
           "prometheus_base_url")  # fmt: skip
# Plausible values for the required arguments, so that only the missing target can refuse.
ARGUMENTS: dict[str, Any] = {
    "kind": "NetworkChaos", "name": "x", "query": "up", "table": "models", "key": "id",
    "role": "reporting", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "proxy": "p",
    "rate_kbps": 10, "type": "latency", "queue": "q", "pattern": "sandbox:*",
    "metric": "http_server_request_duration_seconds",
}  # fmt: skip
EXTRA: dict[str, dict[str, Any]] = {"metric_during_fault": {"at_most": 1, "query": "up"},
                                     "terminate_backends": {"application_name": "x"},
                                     "slo_status": {"names": ["gateway_error_ratio"]}}
MARKETPLACE_SLOS = Path(__file__).resolve().parents[2] / "experiments" / "slo" / "marketplace.yaml"


def _targeted() -> list[tuple[str, str]]:
    found = set()
    for activity in chaosllm.load_exported_activities():
        func = getattr(importlib.import_module(activity["mod"]), activity["name"])
        # The sandbox's own probes read its database from the state of the sandbox the user
        # started (and fail with no sandbox), never from a default.
        if activity["mod"] == "chaosllm.sandbox.probes":
            continue
        if set(TARGETS) & set(inspect.signature(func).parameters):
            found.add((activity["mod"], activity["name"]))
    return sorted(found)


ACTIVITIES = _targeted()


def test_the_list_covers_every_backend() -> None:
    families = {mod.split(".")[1] for mod, _ in ACTIVITIES}
    assert {"redis", "postgres", "rabbitmq", "proxy", "slo"} <= families, families
    assert len(ACTIVITIES) >= 60


IDS = [f"{mod.split('.', 1)[1]}.{name}" for mod, name in ACTIVITIES]


@pytest.mark.parametrize(("mod", "name"), ACTIVITIES, ids=IDS)
def test_an_activity_with_no_target_is_refused_naming_the_setting_and_its_four_places(
    mod: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in TARGETS:
        monkeypatch.delenv(f"CHAOSLLM_{key.upper()}", raising=False)
    for variable in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
        monkeypatch.delenv(variable, raising=False)  # libpq's own defaults must not be used
    func = getattr(importlib.import_module(mod), name)
    arguments = {**ARGUMENTS, "slo_file": str(MARKETPLACE_SLOS)}
    required = {p: arguments.get(p)
                for p, param in inspect.signature(func).parameters.items()
                if param.default is inspect.Parameter.empty or (name, p) == ("slo_status", "slo_file")}
    assert None not in required.values(), f"no plausible value for {required}"
    with pytest.raises(ConfigurationError) as info:
        func(**required, **EXTRA.get(name, {}))
    message = str(info.value)
    assert any(f"setting '{key}' is not set" in message for key in TARGETS), message
    assert "argument" in message and "secrets" in message and "configuration" in message
    assert "CHAOSLLM_" in message, message
    assert Ledger().entries() == {}
