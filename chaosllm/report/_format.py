"""Small text helpers shared by the report writers."""

from __future__ import annotations

from datetime import datetime, timezone

from chaosllm.report.journal import ActivityRun, FaultWindow, Journal, describe_breach, short
from chaosllm.report.verdict import effect_text, uses_chaosllm

__all__ = [
    "STATE_MARK", "VERDICT_MARK", "when", "took", "mark", "observed", "verdict", "state_text",
    "observations", "actions", "fault_line", "recovery_text", "window_text", "not_applicable_reason",
]  # fmt: skip

STATE_MARK = {
    "completed": "✅ completed",
    "deviated": "❌ deviated",
    "failed": "❌ failed",
    "interrupted": "⚠️ interrupted",
    "aborted": "🛑 aborted",
}


VERDICT_MARK = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "inconclusive": "❔ inconclusive",
    "aborted": "🛑 aborted",
    "interrupted": "⚠️ interrupted",
}


def when(moment: float | None, with_date: bool = True) -> str:
    if moment is None:
        return "unknown"
    value = datetime.fromtimestamp(moment, tz=timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def took(seconds: float) -> str:
    """A duration for readers: "0.004 s", "12.3 s", "5 min 02 s", "1 h 05 min"."""
    if seconds < 10:
        return f"{seconds:.3g} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def mark(run: ActivityRun) -> str:
    if not run.counted:
        return "➖"
    return "✅" if run.passed else "❌"


def not_applicable_reason(run: ActivityRun) -> str:
    reason = (run.result or {}).get("reason")
    return short(reason, 100) if isinstance(reason, str) and reason else ""


def observed(run: ActivityRun) -> str:
    if not run.counted:
        reason = not_applicable_reason(run)
        return "not applicable" + (f" ({reason})" if reason else "")
    if run.status == "failed":
        return "error: " + short(run.error or "the probe raised", 100)
    if run.status == "interrupted":
        return "not finished"
    if run.observed is None:
        return short(run.output, 60) if run.output else "none"
    return short(run.observed, 60)


def verdict(journal: Journal) -> str:
    return VERDICT_MARK.get(journal.verdict, journal.verdict)


def state_text(journal: Journal) -> str:
    """How Chaos Toolkit's run ended, as detail beside the verdict."""
    return STATE_MARK.get(journal.state, journal.state)


def window_text(fault: FaultWindow) -> str:
    """ "12:00:01 to 12:00:21 (20.0 s), removed by rollback 'heal' (planned 40.0 s)"."""
    text = f"{when(fault.start, False)} to {when(fault.end, False)} ({took(fault.end - fault.start)})"
    text += f", {fault.ended_by}" if fault.ended_by else ""
    if fault.planned_end is not None and abs(fault.planned_end - fault.end) >= 0.5:
        text += f" (planned {took(fault.planned_end - fault.start)})"
    return text


def recovery_text(fault: FaultWindow) -> str:
    if not fault.recovery_measured:
        return f"not measured ({fault.recovery_note})"
    if fault.recovery is None:
        return "did not recover within the run"
    return took(fault.recovery)


def fault_line(fault: FaultWindow) -> str:
    """One line per chaosllm fault: its effect, real window and time to recover."""
    target = f" on {fault.target}" if fault.target else ""
    return (
        f"Fault {fault.kind} '{fault.name}'{target}: effect {effect_text(fault)}; "
        f"window {window_text(fault)}; time to recover: {recovery_text(fault)}"
    )


def observations(journal: Journal, with_reasons: bool = True) -> list[str]:
    """Plain-text observations: why the run got its verdict (unless shown elsewhere),
    breaches, failed activities."""
    reasons = journal.verdict_reasons if with_reasons else []
    lines = [line[:1].upper() + line[1:] for line in reasons if line]
    for breach in journal.breaches:
        at = f" at {when(breach.at, False)}" if breach.at else ""
        source = f" from {breach.source}" if breach.source else ""
        lines.append(f"Guard condition breached{at}: {describe_breach(breach)}{source}")
    if journal.aborted_by_guard and journal.guard_conditions:
        lines.append("Guard conditions: " + "; ".join(journal.guard_conditions))
    judged = uses_chaosllm(journal) and journal.verdict == "failed"
    for run in journal.method + journal.during:
        if run.status == "failed" and judged and run.phase == "method":
            continue  # already named as why the run failed
        if run.status == "failed":
            lines.append(f"{run.type.title()} '{run.name}' failed: {run.error or 'no error text'}")
        elif run.status == "interrupted":
            lines.append(f"{run.type.title()} '{run.name}' was cut off before it finished")
        elif run.tolerance_met is False and journal.verdict != "failed":
            lines.append(f"Probe '{run.name}' was out of tolerance during the method")
    if not lines and journal.verdict_reasons:
        return ["Nothing more than the verdict's reasons above."]
    return lines or ["No deviation, failed activity or abort."]


def actions(journal: Journal) -> list[tuple[bool | None, str]]:
    """The rollbacks that ran and how they ended; (None, text) when none ran."""
    lines: list[tuple[bool | None, str]] = []
    for run in journal.rollbacks:
        if run.status == "succeeded":
            lines.append((True, f"rollback '{run.name}' succeeded in {took(run.duration)}"))
        elif run.status == "failed":
            lines.append((False, f"rollback '{run.name}' failed: {run.error or 'no error text'}"))
        else:
            lines.append((False, f"rollback '{run.name}' was cut off"))
    if not lines:
        why = ""
        if journal.state in ("failed", "interrupted") and not journal.unknown_status:
            why = f" (Chaos Toolkit skips rollbacks when a run is {journal.state})"
        lines.append((None, f"No rollback ran{why}."))
    return lines
