"""Questions to the running gateway front over HTTP: its health and GraphQL queries.

The front is found through the sandbox state file of the run dir. An answer
is ``(status, JSON body or None)``; a front that cannot be reached raises
``TargetUnreachable``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chaosllm.errors import TargetUnreachable
from chaosllm.sandbox.app.state import read_state

__all__ = ["ask", "graphql", "healthy"]


def ask(directory: Path, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """GET ``path`` of the front, or POST ``body`` to it as JSON, within 2 s."""
    url = str(read_state(directory)["settings"]["gateway_url"]) + path
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError as exc:
        raise TargetUnreachable(f"could not reach the sandbox gateway at {url}: {exc}") from exc


def graphql(directory: Path, query: str, variables: dict[str, Any] | None = None
            ) -> tuple[int, Any]:  # fmt: skip
    body: dict[str, Any] = {"query": query}
    if variables:
        body["variables"] = variables
    return ask(directory, "/graphql", body)


def healthy(directory: Path) -> bool:
    """The front is up, a replica is ready and a catalog query answers."""
    try:
        code, health = ask(directory, "/healthz")
        if code != 200 or not health.get("ready_replicas"):
            return False
        code, answer = graphql(directory, "{ catalog { models { id } } }")
    except TargetUnreachable:
        return False
    return code == 200 and bool(answer.get("data", {}).get("catalog", {}).get("models"))
