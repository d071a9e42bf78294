"""URL settings are checked once, before any connection, without echoing the URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaosllm._clients.prometheus import resolve_base_url
from chaosllm._clients.proxy import resolve_api_url
from chaosllm._clients.rabbitmq import resolve_management_url, resolve_urls
from chaosllm._clients.redis import resolve_url
from chaosllm.errors import ConfigurationError

RESOLVERS: list[tuple[str, Callable[[str], Any]]] = [
    ("redis_url", lambda url: resolve_url(url, None, None)),
    ("rabbitmq_url", lambda url: resolve_urls(url, None, None, None)),
    ("rabbitmq_management_url", lambda url: resolve_management_url(url, None, None)),
    ("prometheus_base_url", lambda url: resolve_base_url(url, None, None)),
    ("proxy_api_url", lambda url: resolve_api_url(url, None, None)),
]


@pytest.mark.parametrize(("key", "resolve"), RESOLVERS, ids=[key for key, _ in RESOLVERS])
@pytest.mark.parametrize("url", ["127.0.0.1:1234", "ftp://u:s3cret@127.0.0.1:1234", "x://u:s3cret@host:port"])
def test_malformed_url_names_the_setting_not_the_value(
    key: str, resolve: Callable[[str], Any], url: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{key} ") as info:
        resolve(url)
    assert "s3cret" not in str(info.value)


def test_well_formed_urls_pass_unchanged() -> None:
    assert resolve_url("rediss://:pw@cache:6380/1", None, None) == "rediss://:pw@cache:6380/1"
    assert resolve_urls("amqps://u:pw@mq/%2F", "https://mq:15671/", None, None) == (
        "amqps://u:pw@mq/%2F",
        "https://mq:15671",
    )
    assert resolve_base_url("http://prom:9090/", None, None) == "http://prom:9090"


def test_redis_target_names_one_server_once() -> None:
    from chaosllm._clients.redis import redis_target

    assert redis_target("unix:///tmp/a.sock") == "redis unix:/tmp/a.sock"
    assert redis_target("unix:///tmp/a.sock") != redis_target("unix:///tmp/b.sock")
    assert redis_target("redis://localhost:6390/0") == redis_target("redis://:pw@127.0.0.1:6390/1")
    assert "pw" not in redis_target("redis://:pw@127.0.0.1:6390/1")
