"""The faults of a run, from the journal alone: each fault's real window and,
for a chaosllm fault action, whether it took effect.

A fault starts when its action applied it (the handle's ``started_at``, else the
activity's start) and ends when a rollback removed it (the rollback's
``ended_at``, else the activity's end) or when it expired by itself
(``expires_at``), whichever came first. Rollbacks are paired with faults by
:data:`REMOVES` and by the arguments and names they share; a heal in the method
counts as well as one in the rollbacks. The effect is the rollback's when it
reports one (a lasting fault measures its whole window there), else the
action's. Journals written before chaosllm reported effects get ``unknown``,
except where the action's result already counted what it did.
"""

from __future__ import annotations

from typing import Any

from chaosllm.journal_keys import (
    EFFECT_KEY,
    EFFECTS,
    ENDED_AT_KEY,
    EVIDENCE_KEY,
    FAULT_HANDLE_KEYS,
    REMOVED_KEY,
)
from chaosllm.redaction import redact_value
from chaosllm.report._values import as_dict, number, timestamp
from chaosllm.report.journal import ActivityRun, FaultWindow, short

__all__ = ["NOT_FAULTS", "REMOVES", "fault_windows", "is_fault_action", "removes"]

_REDIS, _POSTGRES, _RABBITMQ = (
    "chaosllm.redis.actions",
    "chaosllm.postgres.actions",
    "chaosllm.rabbitmq.actions",
)
_PROXY, _PROCESS, _STRESS = "chaosllm.proxy.actions", "chaosllm.process.actions", "chaosllm.stress.actions"
_CHAOSMESH, _LITMUS = "chaosllm.chaosmesh.actions", "chaosllm.litmus.actions"
_SANDBOX = "chaosllm.sandbox.actions"  # a load the experiment starts (a flood) is a fault too
FAULT_MODULES = frozenset((_REDIS, _POSTGRES, _RABBITMQ, _PROXY, _PROCESS, _STRESS, _CHAOSMESH, _LITMUS,
                           _SANDBOX))

# Which rollback removes which faults: (module, rollback) -> the fault functions of
# the same module. "inject_*" is every function of the module named inject_...,
# "*" every fault of the module.
REMOVES: dict[tuple[str, str], tuple[str, ...]] = {
    (_REDIS, "unpause_clients"): ("pause_clients",),
    (_REDIS, "restore_memory"): ("limit_memory",),
    (_POSTGRES, "release_connections"): ("exhaust_connections",),
    (_POSTGRES, "unlock_table"): ("lock_table",),
    (_POSTGRES, "reset_statement_timeout"): ("set_statement_timeout",),
    (_RABBITMQ, "remove_queue_limit"): ("set_queue_limit",),
    (_PROCESS, "resume_processes"): ("suspend_processes",),
    (_STRESS, "stop_stress"): ("stress_cpu", "stress_memory", "fill_disk"),
    (_PROXY, "remove_toxic"): ("inject_*",),
    (_PROXY, "enable_proxy"): ("disable_proxy",),
    (_PROXY, "reset_proxies"): ("inject_*", "disable_proxy"),
    (_CHAOSMESH, "remove_chaos"): ("*",),
    (_CHAOSMESH, "remove_all_chaos"): ("*",),
    (_LITMUS, "stop_litmus_fault"): ("run_litmus_fault",),
    (_SANDBOX, "stop_load"): ("start_load",),
}
# Actions of those modules that set things up or pause them: not faults.
NOT_FAULTS = frozenset({
    (_PROXY, "create_proxy"), (_PROXY, "delete_proxy"),
    (_CHAOSMESH, "pause_chaos"), (_CHAOSMESH, "resume_chaos"),
})  # fmt: skip
# Arguments that say how, not what: a rollback and its fault need not agree on them.
_NOT_IDENTITY = frozenset(("duration", "wait", "timeout", "force", "dry_run", "allow_unbounded", "mode"))
# What the one-shot faults counted before they reported an effect.
_LEGACY_COUNTS = ("deleted", "expired", "killed", "terminated", "purged", "dropped", "published",
                  "closed_connections", "pids")  # fmt: skip
NO_EFFECT_FIELD = "the journal holds no effect for this fault (written before chaosllm reported effects)"


def is_fault_action(run: ActivityRun) -> bool:
    key = (run.module, run.func)
    return run.module in FAULT_MODULES and key not in REMOVES and key not in NOT_FAULTS


def removes(module: str, rollback: str, fault: str) -> bool:
    """Whether ``rollback`` of ``module`` removes faults applied by ``fault``."""
    for pattern in REMOVES.get((module, rollback), ()):
        if pattern == "*" or pattern == fault or (pattern.endswith("*") and fault.startswith(pattern[:-1])):
            return (module, fault) not in NOT_FAULTS
    return False


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return bool(a == b)


class _Fault:
    """A fault action while it is being paired."""

    def __init__(self, run: ActivityRun) -> None:
        self.run = run
        handle = run.result if run.result is not None and FAULT_HANDLE_KEYS <= run.result.keys() else None
        self.handle = handle
        self.identity = dict(run.arguments)
        if handle is not None:
            self.identity.update(name=handle.get("name"), kind=handle.get("kind"))
        self.start = (timestamp(handle.get("started_at")) if handle else None) or run.start or 0.0
        self.planned = timestamp(handle.get("expires_at")) if handle else None
        self.remover: ActivityRun | None = None
        self.removal: dict[str, Any] = {}  # what the remover reported for this fault

    def removed_by(self, heal: ActivityRun, report: dict[str, Any]) -> None:
        self.remover, self.removal = heal, report

    def matches(self, rollback: ActivityRun) -> bool:
        if not removes(rollback.module, rollback.func, self.run.func):
            return False
        named = {k: v for k, v in as_dict(rollback.result).items() if k in ("name", "kind")}
        for key, value in {**rollback.arguments, **named}.items():
            if key not in _NOT_IDENTITY and key in self.identity and not _same(value, self.identity[key]):
                return False
        return True


def _evidence(result: dict[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    found = {}
    for key, value in as_dict(result.get(EVIDENCE_KEY)).items():
        found[str(key)] = redact_value(value if isinstance(value, str | bool | int | float) or value is None
                                       else short(value, 80), secrets)  # fmt: skip
    return found


def _effect(fault: _Fault, secrets: frozenset[str]) -> tuple[str, dict[str, Any], str]:
    """(effect, evidence, reason) of a chaosllm fault: the rollback's report, else the action's."""
    run = fault.run
    if run.status != "succeeded":
        return "unknown", {}, f"the action {'failed' if run.status == 'failed' else 'was cut off'}"
    for source in (fault.removal, as_dict(run.result)):
        if EFFECT_KEY in source:
            effect = source[EFFECT_KEY] if source[EFFECT_KEY] in EFFECTS else "unknown"
            evidence = _evidence(source, secrets)
            reason = evidence.pop("reason", None) or source.get("reason") or ""
            if effect == "unknown" and not reason:
                reason = "no reason given"
            return str(effect), evidence, short(redact_value(reason, secrets), 200)
    result = as_dict(run.result)
    if result.get("dry_run") is True:
        return "none", {}, "dry run"
    counts: dict[str, Any] = {}
    for key in _LEGACY_COUNTS:
        value = result.get(key)
        if isinstance(value, list):
            counts[key] = len(value)
        elif number(value) is not None:
            counts[key] = value
    if counts:
        return ("observed" if any(counts.values()) else "none"), counts, ""
    return "unknown", {}, NO_EFFECT_FIELD


def _window(fault: _Fault, journal_end: float | None, secrets: frozenset[str]) -> FaultWindow:
    run, handle, remover = fault.run, fault.handle or {}, fault.remover
    start, planned = fault.start, fault.planned
    end, ended_by = planned, "expired"
    if remover is not None and fault.removal.get(REMOVED_KEY) is not False:
        removal = timestamp(fault.removal.get(ENDED_AT_KEY)) or remover.end or remover.start or start
        if planned is None or removal < planned:
            end, ended_by = removal, f"removed by {remover.phase} '{remover.name}'"
    elif remover is not None and planned is None:
        end, ended_by = remover.start, f"gone before {remover.phase} '{remover.name}' ran"
    if handle and end is None:
        end, ended_by = journal_end, "not removed within the run"
    if not handle:  # a one-shot fault: its window is the action's own
        end, ended_by = run.end, "one-shot action"
    elif ended_by == "expired" and end is not None and journal_end is not None and end > journal_end:
        ended_by = "still in place when the run ended (expires later)"
    end = max(end if end is not None else start, start)
    effect, evidence, reason = _effect(fault, secrets)
    return FaultWindow(
        name=str(handle.get("name") or run.name), kind=str(handle.get("kind") or run.func),
        target=str(handle.get("target") or ""), start=start, end=end, activity=run.name,
        chaosllm=True, effect=effect, evidence=evidence, reason=reason, ended_by=ended_by,
        planned_end=planned,
    )  # fmt: skip


def _each_removed(heal: ActivityRun) -> dict[tuple[str, str], dict[str, Any]] | None:
    """``(kind, name)`` -> report, when ``heal`` reports several removed faults."""
    reports = as_dict(heal.result).get("faults")
    if not isinstance(reports, list) or len(reports) < 2:
        return None
    return {(str(r.get("kind")), str(r.get("name"))): r for r in reports if isinstance(r, dict)}


def fault_windows(method: list[ActivityRun], rollbacks: list[ActivityRun], journal_end: float | None,
                  secrets: frozenset[str] = frozenset()) -> list[FaultWindow]:  # fmt: skip
    """Every method action's window, in the order they ran: chaosllm faults with their
    real window and effect, actions of other providers (plain Chaos Toolkit) as the
    time they took. chaosllm's other actions (a load, a proxy set up) are no fault."""
    ours = [r for r in method + rollbacks if r.module in FAULT_MODULES]
    faults = [_Fault(r) for r in ours if r.phase == "method" and r.type == "action" and is_fault_action(r)]
    heals = sorted(
        (r for r in ours if (r.module, r.func) in REMOVES and r.status == "succeeded"),
        key=lambda r: r.start or 0.0,
    )
    for heal in heals:
        candidates = [f for f in faults if f.remover is None and f.matches(heal)
                      and f.start <= (heal.start if heal.start is not None else f.start)]  # fmt: skip
        reports = _each_removed(heal)
        if reports is not None:
            # A heal that removed several faults (stop_stress with no name)
            # reports each: every fault it names gets its own report.
            for fault in candidates:
                report = reports.get((str(fault.identity.get("kind")), str(fault.identity.get("name"))))
                if report is not None:
                    fault.removed_by(heal, {REMOVED_KEY: True, **report})
        elif candidates:
            # The latest fault that this heal removes and that was applied before it.
            max(candidates, key=lambda f: f.start).removed_by(heal, as_dict(heal.result))
    by_run = {id(f.run): f for f in faults}
    windows = []
    for run in method:
        if id(run) in by_run:
            windows.append(_window(by_run[id(run)], journal_end, secrets))
        elif run.type == "action" and run.start is not None and not run.module.startswith("chaosllm."):
            end = max(run.end or run.start, run.start)
            windows.append(FaultWindow(run.name, "action", "", run.start, end, activity=run.name,
                                       ended_by="action ended"))  # fmt: skip
    return windows
