"""Kubernetes RBAC, as the API server decides it, for the fake API server.

``Authorizer.for_service_account(manifests, namespace, name)`` collects the
rules that the (Cluster)RoleBindings in ``manifests`` grant a service
account; called with a request of the fake server (method, path, query), it
returns None when a rule allows it and the API server's 403 message
otherwise. Every decision is appended to ``log`` (a JSON line each) when a
log file is given, so that a test can list which rules were used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CORE = re.compile(r"/api/v1(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?")
GROUP = re.compile(r"/apis/([^/]+)/[^/]+(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?")


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str
    namespace: str | None  # None: a cluster-wide request
    name: str | None

    def describe(self) -> str:
        where = f'in the namespace "{self.namespace}"' if self.namespace else "at the cluster scope"
        group = self.group or '""'
        return f'cannot {self.verb} resource "{self.resource}" in API group "{group}" {where}'


@dataclass(frozen=True)
class Grant:
    """One rule, as bound: ``namespace`` None for a ClusterRoleBinding (every namespace)."""

    source: str  # "ClusterRole/x rule 0"
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    names: tuple[str, ...]
    namespace: str | None

    def allows(self, a: Attributes) -> bool:
        if self.namespace is not None and a.namespace != self.namespace:
            return False
        if self.names and (a.name is None or a.name not in self.names):
            return False
        return (_has(self.groups, a.group) and _has(self.resources, a.resource)
                and _has(self.verbs, a.verb))


def _has(values: tuple[str, ...], value: str) -> bool:
    return "*" in values or value in values


def attributes(method: str, path: str, query: dict[str, str]) -> Attributes:
    m = CORE.fullmatch(path)
    if m:
        group, (namespace, resource, name) = "", m.groups()
    else:
        g = GROUP.fullmatch(path)
        if not g:
            raise ValueError(f"not a resource path: {path}")
        group, namespace, resource, name = g.groups()
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") in ("true", "1") else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[method]
    return Attributes(verb, group, resource, namespace, name)


class Authorizer:
    def __init__(self, grants: list[Grant], subject: str, log: Path | None = None) -> None:
        self.grants = grants
        self.subject = subject
        self.log = log

    @classmethod
    def for_service_account(cls, manifests: Path, namespace: str, name: str,
                            log: Path | None = None) -> Authorizer:
        docs = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
        roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
                 for d in docs if d["kind"] in ("Role", "ClusterRole")}
        grants = []
        for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == name
                       and s.get("namespace") == namespace for s in binding.get("subjects") or []):
                continue
            bound_ns = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
            ref = binding["roleRef"]
            role = roles[(ref["kind"], bound_ns if ref["kind"] == "Role" else None, ref["name"])]
            for index, rule in enumerate(role.get("rules") or []):
                grants.append(Grant(f"{ref['kind']}/{ref['name']} rule {index}",
                                    tuple(rule.get("apiGroups") or ()), tuple(rule.get("resources") or ()),
                                    tuple(rule.get("verbs") or ()), tuple(rule.get("resourceNames") or ()),
                                    bound_ns))  # fmt: skip
        return cls(grants, f"system:serviceaccount:{namespace}:{name}", log)

    def __call__(self, request: dict[str, Any]) -> str | None:
        a = attributes(request["method"], request["path"], request["query"])
        used = next((g for g in self.grants if g.allows(a)), None)
        if self.log is not None:
            with self.log.open("a") as fh:
                fh.write(json.dumps({"verb": a.verb, "group": a.group, "resource": a.resource,
                                     "namespace": a.namespace, "name": a.name,
                                     "grant": used.source if used else None}) + "\n")
        if used is not None:
            return None
        return f'{a.resource} is forbidden: User "{self.subject}" {a.describe()}'
