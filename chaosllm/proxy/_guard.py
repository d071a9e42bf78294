"""What every proxy fault does before its first change: the policy check and the dry run.

Creating, deleting and resetting proxies go through the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm._clients.proxy import path, proxy_api
from chaosllm.app_policy import check_target
from chaosllm.dry_run import Planned, Settings, preview_if_dry


def before_fault(
    action: str, planned: Planned, url: str, settings: Settings
) -> dict[str, Any] | None:
    """Refuse what the policy forbids; in a dry run, the preview to return (else None).

    The proxy is ``planned.spec["proxy"]``.
    """
    proxy = planned.spec["proxy"]
    check_target("proxy", action, url, configuration=settings[0], secrets=settings[1], proxy=proxy)

    def would() -> Mapping[str, Any]:
        with proxy_api(f"preview {action} on proxy {proxy}", url) as api:
            status, found = api.request("GET", path("proxies", proxy), expect=(404,))
        exists = status != 404 and isinstance(found, dict)
        return {
            "proxy": proxy,
            "exists": exists,
            "enabled": bool(found.get("enabled")) if exists else None,
            "upstream": found.get("upstream") if exists else None,
            "toxics": sorted(t.get("name") for t in found.get("toxics") or []) if exists else [],
        }

    return preview_if_dry(planned, *settings, would)


def before_reset(url: str, settings: Settings) -> dict[str, Any] | None:
    """:func:`before_fault` for ``reset_proxies``, which touches every proxy (``"*"``)."""
    check_target("proxy", "reset_proxies", url, configuration=settings[0], secrets=settings[1], proxy="*")

    def would() -> Mapping[str, Any]:
        with proxy_api("preview reset_proxies", url) as api:
            _, found = api.request("GET", "/proxies")
        proxies = found if isinstance(found, dict) else {}
        return {
            "proxies": sorted(proxies),
            "disabled": sorted(n for n, p in proxies.items() if not (p or {}).get("enabled", True)),
            "toxics": sum(len((p or {}).get("toxics") or []) for p in proxies.values()),
        }

    return preview_if_dry(Planned("proxy-reset", "reset", "every proxy", {"proxy": "*"}), *settings, would)
