"""What every Redis fault does before its first change: the policy check and the dry run.

The key-pattern faults count the keys they would touch first when the
policy limits that count or a dry run asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaosllm._clients.redis import redis_client, redis_target
from chaosllm.app_policy import check_target
from chaosllm.dry_run import Planned, Settings, dry_run_requested, preview, preview_if_dry
from chaosllm.redis._keys import scan_batches

# Reads, on an open connection, what the fault would touch.
Reader = Callable[[Any], Mapping[str, Any]]


def before_fault(
    action: str, planned: Planned, url: str, settings: Settings, read: Reader, **touches: Any
) -> dict[str, Any] | None:
    """Refuse what the policy forbids; in a dry run, the preview to return (else None)."""
    check_target("redis", action, url, configuration=settings[0], secrets=settings[1], **touches)

    def would() -> Mapping[str, Any]:
        with redis_client(f"preview {action}", url) as client:
            return read(client)

    return preview_if_dry(planned, *settings, would)


def before_keys(
    action: str,
    kind: str,
    url: str,
    pattern: str,
    spec: dict[str, Any],
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """:func:`before_fault` for a key-pattern fault, with the keys counted before acting."""
    policy = check_target("redis", action, url, configuration=configuration, secrets=secrets,
                          key_pattern=pattern)  # fmt: skip
    rules = policy.rules("redis")
    dry = dry_run_requested(None, configuration, secrets)
    if not dry and rules.get("max_keys") is None and rules.get("max_keyspace_percent") is None:
        return None
    with redis_client(f"count the keys for {action}", url) as client:
        keys = sum(len(batch) for batch in scan_batches(client, pattern))
        keyspace = int(client.dbsize())
    check_target("redis", action, url, policy=policy, key_pattern=pattern, keys=keys, keyspace=keyspace)
    if not dry:
        return None
    return preview(kind, f"{kind}-{pattern}", redis_target(url), spec,
                   {"pattern": pattern, "keys": keys, "keyspace": keyspace})  # fmt: skip


def matching_clients(client: Any, client_name: str | None, client_type: str | None) -> int:
    """Clients that ``kill_clients`` would disconnect (the asking connection is spared)."""
    own = int(client.client_id())
    return sum(
        1 for info in client.client_list(_type=client_type)
        if int(info["id"]) != own and (client_name is None or info.get("name") == client_name)
    )  # fmt: skip
