"""The GameDay summary: many runs of many experiments on one page.

For each experiment: its runs' results (pass, fail or aborted), SLO
compliance, probe success and its trend when it ran several times. Over all
runs, the resilience score as Litmus defines it::

    score = sum(weight × probe success %) / sum(weight)

The weight comes from the experiment's tag ``weight:N`` or its configuration
key ``chaosllm_weight``; it is 1 otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chaosllm.report._format import when
from chaosllm.report.charts import esc, sparkline
from chaosllm.report.journal import Journal
from chaosllm.report.markdown import md
from chaosllm.report.summary import iso

__all__ = ["GameDay", "ExperimentRuns", "RESULT", "build_gameday", "render_gameday_markdown",
           "render_gameday_html", "render_gameday_json", "describe"]  # fmt: skip

RESULT = {
    "completed": "pass",
    "deviated": "fail",
    "failed": "fail",
    "aborted": "aborted",
    "interrupted": "aborted",
}
MARK = {"pass": "✅", "fail": "❌", "aborted": "🛑"}
# Marks drawn by ordinary text fonts, for HTML viewed where no emoji font is installed.
HTML_MARK = {"pass": '<b class="ok">✓</b>', "fail": '<b class="bad">✗</b>', "aborted": '<b class="bad">■</b>'}


@dataclass(slots=True)
class Run:
    """What the summary keeps of one journal (not its activities)."""

    path: str
    start: float | None
    state: str
    weight: float
    probe_success: float
    slo_met: int
    slo_total: int
    reason: str

    @property
    def result(self) -> str:
        return RESULT[self.state]


@dataclass(slots=True)
class ExperimentRuns:
    title: str
    runs: list[Run] = field(default_factory=list)

    @property
    def last(self) -> Run:
        return self.runs[-1]

    @property
    def weight(self) -> float:
        return self.last.weight

    @property
    def mean_success(self) -> float:
        return round(sum(r.probe_success for r in self.runs) / len(self.runs), 2)

    @property
    def trend(self) -> str:
        if len(self.runs) < 2:
            return ""
        first, last = self.runs[0].probe_success, self.last.probe_success
        arrow = "↑" if last > first else "↓" if last < first else "→"
        return f"{first:g}% {arrow} {last:g}%"

    @property
    def slo(self) -> tuple[int, int]:
        return sum(r.slo_met for r in self.runs), sum(r.slo_total for r in self.runs)


@dataclass(slots=True)
class GameDay:
    experiments: list[ExperimentRuns]
    skipped: list[str]

    @property
    def runs(self) -> list[Run]:
        return [run for exp in self.experiments for run in exp.runs]

    @property
    def score(self) -> float:
        runs = self.runs
        weights = sum(r.weight for r in runs)
        if not weights:
            return 0.0
        return round(sum(r.weight * r.probe_success for r in runs) / weights, 2)

    @property
    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "aborted": 0}
        for run in self.runs:
            out[run.result] += 1
        return out

    @property
    def slo_compliance(self) -> float | None:
        met = sum(exp.slo[0] for exp in self.experiments)
        total = sum(exp.slo[1] for exp in self.experiments)
        return round(100.0 * met / total, 2) if total else None

    @property
    def span(self) -> tuple[float | None, float | None]:
        starts = [r.start for r in self.runs if r.start is not None]
        return (min(starts), max(starts)) if starts else (None, None)


def _run(journal: Journal) -> Run:
    checks = journal.slo_checks
    return Run(
        journal.path, journal.start, journal.state, journal.weight, journal.probe_success,
        sum(1 for c in checks if c.passed), len(checks), journal.reason,
    )  # fmt: skip


def build_gameday(journals: Iterable[Journal], skipped: list[str] | None = None) -> GameDay:
    groups: dict[str, ExperimentRuns] = {}
    for journal in journals:
        groups.setdefault(journal.key, ExperimentRuns(journal.key)).runs.append(_run(journal))
    for group in groups.values():
        group.runs.sort(key=lambda r: (r.start or 0.0, r.path))
    ordered = sorted(groups.values(), key=lambda g: g.title.casefold())
    return GameDay(ordered, skipped or [])


def _slo_text(met: int, total: int) -> str:
    return f"{met}/{total} ({100.0 * met / total:.0f}%)" if total else "no SLO"


def _trend_marks(exp: ExperimentRuns, limit: int = 20, marks_of: dict[str, str] = MARK) -> str:
    marks = "".join(marks_of[r.result] for r in exp.runs[-limit:])
    return ("…" if len(exp.runs) > limit else "") + marks


def render_gameday_markdown(day: GameDay) -> str:
    counts, compliance = day.counts, day.slo_compliance
    first, last = day.span
    out = [
        "# GameDay Summary",
        "",
        f"**Runs**: {len(day.runs)} of {len(day.experiments)} experiments, "
        f"from {when(first)} to {when(last)}  ",
        f"**Results**: ✅ {counts['pass']} passed, ❌ {counts['fail']} failed, "
        f"🛑 {counts['aborted']} aborted or interrupted  ",
        f"**Resilience score**: {day.score:g}%  ",
        f"**SLO compliance**: {'no SLO checks' if compliance is None else f'{compliance:g}%'}",
        "",
        "## Experiments",
        "",
        "| Experiment | Weight | Runs | Last result | Probe success (mean) | SLO | Trend |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    for exp in day.experiments:
        last_run = exp.last
        state = last_run.state if last_run.state != "completed" else ""
        result = f"{MARK[last_run.result]} {last_run.result}" + (f" ({state})" if state else "")
        out.append(
            f"| {md(exp.title)} | {exp.weight:g} | {len(exp.runs)} | {result} | "
            f"{exp.mean_success:g}% | {_slo_text(*exp.slo)} | {_trend_marks(exp)} "
            f"{exp.trend} |"
        )
    problems = [(exp.title, r) for exp in day.experiments for r in exp.runs if r.reason]
    if problems:
        out += ["", "## Runs that did not pass", ""]
        for title, run in problems[:200]:
            out.append(f"- {MARK[run.result]} **{md(title)}** ({when(run.start)}): {md(run.reason)}")
        if len(problems) > 200:
            out.append(f"- … and {len(problems) - 200} more (see the JSON summary)")
    if day.skipped:
        out += ["", f"Skipped {len(day.skipped)} file(s) that are not journals."]
    return "\n".join(out) + "\n"


def render_gameday_html(day: GameDay, report_of: Callable[[str], str | None] | None = None) -> str:
    """The summary page; ``report_of(journal_path)`` gives a link to that run's report."""
    from chaosllm.report.html import page

    def title(exp: ExperimentRuns) -> str:
        href = report_of(exp.last.path) if report_of else None
        return f'<a href="{esc(href)}">{esc(exp.title)}</a>' if href else esc(exp.title)

    counts, compliance = day.counts, day.slo_compliance
    first, last = day.span
    rows = []
    for exp in day.experiments:
        last_run = exp.last
        rows.append(
            f"<tr><td>{title(exp)}</td><td class=\"num\">{exp.weight:g}</td>"
            f'<td class="num">{len(exp.runs)}</td>'
            f'<td><span class="state {esc(last_run.state)}">{HTML_MARK[last_run.result]} '
            f"{esc(last_run.state)}</span></td>"
            f'<td class="num">{exp.mean_success:g}%</td><td>{_slo_text(*exp.slo)}</td>'
            f"<td>{_trend_marks(exp, marks_of=HTML_MARK)} {esc(exp.trend)}"
            f"{sparkline([r.probe_success for r in exp.runs]) if len(exp.runs) > 1 else ''}</td>"
            "</tr>"
        )
    body = [
        "<h1>GameDay Summary</h1>",
        "<dl>",
        f"<dt>Runs</dt><dd>{len(day.runs)} of {len(day.experiments)} experiments</dd>",
        f"<dt>From</dt><dd>{esc(when(first))} to {esc(when(last))}</dd>",
        f"<dt>Results</dt><dd>{counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['aborted']} aborted or interrupted</dd>",
        f"<dt>Resilience score</dt><dd><strong>{day.score:g}%</strong> "
        "(Σ weight × probe success ÷ Σ weight)</dd>",
        f"<dt>SLO compliance</dt><dd>{'no SLO checks' if compliance is None else f'{compliance:g}%'}"
        "</dd></dl>",
        "<h2>Experiments</h2>",
        "<table><thead><tr><th>Experiment</th><th>Weight</th><th>Runs</th><th>Last result</th>"
        "<th>Probe success (mean)</th><th>SLO</th><th>Trend</th></tr></thead>",
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    problems = [(exp.title, r) for exp in day.experiments for r in exp.runs if r.reason][:200]
    if problems:
        items = "".join(
            f"<li>{HTML_MARK[r.result]} <strong>{esc(t)}</strong> ({esc(when(r.start))}): "
            f"{esc(r.reason)}</li>"
            for t, r in problems
        )
        body += ["<h2>Runs that did not pass</h2>", f"<ul>{items}</ul>"]
    return page("GameDay Summary", "\n".join(body))


def render_gameday_json(day: GameDay) -> str:
    data: dict[str, Any] = {
        "runs": len(day.runs),
        "results": day.counts,
        "resilience_score": day.score,
        "slo_compliance": day.slo_compliance,
        "experiments": [
            {
                "title": exp.title,
                "weight": exp.weight,
                "runs": [
                    {"journal": r.path, "start": iso(r.start), "state": r.state,
                     "result": r.result, "probe_success": r.probe_success,
                     "slo_met": r.slo_met, "slo_total": r.slo_total, "reason": r.reason}
                    for r in exp.runs
                ],  # fmt: skip
                "mean_probe_success": exp.mean_success,
                "trend": exp.trend,
            }
            for exp in day.experiments
        ],
        "skipped": day.skipped,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def describe(day: GameDay) -> str:
    """One line for the terminal."""
    counts = day.counts
    return (
        f"{len(day.runs)} runs of {len(day.experiments)} experiments: {counts['pass']} passed, "
        f"{counts['fail']} failed, {counts['aborted']} aborted; resilience score {day.score:g}%"
    )
