"""Whether a toxic or a partition bit, read from the proxy's own counters.

chaosllm's proxy counts, per toxic, the connections it was applied to, the
bytes that entered it, the time its chunks were held and the connections it
cut, and keeps these totals after the toxic is removed or expires
(``GET /proxies/{name}/stats``). A real Toxiproxy has no such route, so its
faults are ``unknown``, with the reason.
"""

from __future__ import annotations

from typing import Any

from chaosllm._clients.proxy import ProxyApi, path
from chaosllm.faults.effects import MEASURED_WHEN_REMOVED, iso_at

NO_STATS = "the proxy API reports no toxic statistics (a Toxiproxy server)"
NO_REFUSALS = ("no connection was open when the proxy was disabled, and connection attempts "
               "refused while it is disabled are not counted (a disabled proxy does not listen)")


def proxy_stats(api: ProxyApi, proxy: str) -> dict[str, Any] | None:
    """The proxy's fault statistics; None when the server keeps none (or the proxy is gone)."""
    status, payload = api.request("GET", path("proxies", proxy, "stats"), expect=(404,))
    return payload if status != 404 and isinstance(payload, dict) else None


def http_fault_effect(kind: str, stats: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(effect, evidence)`` of an HTTP fault: the requests it hit, the events it touched."""
    evidence = {key: stats.get(key, 0) for key in
                ("requests", "events", "held_mean_ms", "held_max_ms", "streams_cut",
                 "not_streamed")}
    if kind == "http_status":
        bit = evidence["requests"] > 0
    elif kind == "first_byte_delay":
        bit = evidence["requests"] > 0 and evidence["held_max_ms"] > 0
    else:  # the stream faults bite on events
        bit = evidence["events"] > 0
    if not bit:
        evidence["reason"] = (
            "no request matched the fault while it was in place" if not evidence["requests"]
            else "the requests it hit got no event stream (not_streamed)"
            if evidence["not_streamed"] else "the streams it hit ended before the fault's event")
    return ("observed" if bit else "none"), evidence


def toxic_effect(toxic: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(effect, evidence)`` of a toxic from its ``stats`` field."""
    stats = toxic.get("stats")
    if not isinstance(stats, dict):
        return "unknown", {"reason": NO_STATS}
    if "requests" in stats:
        return http_fault_effect(str(toxic.get("type")), stats)
    evidence = {key: stats.get(key, 0) for key in
                ("connections", "bytes", "chunks", "held_mean_ms", "held_max_ms", "connections_cut")}
    kind = toxic.get("type")
    if kind == "latency":
        bit = evidence["chunks"] > 0 and evidence["held_max_ms"] > 0
    elif kind == "reset_peer":
        bit = evidence["connections_cut"] > 0
    elif kind == "slow_close":
        bit = evidence["connections"] > 0
    else:  # bandwidth, timeout, slicer, limit_data: bytes throttled, swallowed or cut
        bit = evidence["bytes"] > 0 or evidence["connections_cut"] > 0
    if not bit and evidence["connections"] == 0:
        evidence["reason"] = "no connection went through the proxy while the toxic was in place"
    return ("observed" if bit else "none"), evidence


def injected_effect(payload: Any) -> tuple[str, dict[str, Any]]:
    """The effect an action reports as it adds a toxic: observed only if it already bit."""
    if not isinstance(payload, dict) or not isinstance(payload.get("stats"), dict):
        return "unknown", {"reason": NO_STATS}
    effect, evidence = toxic_effect(payload)
    if effect == "observed":
        return effect, evidence
    evidence["reason"] = MEASURED_WHEN_REMOVED
    return "unknown", evidence


def removed_toxic_effect(api: ProxyApi, proxy: str, name: str) -> tuple[str, dict[str, Any]]:
    """The totals of a toxic over its whole window, read after it was removed or expired."""
    stats = proxy_stats(api, proxy)
    if stats is None:
        return "unknown", {"reason": NO_STATS}
    toxic = stats.get("removed_toxics", {}).get(name) or stats.get("toxics", {}).get(name)
    if toxic is None:
        return "unknown", {"reason": f"the proxy has no record of toxic {name}"}
    effect, evidence = toxic_effect(toxic)
    evidence["type"] = toxic.get("type")
    if toxic.get("removed_at") is not None:
        evidence["removed_at"] = iso_at(float(toxic["removed_at"]))
        evidence["expired"] = bool(toxic.get("expired"))
    return effect, evidence


def partition_effect(api: ProxyApi, proxy: str) -> tuple[str, dict[str, Any]]:
    """A partition bit when it dropped open connections; refused attempts are not counted."""
    stats = proxy_stats(api, proxy)
    if stats is None:
        return "unknown", {"reason": NO_STATS}
    partition = stats.get("partition")
    if not isinstance(partition, dict):
        return "unknown", {"reason": f"the proxy has no record of a partition of {proxy}"}
    evidence: dict[str, Any] = {"connections_closed": int(partition.get("connections_closed") or 0)}
    if partition.get("enabled_at") is not None:
        evidence["enabled_at"] = iso_at(float(partition["enabled_at"]))
        evidence["expired"] = bool(partition.get("expired"))
    if evidence["connections_closed"] > 0:
        return "observed", evidence
    evidence["reason"] = NO_REFUSALS
    return "unknown", evidence
