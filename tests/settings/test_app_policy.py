"""The application blast-radius policy: its format, its rules and the control's static check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm.app_policy import AppPolicy, Scope, app_policy_from, check_target, violations
from chaosllm.controls.blast_radius import before_experiment_control, configure_control
from chaosllm.errors import ConfigurationError, PolicyViolation


@pytest.mark.parametrize(("raw", "expected"), [
    ({"redis": {"max_keys": -1}}, r"field 'redis.max_keys' must be a whole number >= 0.*got -1"),
    ({"redis": {"allow_maxmemory": "yes"}}, r"field 'redis.allow_maxmemory' must be true or false"),
    ({"rabbitmq": {"queue": ["x"]}}, r"field 'rabbitmq' has unknown key\(s\) 'queue'"),
    ({"postgres": {"tables": "orders"}}, r"field 'postgres.tables' must be a list of glob patterns"),
    ({"redis": {"max_keyspace_percent": 150}}, r"field 'redis.max_keyspace_percent' must be a percentage"),
])  # fmt: skip
def test_malformed_policy_names_the_source_and_the_key(raw: Any, expected: str) -> None:
    with pytest.raises(ConfigurationError, match="blast_radius from configuration key blast_radius") as info:
        app_policy_from(None, {"blast_radius": raw})
    assert re.search(expected, str(info.value)), str(info.value)
    configure_control(configuration={"blast_radius": raw})  # kept, not raised: the run stops at its start
    with pytest.raises(InterruptExecution, match="redis|rabbitmq|postgres"):
        before_experiment_control({}, configuration={"blast_radius": raw})


def test_environment_policy_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", '{"proxy": {"proxies": ["sandbox-*"]}}')
    policy = app_policy_from()
    assert policy.source == "$CHAOSLLM_BLAST_RADIUS" and policy.rules("proxy") == {"proxies": ["sandbox-*"]}
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", "{nope")
    with pytest.raises(ConfigurationError, match=r"from \$CHAOSLLM_BLAST_RADIUS is not valid JSON"):
        app_policy_from()


def test_targets_match_by_host_port_or_url() -> None:
    policy = AppPolicy({"redis": {"allowed_targets": ["127.0.0.1:6390", "redis://cache-*:6379/*"]}})
    assert violations("redis", Scope(target="redis://:pw@localhost:6390/0"), policy) == []
    assert violations("redis", Scope(target="redis://cache-a:6379/2"), policy) == []
    (found,) = violations("redis", Scope(target="redis://other:6379/0"), policy)
    assert found.startswith("target other:6379 is not in blast_radius.redis.allowed_targets")
    forbidding = AppPolicy({"redis": {"forbidden_targets": ["127.0.0.1:*"]}})
    assert violations("redis", Scope(target="redis://localhost:6390/0"), forbidding)


def test_maxmemory_needs_the_policy_to_allow_it() -> None:
    assert violations("redis", Scope(maxmemory=True), AppPolicy())
    assert violations("redis", Scope(maxmemory=True), AppPolicy({"redis": {"allow_maxmemory": True}})) == []


def test_refusal_names_the_action_the_target_the_rule_and_the_setting() -> None:
    config = {"blast_radius": {"rabbitmq": {"queues": ["sandbox.*"]}}}
    with pytest.raises(PolicyViolation) as info:
        check_target("rabbitmq", "purge_queue", "amqp://u:pw@mq:5672/%2F", configuration=config,
                     vhost="/", queue="orders")  # fmt: skip
    assert str(info.value) == (
        "blast-radius policy refused purge_queue on rabbitmq mq:5672: queue 'orders' is not in "
        "blast_radius.rabbitmq.queues [sandbox.*] (setting blast_radius: configuration key blast_radius)"
    )


def _experiment(module: str, func: str, **arguments: Any) -> dict[str, Any]:
    return {"method": [{"type": "action", "name": "the-fault",
                        "provider": {"type": "python", "module": module, "func": func,
                                     "arguments": arguments}}]}  # fmt: skip


def test_control_checks_application_actions_before_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_REDIS_URL", raising=False)
    config = {"redis_url": "redis://127.0.0.1:6390/0",
              "blast_radius": {"redis": {"key_patterns": ["sandbox:*"]}}}
    ok = _experiment("chaosllm.redis.actions", "flush_keys", pattern="sandbox:*")
    before_experiment_control(ok, configuration=config)
    bad = _experiment("chaosllm.redis.actions", "flush_keys", pattern="${pattern}")
    with pytest.raises(InterruptExecution, match="activity 'the-fault' refused: .*key_patterns"):
        before_experiment_control(bad, configuration={**config, "pattern": "users:*"})
    memory = _experiment("chaosllm.redis.actions", "limit_memory", maxmemory="8mb")
    with pytest.raises(InterruptExecution, match="allow_maxmemory"):
        before_experiment_control(memory, configuration=config)
    # A rollback is never refused; an unset target is, with the action's own message.
    before_experiment_control(_experiment("chaosllm.redis.actions", "restore_memory"), configuration=config)
    with pytest.raises(InterruptExecution, match="redis_url.*CHAOSLLM_REDIS_URL"):
        before_experiment_control(ok, configuration={})
    process = _experiment("chaosllm.process.actions", "kill_processes", pattern="postgres")
    with pytest.raises(InterruptExecution, match="process.patterns"):
        before_experiment_control(process, configuration={"blast_radius": {"process": {"patterns": ["x"]}}})


@pytest.mark.parametrize(("func", "arguments"), [
    ("inject_http_status", {"proxy": "llm-primary", "status": 429}),
    ("create_proxy", {"name": "llm-primary", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}),
    ("delete_proxy", {"name": "llm-primary"}),
    ("reset_proxies", {}),
])  # fmt: skip
def test_the_control_covers_every_proxy_change(func: str, arguments: dict[str, Any]) -> None:
    config = {"proxy_api_url": "http://127.0.0.1:8474", "blast_radius": {"proxy": {"proxies": ["sandbox-*"]}}}
    experiment = _experiment("chaosllm.proxy.actions", func, **arguments)
    with pytest.raises(InterruptExecution, match="refused: .*blast_radius.proxy.proxies"):
        before_experiment_control(experiment, configuration=config)


def test_the_control_reads_the_secrets_the_action_will_get(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_REDIS_URL", raising=False)
    secrets = {"cache": {"redis_url": "redis://127.0.0.1:6390/0",
                         "blast_radius": {"redis": {"key_patterns": ["sandbox:*"]}}}}  # fmt: skip
    experiment = _experiment("chaosllm.redis.actions", "flush_keys", pattern="users:*")
    experiment["method"][0]["provider"]["secrets"] = ["cache"]
    with pytest.raises(InterruptExecution, match="key_patterns .*secrets key blast_radius"):
        before_experiment_control(experiment, configuration={}, secrets=secrets)
    # An activity that does not declare the scope gets no secrets: neither its target nor the policy.
    del experiment["method"][0]["provider"]["secrets"]
    with pytest.raises(InterruptExecution, match="redis_url.*CHAOSLLM_REDIS_URL"):
        before_experiment_control(experiment, configuration={}, secrets=secrets)
