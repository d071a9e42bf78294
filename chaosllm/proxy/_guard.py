"""What every proxy fault does before its first change: the policy check and the dry run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm._clients.proxy import path, proxy_api
from chaosllm.app_policy import check_target
from chaosllm.dry_run import dry_run_requested, preview


def before_fault(
    action: str,
    kind: str,
    name: str,
    url: str,
    proxy: str,
    spec: dict[str, Any],
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """Refuse what the policy forbids; in a dry run, the preview to return (else None)."""
    check_target("proxy", action, url, configuration=configuration, secrets=secrets, proxy=proxy)
    if not dry_run_requested(None, configuration, secrets):
        return None
    with proxy_api(f"preview {action} on proxy {proxy}", url) as api:
        status, found = api.request("GET", path("proxies", proxy), expect=(404,))
    exists = status != 404 and isinstance(found, dict)
    would = {
        "proxy": proxy,
        "exists": exists,
        "enabled": bool(found.get("enabled")) if exists else None,
        "upstream": found.get("upstream") if exists else None,
        "toxics": sorted(t.get("name") for t in found.get("toxics") or []) if exists else [],
    }
    return preview(kind, name, f"proxy {proxy}", spec, would)
