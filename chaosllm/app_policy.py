"""The blast-radius policy for application faults: which servers, databases,
queues, key patterns, proxies and processes a fault may touch, and how much.

It is the policy :func:`chaosllm.blast_radius.blast_radius_from` finds, the
same document as the Chaos Mesh policy (:mod:`chaosllm.chaosmesh.policy`), one
optional section per backend, validated against
``chaosllm/blast_radius.schema.json``::

    {"blast_radius": {
        "allowed_namespaces": ["shop"],
        "redis": {"allowed_targets": ["127.0.0.1:6390"], "key_patterns": ["sandbox:*"],
                  "max_keys": 1000, "max_keyspace_percent": 10, "allow_maxmemory": false},
        "postgres": {"allowed_targets": ["127.0.0.1:5433"], "databases": ["app"],
                     "roles": ["catalog"], "tables": ["public.*"], "max_sessions": 20},
        "rabbitmq": {"vhosts": ["/"], "queues": ["sandbox.*"], "max_messages_dropped": 500},
        "proxy": {"allowed_targets": ["127.0.0.1:8474"], "proxies": ["sandbox-*"]},
        "process": {"patterns": ["chaosllm.sandbox.app.recs"], "max_processes": 2},
        "stress": {"kinds": ["cpu", "memory"], "max_workers": 2, "max_cpu_load": 80,
                   "max_memory_mb": 512, "max_disk_mb": 1024, "paths": ["/var/tmp/*"]}}}

Targets are ``host:port`` (``localhost`` reads as ``127.0.0.1``) or, for a
pattern with ``://``, the URL without its credentials. Every list is of glob
patterns, except ``process.patterns``, the process patterns a fault may use,
and ``stress.kinds`` (``cpu``, ``memory``, ``disk``). The proxy rules cover
creating, deleting and resetting proxies as well as the faults (a reset
touches every proxy, ``"*"``).
A section that is absent sets no limit for its backend, with one exception:
a fault never changes a whole Redis instance's ``maxmemory`` unless
``redis.allow_maxmemory`` is true.

Every application action calls :func:`check_target` before its first change
(whatever module path reaches it, so the policy holds without the control);
:mod:`chaosllm.controls.blast_radius` calls :func:`violations` on the static
arguments of every application action of an experiment before it starts.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chaosllm.blast_radius import SETTING, blast_radius_from
from chaosllm.errors import PolicyViolation

__all__ = ["BACKENDS", "SETTING", "AppPolicy", "Scope", "app_policy_from", "violations", "check_target"]

BACKENDS = ("redis", "postgres", "rabbitmq", "proxy", "process", "stress")


@dataclass(frozen=True)
class AppPolicy:
    """The application sections of the policy and where they came from (for messages)."""

    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "not set"

    def rules(self, backend: str) -> Mapping[str, Any]:
        return self.sections.get(backend) or {}


@dataclass(frozen=True)
class Scope:
    """What one action is about to touch; None is "not known" (or "not this kind")."""

    target: str | None = None  # the server, as a URL or "host:port"
    database: str | None = None
    role: str | None = None
    table: str | None = None
    vhost: str | None = None
    queue: str | None = None
    key_pattern: str | None = None
    proxy: str | None = None  # "*" for an action on every proxy
    process: str | None = None  # the process pattern the action was given
    stress: str | None = None  # the stress kind: cpu, memory or disk
    workers: int | None = None  # stress workers (0 is every CPU)
    load: int | None = None  # CPU load, percent
    size_mb: float | None = None  # memory held or disk filled, MiB
    path: str | None = None  # the directory a disk fill writes to
    every_database: bool = False  # the action reaches sessions of every database
    keys: int | None = None  # keys it would flush or expire, counted before acting
    keyspace: int | None = None  # keys in the database
    messages: int | None = None  # messages it would drop, counted before acting
    sessions: int | None = None  # sessions it would end
    processes: int | None = None  # processes it would signal
    maxmemory: bool = False  # it changes the instance's maxmemory


def app_policy_from(
    policy: Mapping[str, Any] | str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> AppPolicy:
    """The application sections of the policy :func:`chaosllm.blast_radius.blast_radius_from` finds.

    A malformed policy is a :class:`ConfigurationError` naming where it came
    from and the key at fault.
    """
    found = blast_radius_from(policy, configuration, secrets)
    raw = found.document
    sections = {name: dict(raw[name]) for name in BACKENDS if raw.get(name) is not None}
    return AppPolicy(sections, found.source)


def _names(target: str) -> list[str]:
    """The names a target is matched by: ``host:port``, and the URL without credentials."""
    if "://" not in target:
        host, _, port = target.rpartition(":")
        if host.lower() == "localhost":
            return [f"127.0.0.1:{port}", target]
        return [target]
    parts = urlsplit(target)
    if parts.scheme == "unix":
        return [f"unix:{parts.path}", f"unix://{parts.path}"]
    host = (parts.hostname or "").lower()
    host = "127.0.0.1" if host == "localhost" else host
    defaults = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "http": 80, "https": 443}
    hostport = f"{host}:{parts.port or defaults.get(parts.scheme, '')}"
    return [hostport, f"{parts.scheme}://{hostport}{parts.path}"]


def _matches(value: str, patterns: Any) -> bool:
    return any(fnmatch.fnmatchcase(value, str(p)) for p in patterns)


def _listed(rule: str, value: str, patterns: Any) -> str | None:
    if patterns is None or _matches(value, patterns):
        return None
    return f"{value!r} is not in {rule} [{', '.join(map(str, patterns))}]"


def _target_rules(backend: str, target: str, rules: Mapping[str, Any]) -> Iterator[str]:
    names = _names(target)
    forbidden = rules.get("forbidden_targets") or []
    allowed = rules.get("allowed_targets")
    shown = names[0]
    if any(_matches(name, forbidden) for name in names):
        yield f"target {shown} is in {SETTING}.{backend}.forbidden_targets"
    elif allowed is not None and not any(_matches(name, allowed) for name in names):
        yield f"target {shown} is not in {SETTING}.{backend}.allowed_targets [{', '.join(allowed)}]"


def _limit(rule: str, what: str, count: int | None, limit: Any) -> str | None:
    if count is None or limit is None or count <= limit:
        return None
    return f"it would touch {count} {what}, more than {rule} {limit}"


def _redis(rules: Mapping[str, Any], scope: Scope) -> Iterator[str | None]:
    prefix = f"{SETTING}.redis"
    if scope.maxmemory and not rules.get("allow_maxmemory", False):
        yield (f"it changes the whole instance's maxmemory, which needs "
               f"{prefix}.allow_maxmemory: true")  # fmt: skip
    if scope.key_pattern is not None:
        found = _listed(f"{prefix}.key_patterns", scope.key_pattern, rules.get("key_patterns"))
        yield found and f"key pattern {found}"
    yield _limit(f"{prefix}.max_keys", "keys", scope.keys, rules.get("max_keys"))
    percent = rules.get("max_keyspace_percent")
    if percent is not None and scope.keys is not None and scope.keyspace:
        share = 100.0 * scope.keys / scope.keyspace
        if share > percent:
            yield (f"it would touch {scope.keys} of {scope.keyspace} keys ({share:.1f}%), "
                   f"more than {prefix}.max_keyspace_percent {percent:g}%")  # fmt: skip


def _postgres(rules: Mapping[str, Any], scope: Scope) -> Iterator[str | None]:
    prefix = f"{SETTING}.postgres"
    if scope.every_database and rules.get("databases") is not None:
        yield f"it reaches sessions of every database, and {prefix}.databases limits them"
    for kind in ("database", "role", "table"):
        value = getattr(scope, kind)
        if value is not None:
            found = _listed(f"{prefix}.{kind}s", value, rules.get(f"{kind}s"))
            yield found and f"{kind} {found}"
    yield _limit(f"{prefix}.max_sessions", "sessions", scope.sessions, rules.get("max_sessions"))


def _rabbitmq(rules: Mapping[str, Any], scope: Scope) -> Iterator[str | None]:
    prefix = f"{SETTING}.rabbitmq"
    for kind, key in (("vhost", "vhosts"), ("queue", "queues")):
        value = getattr(scope, kind)
        if value is not None:
            found = _listed(f"{prefix}.{key}", value, rules.get(key))
            yield found and f"{kind} {found}"
    limit = rules.get("max_messages_dropped")
    yield _limit(f"{prefix}.max_messages_dropped", "messages (dropped)", scope.messages, limit)


def _proxy(rules: Mapping[str, Any], scope: Scope) -> Iterator[str | None]:
    if scope.proxy is not None:
        found = _listed(f"{SETTING}.proxy.proxies", scope.proxy, rules.get("proxies"))
        yield found and ("every proxy: " if scope.proxy == "*" else "proxy ") + found


def _process(rules: Mapping[str, Any], scope: Scope) -> Iterator[str | None]:
    prefix = f"{SETTING}.process"
    patterns = rules.get("patterns")
    if patterns is not None and scope.process not in patterns:
        shown = repr(scope.process) if scope.process is not None else "a pidfile"
        yield f"process pattern {shown} is not one of {prefix}.patterns [{', '.join(patterns)}]"
    yield _limit(f"{prefix}.max_processes", "processes", scope.processes, rules.get("max_processes"))


def _stress(rules: Mapping[str, Any], scope: Scope) -> Iterator[str | None]:
    prefix = f"{SETTING}.stress"
    kinds = rules.get("kinds")
    if scope.stress is not None and kinds is not None and scope.stress not in kinds:
        yield f"stress kind {scope.stress!r} is not one of {prefix}.kinds [{', '.join(kinds)}]"
    workers = scope.workers
    if workers == 0:  # every CPU
        workers = os.cpu_count() or 1
    yield _limit(f"{prefix}.max_workers", "workers", workers, rules.get("max_workers"))
    limit = rules.get("max_cpu_load")
    if scope.load is not None and limit is not None and scope.load > limit:
        yield f"it would load the CPUs to {scope.load}%, more than {prefix}.max_cpu_load {limit:g}%"
    key = {"memory": "max_memory_mb", "disk": "max_disk_mb"}.get(scope.stress or "")
    limit = rules.get(key) if key else None
    if scope.size_mb is not None and limit is not None and scope.size_mb > limit:
        yield f"it would use {scope.size_mb:g} MiB, more than {prefix}.{key} {limit:g}"
    if scope.path is not None:
        found = _listed(f"{prefix}.paths", scope.path, rules.get("paths"))
        yield found and f"path {found}"


_RULES = {"redis": _redis, "postgres": _postgres, "rabbitmq": _rabbitmq, "proxy": _proxy,
          "process": _process, "stress": _stress}  # fmt: skip


def violations(backend: str, scope: Scope, policy: AppPolicy) -> list[str]:
    """Every rule of ``policy`` that ``scope`` breaks (empty when it complies)."""
    if backend not in _RULES:
        raise ValueError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    rules = policy.rules(backend)
    found: list[str] = []
    if scope.target is not None:
        found.extend(_target_rules(backend, scope.target, rules))
    found.extend(text for text in _RULES[backend](rules, scope) if text)
    return found


def _shown(target: str | None) -> str:
    return _names(target)[0] if target else "this machine"


def check_target(
    backend: str,
    action: str,
    target: str | None = None,
    *,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    policy: AppPolicy | None = None,
    **touches: Any,
) -> AppPolicy:
    """Refuse ``action`` with :class:`PolicyViolation` if what it touches breaks the policy.

    Called by every application action before its first change; ``touches``
    are the other fields of :class:`Scope` (``key_pattern="sandbox:*"``,
    ``keys=120``...). Returns the policy, so that a second call with the
    counts made before acting need not read it again. The message names the
    action, the target, every rule broken and where the policy came from.
    """
    policy = policy if policy is not None else app_policy_from(None, configuration, secrets)
    found = violations(backend, Scope(target=target, **touches), policy)
    if found:
        raise PolicyViolation(
            f"blast-radius policy refused {action} on {backend} {_shown(target)}: "
            f"{'; '.join(found)} (setting {SETTING}: {policy.source})"
        )
    return policy
