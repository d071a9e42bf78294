"""Small text helpers shared by the report writers."""

from __future__ import annotations

from datetime import datetime, timezone

from chaosllm.report.journal import ActivityRun, Journal, describe_breach, short

__all__ = [
    "STATE_MARK", "when", "took", "mark", "observed", "verdict", "summary_line", "observations",
    "actions",
]  # fmt: skip

STATE_MARK = {
    "completed": "✅ completed",
    "deviated": "❌ deviated",
    "failed": "❌ failed",
    "interrupted": "⚠️ interrupted",
    "aborted": "🛑 aborted",
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
    return "✅" if run.passed else "❌"


def observed(run: ActivityRun) -> str:
    if run.status == "failed":
        return "error: " + short(run.error or "the probe raised", 100)
    if run.status == "interrupted":
        return "not finished"
    if run.observed is None:
        return short(run.output, 60) if run.output else "none"
    return short(run.observed, 60)


def verdict(journal: Journal) -> str:
    return STATE_MARK.get(journal.state, journal.state)


def summary_line(journal: Journal) -> str:
    return (
        f"{journal.title}: {journal.state}, {took(journal.duration)}, "
        f"probe success {journal.probe_success:g}%"
    )


def observations(journal: Journal) -> list[str]:
    """Plain-text observations: why the run ended as it did, faults, failed activities."""
    lines = []
    if journal.reason:
        lines.append(journal.reason[:1].upper() + journal.reason[1:])
    for breach in journal.breaches:
        at = f" at {when(breach.at, False)}" if breach.at else ""
        source = f" from {breach.source}" if breach.source else ""
        lines.append(f"Guard condition breached{at}: {describe_breach(breach)}{source}")
    if journal.aborted_by_guard and journal.guard_conditions:
        lines.append("Guard conditions: " + "; ".join(journal.guard_conditions))
    for fault in journal.faults:
        if fault.kind != "action":
            lines.append(
                f"Fault {fault.kind} '{fault.name}' on {fault.target} for "
                f"{took(fault.end - fault.start)}"
            )
    for run in journal.method + journal.during:
        if run.status == "failed":
            lines.append(f"{run.type.title()} '{run.name}' failed: {run.error or 'no error text'}")
        elif run.status == "interrupted":
            lines.append(f"{run.type.title()} '{run.name}' was cut off before it finished")
        elif run.tolerance_met is False:
            lines.append(f"Probe '{run.name}' was out of tolerance during the method")
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
