"""The journal model that every report reads: a run's state and verdict, its
activity runs, thresholds, faults (real windows, effects), guard breaches and
metric series.

:mod:`chaosllm.report.parse` builds it from a journal; the writers only read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "STATES",
    "STATUSES",
    "ActivityRun",
    "Breach",
    "FaultWindow",
    "LoadRun",
    "Journal",
    "JournalError",
    "MetricSeries",
    "Threshold",
    "describe_breach",
    "short",
]

STATES = ("completed", "deviated", "failed", "interrupted", "aborted")
STATUSES = ("completed", "failed", "aborted", "interrupted")  # what chaoslib writes


class JournalError(ValueError):
    """A file is missing or is not a Chaos Toolkit journal; the message names it."""


def _seconds(start: float | None, end: float | None) -> float:
    """How long from ``start`` to ``end``; 0 when either is unknown."""
    if start is None or end is None:
        return 0.0
    return max(0.0, end - start)


@dataclass(slots=True)
class Threshold:
    """What a steady-state probe's value was compared with."""

    kind: str  # below, above, between, slo_met, status, equals, range, regex, jsonpath, probe
    text: str  # human form: "< 0.5", "in [1, 5]", "matches ^ok$"
    lower: float | None = None
    upper: float | None = None
    slo: bool = False  # a chaosllm.slo tolerance


@dataclass(slots=True)
class FaultWindow:
    """When a fault was in place and, for a chaosllm fault action, whether it bit.

    ``end`` is the real end: when a rollback removed the fault, or its own expiry
    (``ended_by`` says which). ``recovery`` is the time from ``end`` to the first
    metric sample at which every SLO series was back within its threshold."""

    name: str
    kind: str
    target: str
    start: float
    end: float
    activity: str = ""  # the method action that applied it
    chaosllm: bool = False  # a chaosllm fault action, which reports its effect
    effect: str = "unknown"  # one of chaosllm.journal_keys.EFFECTS
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # why the effect is "none" or "unknown"
    ended_by: str = ""  # "expired", "removed by rollback 'x'", ...
    planned_end: float | None = None  # the handle's expires_at
    recovery: float | None = None  # seconds; None: did not recover, or not measurable
    recovery_measured: bool = False  # SLO series with samples after ``end`` exist
    recovery_note: str = "no SLO series recorded"  # why it was not measured


@dataclass(slots=True)
class ActivityRun:
    """One run of a probe or action, in one phase of the experiment."""

    name: str
    type: str  # "probe" or "action"
    phase: str  # "before", "after", "during", "method", "rollback"
    status: str  # "succeeded", "failed", "interrupted" (cut off, no status)
    start: float | None
    end: float | None
    provider: str
    output: str  # short, redacted text of the output
    error: str | None = None
    tolerance_met: bool | None = None
    threshold: Threshold | None = None
    observed: Any = None
    background: bool = False
    module: str = ""  # a python provider's module and function
    func: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None  # the output, when it is a mapping
    applicable: bool = True  # False: the probe said its check does not apply yet

    @property
    def duration(self) -> float:
        return _seconds(self.start, self.end)

    @property
    def passed(self) -> bool:
        """True when a probe met its tolerance, or an action succeeded."""
        if self.status != "succeeded":
            return False
        return self.tolerance_met is not False

    @property
    def counted(self) -> bool:
        """Whether the run counts as a pass or a fail (a not-applicable check does not)."""
        return self.applicable or self.status != "succeeded"


@dataclass(slots=True)
class Breach:
    condition: str
    observed: float | None
    threshold: float | None
    at: float | None
    source: str


@dataclass(slots=True)
class MetricSeries:
    name: str
    query: str
    unit: str | None
    threshold: float | None
    points: list[tuple[float, float]]
    error: str | None = None  # why the control recorded no points
    bound: str = "upper"  # the threshold is a maximum ("upper") or a minimum ("lower")

    def within(self, value: float) -> bool:
        """Whether ``value`` meets the threshold (a series with none always does)."""
        if self.threshold is None:
            return True
        return value >= self.threshold if self.bound == "lower" else value <= self.threshold


@dataclass(slots=True)
class LoadRun:
    """A load the experiment ran (the sandbox load control or its actions)."""

    name: str
    where: str  # "control", or the activity that reported it
    requests: int


@dataclass(slots=True)
class Journal:
    path: str
    title: str
    description: str
    hypothesis: str
    state: str
    status: str | None  # what the journal says (as text), None when the run was cut off
    deviated: bool
    start: float | None
    end: float | None
    tags: list[str]
    weight: float
    target: str
    before: list[ActivityRun] = field(default_factory=list)
    after: list[ActivityRun] = field(default_factory=list)
    during: list[ActivityRun] = field(default_factory=list)
    method: list[ActivityRun] = field(default_factory=list)
    rollbacks: list[ActivityRun] = field(default_factory=list)
    declared_probes: int = 0
    faults: list[FaultWindow] = field(default_factory=list)
    aborted_by_guard: bool = False
    guard_conditions: list[str] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    metrics: list[MetricSeries] = field(default_factory=list)
    metrics_window: tuple[float, float] | None = None
    loads: list[LoadRun] = field(default_factory=list)
    # Each probe check a Litmus fault ran (run_litmus_fault's probe statuses): (label, passed).
    litmus_probes: list[tuple[str, bool]] = field(default_factory=list)
    verdict: str = "passed"  # one of chaosllm.journal_keys.VERDICTS
    verdict_reasons: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return _seconds(self.start, self.end)

    @property
    def key(self) -> str:
        """Groups runs of the same experiment, for trends."""
        return self.title

    @property
    def unknown_status(self) -> bool:
        """The journal's status is there but is not one chaoslib writes."""
        return self.status is not None and self.status not in STATUSES

    @property
    def probes(self) -> list[ActivityRun]:
        return self.before + self.during + self.after

    @property
    def slo_checks(self) -> list[ActivityRun]:
        return [run for run in self.probes if run.threshold is not None and run.threshold.slo]

    @property
    def chaosllm_faults(self) -> list[FaultWindow]:
        return [fault for fault in self.faults if fault.chaosllm]

    @property
    def probe_success(self) -> float:
        """Percentage of the steady-state probe checks that ran and passed.

        A check that never ran (the run was cut short) is not counted, nor is
        one that said it does not apply yet. The probes of a Litmus fault count
        as checks too, as Litmus counts them."""
        if self.unknown_status:
            return 0.0
        checks = [run.passed for run in self.before + self.after if run.counted]
        checks += [passed for _, passed in self.litmus_probes]
        if not checks:
            return 100.0 if self.state == "completed" else 0.0
        return round(100.0 * sum(checks) / len(checks), 2)

    @property
    def expected_success(self) -> float:
        """Percentage of the expected probe checks that passed, Litmus's way: every
        declared probe is expected before and after the method, and a check that
        never ran counts as not passed (not-applicable checks are left out)."""
        if self.unknown_status:
            return 0.0
        skipped = sum(1 for run in self.before + self.after if not run.counted)
        expected = self.declared_probes * 2 - skipped + len(self.litmus_probes)
        if expected <= 0:
            return 100.0 if self.state == "completed" else 0.0
        passed = sum(1 for run in self.before + self.after if run.passed and run.counted)
        passed += sum(1 for _, ok in self.litmus_probes if ok)
        return round(100.0 * min(passed, expected) / expected, 2)

    @property
    def reason(self) -> str:
        """One line saying why the run did not complete, or "" when it did."""
        if self.state == "aborted":
            if self.breaches:
                conditions = dict.fromkeys(b.condition for b in self.breaches)
                return "aborted by the guard: " + "; ".join(conditions)
            if self.aborted_by_guard:
                return "aborted by the guard"
            return "aborted by Chaos Toolkit (an unexpected error in the method)"
        if self.state == "interrupted":
            cut = [run.name for run in self.method + self.rollbacks if run.status == "interrupted"]
            where = f" during {', '.join(cut)}" if cut else ""
            return f"interrupted{where}" + ("" if self.status else " (the journal has no status)")
        if self.state == "deviated":
            names = [run.name for run in self.after if run.counted and not run.passed]
            return "steady state deviated after the method: " + ", ".join(names)
        if self.state == "failed" and self.unknown_status:
            status = short(self.status, 60)
            return f"unexpected journal status {status!r}: Chaos Toolkit writes " + ", ".join(STATUSES)
        if self.state == "failed":
            names = [run.name for run in self.before + self.after if run.counted and not run.passed]
            return "steady state not met: " + ", ".join(names or ["a probe failed"])
        return ""


def describe_breach(breach: Breach) -> str:
    observed = "no value" if breach.observed is None else short(breach.observed, 40)
    limit = "" if breach.threshold is None else f" (threshold {short(breach.threshold, 40)})"
    return f"{breach.condition}: observed {observed}{limit}"


def short(value: Any, limit: int = 120) -> str:
    """A one-line text of ``value`` cut to ``limit`` characters."""
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
