"""blast_radius_from: one policy, found wherever it is given, in a documented order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chaoslib.control import get_global_controls, set_global_controls
from chaoslib.settings import loaded_settings

from chaosllm.blast_radius import RUN_KEY, blast_radius_from, run_scoped
from chaosllm.errors import ConfigurationError

Declare = Callable[[dict[str, Any]], None]


def _control(policy: Any) -> dict[str, Any]:
    return {"name": "operator-radius",
            "provider": {"type": "python", "module": "chaosllm.controls.blast_radius",
                         "arguments": {"policy": policy}}}  # fmt: skip


@pytest.fixture
def settings_file() -> Iterator[Callable[[dict[str, Any]], None]]:
    """Declare a control as if the settings file did; the loaded controls are restored afterwards."""
    before = get_global_controls()
    set_global_controls([])

    def declare(control: dict[str, Any]) -> None:
        set_global_controls([*get_global_controls(), control])
        loaded_settings.set({"controls": {c["name"]: c for c in get_global_controls()}})

    token = loaded_settings.set({})
    yield declare
    loaded_settings.reset(token)
    set_global_controls(before)


def test_the_first_place_that_gives_a_policy_wins(
    monkeypatch: pytest.MonkeyPatch, settings_file: Declare
) -> None:
    def found(**kwargs: Any) -> tuple[Any, str]:
        policy = blast_radius_from(**kwargs)
        return policy.document["max_count"], policy.source

    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", json.dumps({"max_count": 6}))
    assert found() == (6, "$CHAOSLLM_BLAST_RADIUS")
    configuration: dict[str, Any] = {"blast_radius": {"max_count": 5}}
    assert found(configuration=configuration) == (5, "configuration key blast_radius")
    secrets = {"blast_radius": {"max_count": 4}}
    assert found(configuration=configuration, secrets=secrets) == (4, "secrets key blast_radius")
    settings_file(_control({"max_count": 3}))
    settings = "the policy argument of control 'operator-radius' in the Chaos Toolkit settings file"
    assert found(configuration=configuration, secrets=secrets) == (3, settings)
    configuration[RUN_KEY] = {"max_count": 2}
    assert found(configuration=configuration, secrets=secrets) == (
        2, "the blast-radius control's policy argument")
    assert found(policy={"max_count": 1}, configuration=configuration, secrets=secrets) == (
        1, "the control's policy argument")


def test_nothing_given_is_the_empty_policy(monkeypatch: pytest.MonkeyPatch,
                                           settings_file: Declare) -> None:
    monkeypatch.delenv("CHAOSLLM_BLAST_RADIUS", raising=False)
    found = blast_radius_from(None, {"blast_radius": ""}, {})
    assert (dict(found.document), found.source) == ({}, "not set")


def test_a_malformed_policy_is_never_skipped_for_a_later_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", json.dumps({"max_count": 1}))
    with pytest.raises(ConfigurationError, match="from configuration key blast_radius .*'max_percent'"):
        blast_radius_from(None, {"blast_radius": {"max_percent": "50"}})


def test_a_malformed_settings_file_policy_names_the_control(settings_file: Declare,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_BLAST_RADIUS", raising=False)
    settings_file(_control({"redis": {"max_keys": "10"}}))
    with pytest.raises(ConfigurationError, match=(
            r"from the policy argument of control 'operator-radius' in the Chaos Toolkit settings file "
            r".*field 'redis.max_keys' must be a whole number >= 0, such as 1000, got '10'")):
        blast_radius_from()


def test_the_control_hands_its_policy_to_the_run() -> None:
    configuration: dict[str, Any] = {"blast_radius": {"max_count": 9}}
    assert run_scoped('{"max_count": 2}', configuration).document == {"max_count": 2}
    assert configuration[RUN_KEY] == {"max_count": 2}
    assert blast_radius_from(None, configuration.copy()).document == {"max_count": 2}
    run_scoped({"max_count": 2}, configuration)  # the same policy twice is one policy
    with pytest.raises(ConfigurationError, match="two blast-radius controls of this run give different"):
        run_scoped({"max_count": 3}, configuration)
    with pytest.raises(ConfigurationError, match="cannot reach the actions: the run has no configuration"):
        run_scoped({"max_count": 2}, None)


@pytest.mark.parametrize(("policy", "key"), [
    ({"max_percent": float("nan")}, "max_percent"),
    ({"max_percent": float("-inf")}, "max_percent"),
    ({"redis": {"max_keyspace_percent": float("nan")}}, "redis.max_keyspace_percent"),
    ({"rabbitmq": {"max_messages_dropped": float("inf")}}, "rabbitmq.max_messages_dropped"),
])  # fmt: skip
def test_nan_and_infinities_are_refused_with_the_key_named(policy: Any, key: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"field '{key}' must be a finite number"):
        blast_radius_from(policy)
