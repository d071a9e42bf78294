"""Restorers by stable id: what undoes each kind of fault recorded in the ledger.

A ledger entry names its restorer by an id such as ``"redis.maxmemory"``,
never by the function's current place, because entries outlive the version
that wrote them. :data:`RESTORERS` maps each id to ``"module:function"``,
imported only when an entry is restored, so that this module imports no
backend and renaming a restorer means changing one line here. Entries
written before ids existed name the function itself; :data:`FORMER_NAMES`
keeps those names, frozen, so that such entries still heal.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from chaosllm.errors import ConfigurationError

__all__ = ["RESTORERS", "FORMER_NAMES", "restorer_id", "load_restorer"]

Restorer = Callable[[dict[str, Any]], Any]

RESTORERS = {
    "redis.maxmemory": "chaosllm.redis.actions:_restore_memory_entry",
    "postgres.statement_timeout": "chaosllm.postgres._roles:restore_statement_timeout",
    "rabbitmq.queue_limit": "chaosllm.rabbitmq._limit:restore_entry",
    "proxy.toxic": "chaosllm.proxy.actions:_remove_toxic_entry",
    "proxy.partition": "chaosllm.proxy.actions:_enable_entry",
    "process.suspension": "chaosllm.process.actions:_resume_entry",
    "stress.run": "chaosllm.stress._stressng:_stop_entry",
    "chaosmesh.object": "chaosllm.chaosmesh._lifecycle:restore_entry",
    "alertmanager.silence": "chaosllm.controls.silence:expire_entry",
}

# What ledger entries written before restorer ids contain. Never edit these:
# they are on users' disks. Only RESTORERS follows a function when it moves.
FORMER_NAMES = {
    "chaosllm.redis.actions:_restore_memory_entry": "redis.maxmemory",
    "chaosllm.postgres._roles:restore_statement_timeout": "postgres.statement_timeout",
    "chaosllm.rabbitmq._limit:restore_entry": "rabbitmq.queue_limit",
    "chaosllm.proxy.actions:_remove_toxic_entry": "proxy.toxic",
    "chaosllm.proxy.actions:_enable_entry": "proxy.partition",
    "chaosllm.process.actions:_resume_entry": "process.suspension",
    "chaosllm.stress._stressng:_stop_entry": "stress.run",
}


def restorer_id(name: str) -> str:
    """The name to store for a restorer: its id when it has one.

    A former "module:function" name becomes its id; another "module:function"
    (a restorer outside chaosllm's own faults) is kept as it is.
    """
    return FORMER_NAMES.get(name, name)


def load_restorer(entry_id: str, name: object) -> Restorer:
    """Import the restorer that ``name`` (an id or "module:function") stands for.

    An unknown or broken name is a :class:`ConfigurationError` naming the entry.
    """
    path = RESTORERS.get(restorer_id(name)) if isinstance(name, str) else None
    if path is None and isinstance(name, str) and ":" in name:
        path = name
    module, _, func = (path or "").partition(":")
    if not module or not func:
        raise ConfigurationError(
            f"fault ledger entry {entry_id} names restorer {name!r}, which is neither a known "
            f"id ({', '.join(sorted(RESTORERS))}) nor 'module:function'; restore it by hand, "
            f"then chaosllm cleanup --forget {entry_id}"
        )
    try:
        found = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"fault ledger entry {entry_id} names restorer {name}, which cannot be loaded: {exc}"
        ) from exc
    return found  # type: ignore[no-any-return]
