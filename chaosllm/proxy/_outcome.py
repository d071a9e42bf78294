"""The effect part of the proxy actions' results: after a partition, and in the rollbacks.

A rollback's result names the fault (``kind``, ``name``), says whether it
removed it and when the fault ended (the proxy's own time of removal or
expiry when it kept one), and carries the totals of the whole window.
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.proxy import proxy_api
from chaosllm.faults.effects import ended, measured
from chaosllm.journal_keys import EVIDENCE_KEY
from chaosllm.proxy._effect import partition_effect, removed_toxic_effect


def toxic_ended(result: dict[str, Any], url: str, proxy: str, name: str, removed: bool) -> dict[str, Any]:
    """``remove_toxic``'s result, with what the toxic did over its window."""
    with proxy_api(f"read the statistics of toxic {name}", url) as api:
        measured(result, lambda: removed_toxic_effect(api, proxy, name),
                 f"toxic {name} on proxy {proxy}")
    evidence = result[EVIDENCE_KEY]
    kind = f"proxy-{evidence['type']}" if evidence.get("type") else "proxy-toxic"
    return ended(result, kind, name, removed, evidence.get("removed_at"))


def partition_applied(handle: dict[str, Any], url: str, proxy: str) -> dict[str, Any]:
    """``disable_proxy``'s handle, with the connections the partition dropped."""
    with proxy_api(f"read the statistics of proxy {proxy}", url) as api:
        return measured(handle, lambda: partition_effect(api, proxy), f"the partition of {proxy}")


def partition_ended(result: dict[str, Any], url: str, proxy: str, removed: bool) -> dict[str, Any]:
    """``enable_proxy``'s result: the partition's effect and when it ended."""
    partition_applied(result, url, proxy)
    return ended(result, "proxy-partition", f"partition-{proxy}", removed,
                 result[EVIDENCE_KEY].get("enabled_at"))


def reset_outcome(result: dict[str, Any], url: str, before: Any) -> dict[str, Any]:
    """``reset_proxies``'s result: one entry per toxic or partition the reset ended."""
    faults: list[dict[str, Any]] = []
    for proxy, info in (before or {}).items():
        if not isinstance(info, dict):
            continue
        for toxic in info.get("toxics") or []:
            faults.append(toxic_ended({"proxy": proxy}, url, proxy, str(toxic.get("name")), True))
        if info.get("enabled") is False:
            faults.append(partition_ended({"proxy": proxy}, url, proxy, True))
    result["faults"] = faults
    return result
