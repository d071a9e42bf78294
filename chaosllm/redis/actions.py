"""Redis fault actions.

Each fault has a duration and heals itself: a client pause is renewed in
short slices by this process and ends with it, and a changed ``maxmemory``
is written to the fault ledger and restored by a detached healer (or
``chaosllm cleanup``).
"""

from __future__ import annotations

import re
from typing import Any

from chaosllm._clients.redis import (
    redis_client,
    redis_client_for_holder,
    redis_target,
    resolve_url,
)
from chaosllm.arguments import strict
from chaosllm.dry_run import Planned
from chaosllm.errors import InvalidArgument
from chaosllm.faults import (
    Ledger,
    bounded_seconds,
    fault_handle,
    held_faults,
    hold_fault,
    parse_duration,
    recording,
    release_held,
    restore_fault,
)
from chaosllm.faults.effects import MEASURED_WHEN_REMOVED, counted, ended, unknown
from chaosllm.redis._effects import PAUSES, PauseRecord, evicted_keys, pause_baseline
from chaosllm.redis._guard import before_fault, before_keys, matching_clients
from chaosllm.redis._keys import check_key_pattern, scan_batches

__all__ = [
    "pause_clients",
    "unpause_clients",
    "flush_keys",
    "expire_keys",
    "limit_memory",
    "restore_memory",
    "kill_clients",
]

ROLLBACKS = {"pause_clients": "unpause_clients", "limit_memory": "restore_memory"}

PAUSE_MODES = ("ALL", "WRITE")
POLICIES = (
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
)  # fmt: skip
CLIENT_TYPES = ("normal", "master", "replica", "pubsub")
# A size as Redis reads it: bytes, or k/kb/m/mb/g/gb (any case; k is 1000, kb 1024).
_SIZE = re.compile(r"(\d{1,20})([kmg]b?|b)?", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3,
               "gb": 1024**3}  # fmt: skip
# The largest maxmemory every supported Redis version stores as given (a signed 64-bit count).
MAX_MAXMEMORY = 2**63 - 1


def _maxmemory_bytes(maxmemory: str) -> int:
    """``maxmemory`` in bytes, refused beyond what Redis stores (it would saturate, not refuse)."""
    match = _SIZE.fullmatch(maxmemory.strip())
    if not match:
        raise InvalidArgument(f"maxmemory must be a size such as '16mb', got {maxmemory!r}")
    size = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]
    if size > MAX_MAXMEMORY:
        raise InvalidArgument(
            f"maxmemory {maxmemory!r} is beyond Redis's range: at most {MAX_MAXMEMORY} bytes"
        )
    return size


def _ledger_id(fault: str, url: str) -> str:
    return f"{fault}@{redis_target(url)}"


def _pause_id(url: str) -> str:
    return f"redis-pause@{redis_target(url)}"


@strict
def pause_clients(
    duration: str = "10s",
    mode: str = "ALL",
    name: str | None = None,
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pause the server's clients for `duration` (CLIENT PAUSE).

    `mode` is "ALL" (every command blocks) or "WRITE" (only writes block).
    The pause is renewed in short slices by this process, so it ends at its
    duration, at `unpause_clients`, or within a fraction of a second if the
    experiment is killed. Pausing a server that is already paused by this
    process does not stack.

    ```json
    {"type": "action", "name": "pause-redis",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "pause_clients", "arguments": {"duration": "5s"}}}
    ```
    """
    from chaosllm.redis._pause import PauseHolder

    seconds = bounded_seconds(duration)
    mode = str(mode).upper()
    if mode not in PAUSE_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(PAUSE_MODES)}, got {mode!r}")
    url = resolve_url(redis_url, configuration, secrets)
    target = redis_target(url)
    planned = Planned("redis-pause", name or f"pause-{target}", target, {"mode": mode, "duration": duration})
    early = before_fault("pause_clients", planned, url, (configuration, secrets),
                         lambda c: {"clients": int(c.info("clients")["connected_clients"]) - 1})
    if early is not None:
        return early
    handle = fault_handle(
        "redis-pause", name or f"pause-{target}", target, {"mode": mode, "duration": duration}, seconds
    )
    if _pause_id(url) in held_faults():
        return unknown(handle, "already paused by this process")  # do not stack
    with redis_client("pause clients", url) as probe:
        probe.ping()  # fail fast, with a clear error, before starting the holder
        baseline = pause_baseline(probe)
    holder_client = redis_client_for_holder(url)
    holder = PauseHolder(holder_client, mode, seconds)
    if not hold_fault(_pause_id(url), holder.stop, seconds):
        holder_client.close()
        return handle
    holder.start()
    holder.started.wait(5)
    if holder.error is not None:
        release_held(_pause_id(url))
        with redis_client("pause clients", url):
            raise holder.error
    PAUSES[_pause_id(url)] = PauseRecord(holder, baseline, handle)
    return unknown(handle, MEASURED_WHEN_REMOVED, {"clients_connected": baseline["clients"]})


@strict
def unpause_clients(
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lift the client pause that `pause_clients` holds on this server.

    Returns `{"removed": false}` when no pause is held.

    ```json
    {"type": "action", "name": "unpause-redis",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "unpause_clients"}}
    ```
    """
    url = resolve_url(redis_url, configuration, secrets)
    removed = release_held(_pause_id(url))
    result: dict[str, Any] = {"removed": removed, "target": redis_target(url)}
    record = PAUSES.pop(_pause_id(url), None)
    if record is None:
        unknown(result, "no pause of this process to measure")
        return ended(result, "redis-pause", f"pause-{redis_target(url)}", removed)
    return record.outcome(result, removed)


@strict
def flush_keys(
    pattern: str,
    allow_all_keys: bool = False,
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Delete every key matching `pattern` at once: a cache eviction storm.

    Keys are found with SCAN and removed with UNLINK in batches, so the
    server is not blocked. There is no rollback: the cache must refill.
    `pattern` is required; one that matches every key ("*") needs
    `allow_all_keys: true`.

    ```json
    {"type": "action", "name": "evict-catalog",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "flush_keys", "arguments": {"pattern": "catalog:*"}}}
    ```
    """
    check_key_pattern(pattern, allow_all_keys, "flush_keys")
    url = resolve_url(redis_url, configuration, secrets)
    early = before_keys("flush_keys", "redis-flush", url, pattern, {"pattern": pattern},
                        configuration, secrets)
    if early is not None:
        return early
    deleted = 0
    started = fault_handle("redis-flush", f"flush-{redis_target(url)}", redis_target(url),
                           {"pattern": pattern}, 0.0)
    with redis_client("flush keys", url) as client:
        for batch in scan_batches(client, pattern):
            deleted += int(client.unlink(*batch))
    result = {**started, "target": redis_target(url), "pattern": pattern, "deleted": deleted}
    return counted(result, deleted, {"keys_deleted": deleted})


@strict
def expire_keys(
    pattern: str,
    ttl: str = "1s",
    allow_all_keys: bool = False,
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Give every key matching `pattern` the same TTL, so they expire together.

    This is the thundering herd: all readers miss at the same moment. A
    `pattern` that matches every key ("*") needs `allow_all_keys: true`.

    ```json
    {"type": "action", "name": "synchronised-expiry",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "expire_keys",
                  "arguments": {"pattern": "catalog:*", "ttl": "2s"}}}
    ```
    """
    check_key_pattern(pattern, allow_all_keys, "expire_keys")
    milliseconds = int(parse_duration(ttl, "ttl") * 1000)
    if milliseconds <= 0:
        raise InvalidArgument(f"ttl must be positive, got {ttl!r}")
    url = resolve_url(redis_url, configuration, secrets)
    early = before_keys("expire_keys", "redis-expire", url, pattern, {"pattern": pattern, "ttl": ttl},
                        configuration, secrets)
    if early is not None:
        return early
    expired = 0
    started = fault_handle("redis-expire", f"expire-{redis_target(url)}", redis_target(url),
                           {"pattern": pattern, "ttl": ttl}, milliseconds / 1000)
    with redis_client("expire keys", url) as client:
        for batch in scan_batches(client, pattern):
            pipe = client.pipeline(transaction=False)
            for key in batch:
                pipe.pexpire(key, milliseconds)
            expired += sum(1 for ok in pipe.execute() if ok)
    result = {**started, "target": redis_target(url), "pattern": pattern, "ttl": ttl,
              "expired": expired}
    return counted(result, expired, {"keys_given_ttl": expired})


@strict
def limit_memory(
    maxmemory: str = "16mb",
    policy: str = "allkeys-lru",
    duration: str = "60s",
    name: str | None = None,
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lower `maxmemory` and set the eviction `policy` for `duration`.

    The original values go to the fault ledger first; a detached healer
    restores them when the duration ends, even if `chaos` is killed, and
    `chaosllm cleanup` restores anything left over. Applying it again while
    it holds keeps the original values. It changes the whole instance, so
    the blast-radius policy must allow it (`redis.allow_maxmemory: true`).

    ```json
    {"type": "action", "name": "squeeze-redis",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "limit_memory",
                  "arguments": {"maxmemory": "8mb", "policy": "allkeys-lru",
                                "duration": "2m"}}}
    ```
    """
    seconds = bounded_seconds(duration)
    if policy not in POLICIES:
        raise InvalidArgument(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    _maxmemory_bytes(maxmemory)
    url = resolve_url(redis_url, configuration, secrets)
    target = redis_target(url)
    planned = Planned("redis-maxmemory", name or f"limit-memory-{target}", target,
                      {"maxmemory": str(maxmemory), "policy": policy, "duration": duration})
    early = before_fault(
        "limit_memory", planned, url, (configuration, secrets),
        lambda c: {"maxmemory": c.config_get("maxmemory")["maxmemory"],
                   "policy": c.config_get("maxmemory-policy")["maxmemory-policy"],
                   "used_memory": int(c.info("memory")["used_memory"]), "keys": int(c.dbsize())},
        maxmemory=True,
    )  # fmt: skip
    if early is not None:
        return early
    entry_id = _ledger_id("maxmemory", url)
    with redis_client("limit memory", url) as client, recording(entry_id) as rec:
        original = client.config_get("maxmemory")
        original_policy = client.config_get("maxmemory-policy")
        state = {
            "redis_url": url,
            "maxmemory": original["maxmemory"],
            "policy": original_policy["maxmemory-policy"],
            "evicted_before": evicted_keys(client),
            "name": name or f"limit-memory-{target}",
        }
        rec.record(
            "redis.maxmemory", state, seconds,
            f"maxmemory {maxmemory} {policy} on {target} (was {state['maxmemory']} "
            f"{state['policy']})",
        )  # fmt: skip
        client.config_set("maxmemory-policy", policy)
        client.config_set("maxmemory", str(maxmemory))
    handle = fault_handle(
        "redis-maxmemory", name or f"limit-memory-{target}", target,
        {"maxmemory": str(maxmemory), "policy": policy, "duration": duration}, seconds,
    )  # fmt: skip
    return unknown(handle, MEASURED_WHEN_REMOVED)


def _restore_memory_entry(entry: dict[str, Any]) -> dict[str, Any]:
    state = entry["state"]
    with redis_client("restore memory", state["redis_url"]) as client:
        client.config_set("maxmemory", state["maxmemory"])
        client.config_set("maxmemory-policy", state["policy"])
        evicted = evicted_keys(client) - int(state.get("evicted_before", 0))
    return {"maxmemory": state["maxmemory"], "policy": state["policy"], "evicted": evicted}


@strict
def restore_memory(
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Restore the `maxmemory` and policy that `limit_memory` changed.

    Returns `{"removed": false}` when there is nothing to restore.

    ```json
    {"type": "action", "name": "restore-redis-memory",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "restore_memory"}}
    ```
    """
    url = resolve_url(redis_url, configuration, secrets)
    entry = Ledger().get(_ledger_id("maxmemory", url)) or {}
    result = restore_fault(_ledger_id("maxmemory", url))
    out: dict[str, Any] = {"removed": result["removed"], "target": redis_target(url)}
    name = (entry.get("state") or {}).get("name") or f"limit-memory-{redis_target(url)}"
    if result["removed"] and "evicted" in (result["result"] or {}):
        out.update(result["result"])
        counted(out, out["evicted"], {"keys_evicted": out["evicted"]})
    else:
        unknown(out, "nothing was left to restore (its healer restored it at its deadline, "
                     "or it was never applied): evictions were not measured")
    return ended(out, "redis-maxmemory", name, result["removed"])


@strict
def kill_clients(
    client_name: str | None = None,
    client_type: str | None = None,
    redis_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Disconnect clients, all of them or those matching a name or type.

    The connection used to do it is spared. Clients reconnect on their own,
    which is what this tests.

    ```json
    {"type": "action", "name": "drop-redis-clients",
     "provider": {"type": "python", "module": "chaosllm.redis.actions",
                  "func": "kill_clients", "arguments": {"client_type": "normal"}}}
    ```
    """
    if client_type is not None and client_type not in CLIENT_TYPES:
        raise InvalidArgument(
            f"client_type must be one of {', '.join(CLIENT_TYPES)}, got {client_type!r}"
        )
    url = resolve_url(redis_url, configuration, secrets)
    planned = Planned("redis-kill-clients", f"kill-clients-{redis_target(url)}", redis_target(url),
                      {"client_name": client_name, "client_type": client_type})
    early = before_fault("kill_clients", planned, url, (configuration, secrets),
                         lambda c: {"clients": matching_clients(c, client_name, client_type)})
    if early is not None:
        return early
    killed = 0
    started = fault_handle("redis-kill-clients", f"kill-clients-{redis_target(url)}",
                           redis_target(url), {"client_name": client_name,
                                               "client_type": client_type}, 0.0)
    with redis_client("kill clients", url) as client:
        for info in client.client_list(_type=client_type):
            if client_name is not None and info.get("name") != client_name:
                continue
            killed += int(client.execute_command("CLIENT", "KILL", "ID", info["id"], "SKIPME", "yes"))
    result = {
        **started,
        "target": redis_target(url),
        "killed": killed,
        "client_name": client_name,
        "client_type": client_type,
    }
    return counted(result, killed, {"clients_killed": killed})
