"""No implicit target, the application blast-radius policy and the dry run, on a private RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from chaosllm.errors import ConfigurationError, PolicyViolation
from chaosllm.faults import Ledger
from chaosllm.rabbitmq import actions, probes
from chaosllm.sandbox.app import launcher


@pytest.fixture
def broker(rabbitmq_server: launcher.Server) -> Iterator[dict[str, str]]:
    """The broker's settings, and a queue holding 20 messages."""
    queue = f"safety-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_server.url))
    channel = connection.channel()
    channel.queue_declare(queue)
    for i in range(20):
        channel.basic_publish("", queue, f"m{i}".encode())
    connection.close()
    yield {"rabbitmq_url": rabbitmq_server.url,
           "rabbitmq_management_url": rabbitmq_server.extra["management_url"], "queue": queue}
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_server.url))
    connection.channel().queue_delete(queue)
    connection.close()


def _depth(broker: dict[str, str]) -> int:
    return int(probes.queue_depth(broker["queue"], rabbitmq_url=broker["rabbitmq_url"]))


def _config(broker: dict[str, str], **rules: Any) -> dict[str, Any]:
    settings = {k: v for k, v in broker.items() if k != "queue"}
    return {**settings, "blast_radius": {"rabbitmq": rules}}


@pytest.mark.parametrize(("call", "setting"), [
    (lambda q: actions.purge_queue(q), "rabbitmq_url"),
    (lambda q: actions.drop_messages(q), "rabbitmq_url"),
    (lambda q: actions.flood_queue(q, count=5), "rabbitmq_url"),
    (lambda q: probes.queue_depth(q), "rabbitmq_url"),
    (lambda q: probes.is_available(), "rabbitmq_url"),
])  # fmt: skip
def test_no_target_configured_is_refused_and_changes_nothing(
    broker: dict[str, str], monkeypatch: pytest.MonkeyPatch, call: Any, setting: str
) -> None:
    monkeypatch.delenv("CHAOSLLM_RABBITMQ_URL", raising=False)
    with pytest.raises(ConfigurationError, match=f"'{setting}'.*CHAOSLLM_{setting.upper()}"):
        call(broker["queue"])
    assert _depth(broker) == 20


def test_the_management_url_is_required_where_it_is_used(
    broker: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSLLM_RABBITMQ_MANAGEMENT_URL", raising=False)
    with pytest.raises(ConfigurationError, match="rabbitmq_management_url.*CHAOSLLM_RABBITMQ_MANAGEMENT_URL"):
        actions.set_queue_limit(broker["queue"], max_length=1, rabbitmq_url=broker["rabbitmq_url"])
    assert _depth(broker) == 20 and Ledger().entries() == {}


@pytest.mark.parametrize(("rules", "call", "rule"), [
    ({"queues": ["orders.*"]}, lambda q, c: actions.purge_queue(q, configuration=c), "queues"),
    ({"vhosts": ["shop"]}, lambda q, c: actions.flood_queue(q, count=5, configuration=c), "vhosts"),
    ({"forbidden_targets": ["127.0.0.1:*"]}, lambda q, c: actions.publish_poison_messages(q, configuration=c),
     "forbidden_targets"),
    ({"max_messages_dropped": 19}, lambda q, c: actions.purge_queue(q, configuration=c),
     "touch 20 messages"),
    ({"max_messages_dropped": 5}, lambda q, c: actions.drop_messages(q, 0.5, 100, configuration=c),
     "touch 10 messages"),
    ({"max_messages_dropped": 5}, lambda q, c: actions.set_queue_limit(q, max_length=10, configuration=c),
     "touch 10 messages"),
])  # fmt: skip
def test_policy_refuses_before_any_change(broker: dict[str, str], rules: Any, call: Any, rule: str) -> None:
    with pytest.raises(PolicyViolation, match=rule):
        call(broker["queue"], _config(broker, **rules))
    assert _depth(broker) == 20 and Ledger().entries() == {}


def test_dry_run_previews_and_changes_nothing(broker: dict[str, str]) -> None:
    config = {**_config(broker), "dry_run": True}
    queue = broker["queue"]
    purge = actions.purge_queue(queue, configuration=config)
    assert purge["dry_run"] is True and purge["effect"] == "none"
    assert purge["would_touch"] == {"queue": queue, "vhost": "/", "depth": 20, "consumers": 0,
                                    "messages_dropped": 20}
    assert actions.drop_messages(queue, 0.5, 8, configuration=config)["would_touch"]["messages_dropped"] == 4
    assert actions.flood_queue(queue, count=100, configuration=config)["would_touch"]["depth"] == 20
    limit = actions.set_queue_limit(queue, max_length=15, configuration=config)
    assert limit["would_touch"]["messages_dropped"] == 5
    assert actions.close_consumer_connections(queue, configuration=config)["dry_run"] is True
    assert _depth(broker) == 20 and Ledger().entries() == {}


def test_the_controls_policy_argument_reaches_the_actions(broker: dict[str, str]) -> None:
    from chaosllm.controls.blast_radius import configure_control

    configuration: dict[str, Any] = {k: v for k, v in broker.items() if k != "queue"}
    configure_control(policy={"rabbitmq": {"max_messages_dropped": 5}}, configuration=configuration)
    with pytest.raises(PolicyViolation, match="max_messages_dropped 5.*the blast-radius control's policy"):
        actions.purge_queue(broker["queue"], configuration=dict(configuration))
    assert _depth(broker) == 20 and Ledger().entries() == {}
