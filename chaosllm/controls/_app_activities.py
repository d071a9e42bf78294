"""What an application action of an experiment would touch, read from its static arguments.

The blast-radius control checks these against the application policy before
the run starts; the actions check the same rules again, with what they find
on the server, before their first change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODULES = {
    "chaosllm.redis.actions": "redis",
    "chaosllm.postgres.actions": "postgres",
    "chaosllm.rabbitmq.actions": "rabbitmq",
    "chaosllm.proxy.actions": "proxy",
    "chaosllm.process.actions": "process",
    "chaosllm.stress.actions": "stress",
}
# The actions the policy covers; rollbacks are never refused. The proxy's
# set-up, removal and reset change what traffic reaches, so they are covered.
FAULTS = {
    "redis": {"pause_clients", "flush_keys", "expire_keys", "limit_memory", "kill_clients"},
    "postgres": {"exhaust_connections", "lock_table", "terminate_backends", "set_statement_timeout"},
    "rabbitmq": {"purge_queue", "drop_messages", "flood_queue", "publish_poison_messages",
                 "close_consumer_connections", "set_queue_limit"},
    "process": {"kill_processes", "suspend_processes"},
    "stress": {"stress_cpu", "stress_memory", "fill_disk"},
    "proxy": {"disable_proxy", "create_proxy", "delete_proxy", "reset_proxies"},
}  # fmt: skip


def is_fault(backend: str, func: str) -> bool:
    """Whether the policy covers ``func`` of ``backend`` (every ``inject_*`` of the proxy)."""
    return func in FAULTS[backend] or (backend == "proxy" and func.startswith("inject_"))


def covered(backend: str, names: list[str]) -> list[str]:
    """The names of a backend's actions module (its ``__all__``) that the policy covers."""
    return [name for name in names if is_fault(backend, name)]


def _redis(func: str, args: Mapping[str, Any], cfg: Any, sec: Any) -> tuple[str | None, dict[str, Any]]:
    from chaosllm._clients.redis import resolve_url

    touches: dict[str, Any] = {"maxmemory": func == "limit_memory"}
    if func in ("flush_keys", "expire_keys") and isinstance(args.get("pattern"), str):
        touches["key_pattern"] = args["pattern"]
    return resolve_url(args.get("redis_url"), cfg, sec), touches


def _postgres(func: str, args: Mapping[str, Any], cfg: Any, sec: Any) -> tuple[str | None, dict[str, Any]]:
    from chaosllm._clients.postgres import postgres_database, postgres_server, resolve_dsn

    dsn = resolve_dsn(args.get("postgres_dsn"), cfg, sec)
    touches: dict[str, Any] = {"table": args.get("table"), "role": args.get("role") or args.get("user")}
    if func == "terminate_backends":
        touches.update(database=args.get("database"), every_database=args.get("database") is None)
    else:
        touches["database"] = postgres_database(dsn)
    return postgres_server(dsn), touches


def _rabbitmq(func: str, args: Mapping[str, Any], cfg: Any, sec: Any) -> tuple[str | None, dict[str, Any]]:
    from chaosllm._clients.rabbitmq import resolve_amqp_url, vhost_of

    url = resolve_amqp_url(args.get("rabbitmq_url"), cfg, sec)
    return url, {"vhost": vhost_of(url), "queue": args.get("queue")}


def _proxy(func: str, args: Mapping[str, Any], cfg: Any, sec: Any) -> tuple[str | None, dict[str, Any]]:
    from chaosllm._clients.proxy import resolve_api_url

    proxy = {"reset_proxies": "*", "create_proxy": args.get("name"),
             "delete_proxy": args.get("name")}.get(func, args.get("proxy"))  # fmt: skip
    return resolve_api_url(args.get("proxy_api_url"), cfg, sec), {"proxy": proxy}


def _process(func: str, args: Mapping[str, Any], cfg: Any, sec: Any) -> tuple[str | None, dict[str, Any]]:
    return None, {"process": args.get("pattern")}


def _stress(func: str, args: Mapping[str, Any], cfg: Any, sec: Any) -> tuple[str | None, dict[str, Any]]:
    from chaosllm.stress._policy import stress_scope

    return None, stress_scope(func, args)


_READERS = {"redis": _redis, "postgres": _postgres, "rabbitmq": _rabbitmq, "proxy": _proxy,
            "process": _process, "stress": _stress}  # fmt: skip


def touches_of(
    backend: str, func: str, arguments: Mapping[str, Any], configuration: Any, secrets: Any
) -> tuple[str | None, dict[str, Any]]:
    """The target and the other :class:`chaosllm.app_policy.Scope` fields of one action.

    An unset target raises the same ConfigurationError as the action would.
    """
    return _READERS[backend](func, arguments, configuration, secrets)
