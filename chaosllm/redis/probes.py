"""Redis probes: availability, hit ratio, memory, clients and key counts."""

from __future__ import annotations

from typing import Any

from chaosllm._clients.redis import redis_client, resolve_url
from chaosllm.arguments import strict
from chaosllm.errors import ChaosLLMError
from chaosllm.redis._keys import check_pattern, scan_batches

__all__ = ["is_available", "cache_hit_ratio", "used_memory", "connected_clients", "key_count"]


@strict
def is_available(
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when the server answers PING within the connect timeout.

    ```json
    {"type": "probe", "name": "redis-up", "tolerance": true,
     "provider": {"type": "python", "module": "chaosllm.redis.probes",
                  "func": "is_available"}}
    ```
    """
    # Outside the try: a malformed URL is a mistake in the experiment, not an outage.
    url = resolve_url(redis_url, configuration, secrets)
    try:
        with redis_client("ping", url, configuration, secrets) as client:
            return bool(client.ping())
    except ChaosLLMError:
        return False


def _info(section: str, redis_url: str | None, configuration: Any, secrets: Any) -> dict[str, Any]:
    with redis_client(f"read INFO {section}", redis_url, configuration, secrets) as client:
        return dict(client.info(section))


@strict
def cache_hit_ratio(
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float | None:
    """keyspace_hits / (hits + misses) since the server started or stats reset.

    Returns null when there has been no lookup at all ("no data", not 0).

    ```json
    {"type": "probe", "name": "hit-ratio",
     "tolerance": {"type": "probe", "name": "above-80",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "above", "arguments": {"threshold": 0.8}}},
     "provider": {"type": "python", "module": "chaosllm.redis.probes",
                  "func": "cache_hit_ratio"}}
    ```
    """
    stats = _info("stats", redis_url, configuration, secrets)
    hits, misses = int(stats.get("keyspace_hits", 0)), int(stats.get("keyspace_misses", 0))
    return None if hits + misses == 0 else hits / (hits + misses)


@strict
def used_memory(
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Bytes of memory the server uses (INFO memory used_memory).

    ```json
    {"type": "probe", "name": "redis-memory",
     "provider": {"type": "python", "module": "chaosllm.redis.probes",
                  "func": "used_memory"}}
    ```
    """
    return int(_info("memory", redis_url, configuration, secrets)["used_memory"])


@strict
def connected_clients(
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Number of connected clients, this probe's own connection included.

    ```json
    {"type": "probe", "name": "redis-clients",
     "provider": {"type": "python", "module": "chaosllm.redis.probes",
                  "func": "connected_clients"}}
    ```
    """
    return int(_info("clients", redis_url, configuration, secrets)["connected_clients"])


@strict
def key_count(
    pattern: str = "*",
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Number of keys matching `pattern` (DBSIZE for "*", otherwise SCAN).

    ```json
    {"type": "probe", "name": "catalog-keys",
     "provider": {"type": "python", "module": "chaosllm.redis.probes",
                  "func": "key_count", "arguments": {"pattern": "catalog:*"}}}
    ```
    """
    check_pattern(pattern)
    with redis_client("count keys", redis_url, configuration, secrets) as client:
        if pattern == "*":
            return int(client.dbsize())
        return sum(len(batch) for batch in scan_batches(client, pattern))
