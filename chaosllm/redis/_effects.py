"""What a Redis fault did, read from the server's own counters (INFO).

``limit_memory`` compares ``evicted_keys`` before and after its window; a
client pause counts the other clients connected when it began and the
commands the server ran between the pause and the moment it was lifted,
less the pause's own renewals (``CLIENT PAUSE`` from the holder).
"""

from __future__ import annotations

from typing import Any

from chaosllm.faults.effects import ended, unknown, with_effect

# The holder's own commands, as INFO commandstats names them (Redis 7).
_OWN_COMMANDS = ("cmdstat_client|pause", "cmdstat_client|unpause", "cmdstat_info",
                 "cmdstat_ping", "cmdstat_client|list", "cmdstat_hello", "cmdstat_client|setinfo")


def evicted_keys(client: Any) -> int:
    return int(client.info("stats").get("evicted_keys", 0))


def command_count(info: dict[str, Any]) -> int:
    """Commands processed so far, less the kinds a pause holder and its probes send."""
    own = sum(int(info.get(key, {}).get("calls", 0)) for key in _OWN_COMMANDS
              if isinstance(info.get(key), dict))
    return int(info.get("total_commands_processed", 0)) - own


def pause_baseline(client: Any) -> dict[str, int]:
    """Read just before a pause: the other clients connected, and the command count."""
    info = client.info("everything")
    return {"clients": max(0, int(info.get("connected_clients", 0)) - 1), "commands": command_count(info)}


def pause_effect(baseline: dict[str, int], after: dict[str, Any], mode: str) -> tuple[str, dict[str, Any]]:
    """``(effect, evidence)`` of a pause from the counts before it and right after it ended."""
    commands = max(0, command_count(after) - baseline["commands"])
    evidence: dict[str, Any] = {"clients_paused": baseline["clients"], "commands_in_window": commands}
    if commands == 0:
        evidence["reason"] = "no client sent a command while the server was paused"
        return "none", evidence
    if mode == "ALL":
        return "observed", evidence  # every command in the window waited for the pause
    evidence["reason"] = ("a WRITE pause lets reads through; Redis does not say how many of "
                          "these commands were writes that waited")
    return "unknown", evidence


class PauseRecord:
    """A pause this process holds, kept until its rollback reads how it went."""

    def __init__(self, holder: Any, baseline: dict[str, int], handle: dict[str, Any]) -> None:
        self.holder = holder
        self.baseline = baseline
        self.handle = handle

    def outcome(self, result: dict[str, Any], removed: bool) -> dict[str, Any]:
        """``unpause_clients``' result: the pause's effect and when it ended."""
        self.holder.stop()
        after = self.holder.info_after
        if after is None:
            unknown(result, "the server could not be read right after the pause ended",
                    {"clients_paused": self.baseline["clients"]})
        else:
            effect, evidence = pause_effect(self.baseline, after, self.handle["spec"]["mode"])
            with_effect(result, effect, evidence, evidence.pop("reason", None))
        return ended(result, "redis-pause", self.handle["name"], removed, self.holder.ended_at)


PAUSES: dict[str, PauseRecord] = {}
