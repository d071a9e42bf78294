"""The GameDay summary: many runs of many experiments on one page.

For each experiment: its runs' verdicts, SLO compliance, run score and its
trend when it ran several times. Over all runs, the resilience score in
Litmus's weighted form::

    score = sum(weight × run score %) / sum(weight)

Only a passed run counts as full success; the run score of each verdict is
:data:`SCORE_RULE` (see :func:`chaosllm.report.verdict.run_score`), and the
probes a Litmus fault ran count as checks, as Litmus counts them. The weight
is Litmus's, from 0 to 10: from a weights file (``--weights``, experiment title
to weight, JSON or YAML), else the experiment's tag ``weight:N`` or its
configuration key ``chaosllm_weight``; it is 1 otherwise. Litmus's documented
example, weights 2, 4 and 8 with probe success 0 %, 100 % and 75 %, gives
(0 + 400 + 600) / 14 = 71.4 %.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosllm.journal_keys import VERDICTS
from chaosllm.report._format import when
from chaosllm.report.charts import esc, sparkline
from chaosllm.report.journal import Journal
from chaosllm.report.markdown import md
from chaosllm.report.summary import iso
from chaosllm.report.verdict import run_score

__all__ = ["GameDay", "ExperimentRuns", "SCORE_RULE", "MAX_WEIGHT", "build_gameday", "load_weights",
           "render_gameday_markdown", "render_gameday_html", "render_gameday_json", "describe"]  # fmt: skip

# Litmus's weights run from 0 (the experiment does not count) to 10.
MAX_WEIGHT = 10.0

MARK = {"passed": "✅", "failed": "❌", "inconclusive": "❔", "aborted": "🛑", "interrupted": "⚠️"}
# Marks drawn by ordinary text fonts, for HTML viewed where no emoji font is installed.
HTML_MARK = {
    "passed": '<b class="ok">✓</b>', "failed": '<b class="bad">✗</b>',
    "inconclusive": '<b class="unsure">?</b>', "aborted": '<b class="bad">■</b>',
    "interrupted": '<b class="bad">!</b>',
}  # fmt: skip
SCORE_RULE = (
    "a passed run counts its probe success (100 %); a failed run its probe success with each "
    "failed method activity as one more failed check; an inconclusive run half its probe "
    "success; an aborted or interrupted run the share of its expected checks that passed"
)


@dataclass(slots=True)
class Run:
    """What the summary keeps of one journal (not its activities)."""

    path: str
    start: float | None
    state: str
    verdict: str
    weight: float
    probe_success: float
    score: float  # what the run adds to the resilience score, in percent
    slo_met: int
    slo_total: int
    reason: str  # why it did not pass; "" when it passed


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
    def mean_score(self) -> float:
        return round(sum(r.score for r in self.runs) / len(self.runs), 2)

    @property
    def trend(self) -> str:
        if len(self.runs) < 2:
            return ""
        first, last = self.runs[0].score, self.last.score
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
        return round(sum(r.weight * r.score for r in runs) / weights, 2)

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for run in self.runs:
            out[run.verdict] += 1
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


def _check_weight(weight: float, where: str) -> float:
    if not 0 <= weight <= MAX_WEIGHT:
        raise ValueError(f"{where}: weight {weight:g} is outside Litmus's 0 to {MAX_WEIGHT:g}")
    return weight


def load_weights(path: str | Path) -> dict[str, float]:
    """A weights file: experiment title -> weight 0..10, as JSON or YAML."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as exc:
        raise ValueError(f"could not read the weights file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"the weights file {path} is not JSON or YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the weights file {path} must map experiment titles to weights, "
                         'such as {"Cache failure": 8}')
    weights = {}
    for title, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"the weights file {path}: {title!r} has weight {value!r}, not a number")
        weights[str(title)] = _check_weight(float(value), f"the weights file {path}: {title!r}")
    return weights


def _run(journal: Journal, weights: dict[str, float]) -> Run:
    checks = journal.slo_checks
    weight = weights.get(journal.title)
    if weight is None:
        weight = _check_weight(journal.weight, f"journal {journal.path} (tag weight:N or configuration "
                                               "chaosllm_weight)")
    return Run(
        journal.path, journal.start, journal.state, journal.verdict, weight,
        journal.probe_success, run_score(journal), sum(1 for c in checks if c.passed), len(checks),
        "; ".join(journal.verdict_reasons),
    )  # fmt: skip


def build_gameday(journals: Iterable[Journal], skipped: list[str] | None = None,
                  weights: dict[str, float] | None = None) -> GameDay:
    """Group the runs by experiment; ``weights`` (title -> 0..10) override the journals' own."""
    groups: dict[str, ExperimentRuns] = {}
    for journal in journals:
        groups.setdefault(journal.key, ExperimentRuns(journal.key)).runs.append(_run(journal, weights or {}))
    for group in groups.values():
        group.runs.sort(key=lambda r: (r.start or 0.0, r.path))
    ordered = sorted(groups.values(), key=lambda g: g.title.casefold())
    return GameDay(ordered, skipped or [])


def _slo_text(met: int, total: int) -> str:
    return f"{met}/{total} ({100.0 * met / total:.0f}%)" if total else "no SLO"


def _trend_marks(exp: ExperimentRuns, limit: int = 20, marks_of: dict[str, str] = MARK) -> str:
    marks = "".join(marks_of[r.verdict] for r in exp.runs[-limit:])
    return ("…" if len(exp.runs) > limit else "") + marks


def _results(counts: dict[str, int], marks: dict[str, str] | None = None) -> str:
    return ", ".join(f"{marks[v] + ' ' if marks else ''}{counts[v]} {v}" for v in VERDICTS)


def render_gameday_markdown(day: GameDay) -> str:
    counts, compliance = day.counts, day.slo_compliance
    first, last = day.span
    out = [
        "# GameDay Summary",
        "",
        f"**Runs**: {len(day.runs)} of {len(day.experiments)} experiments, "
        f"from {when(first)} to {when(last)}  ",
        f"**Results**: {_results(counts, MARK)}  ",
        f"**Resilience score**: {day.score:g}% (Σ weight × run score ÷ Σ weight: {SCORE_RULE})  ",
        f"**SLO compliance**: {'no SLO checks' if compliance is None else f'{compliance:g}%'}",
        "",
        "## Experiments",
        "",
        "| Experiment | Weight | Runs | Last verdict | Run score (mean) | SLO | Trend |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    for exp in day.experiments:
        last_run = exp.last
        state = f" (run {last_run.state})" if last_run.state not in ("completed", last_run.verdict) else ""
        result = f"{MARK[last_run.verdict]} {last_run.verdict}{state}"
        out.append(
            f"| {md(exp.title)} | {exp.weight:g} | {len(exp.runs)} | {result} | "
            f"{exp.mean_score:g}% | {_slo_text(*exp.slo)} | {_trend_marks(exp)} "
            f"{exp.trend} |"
        )
    problems = [(exp.title, r) for exp in day.experiments for r in exp.runs if r.verdict != "passed"]
    if problems:
        out += ["", "## Runs that did not pass", ""]
        for title, run in problems[:200]:
            out.append(
                f"- {MARK[run.verdict]} **{md(title)}** ({when(run.start)}): {run.verdict}: {md(run.reason)}"
            )
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
            f'<tr><td>{title(exp)}</td><td class="num">{exp.weight:g}</td>'
            f'<td class="num">{len(exp.runs)}</td>'
            f'<td><span class="verdict {esc(last_run.verdict)}">{HTML_MARK[last_run.verdict]} '
            f"{esc(last_run.verdict)}</span></td>"
            f'<td class="num">{exp.mean_score:g}%</td><td>{_slo_text(*exp.slo)}</td>'
            f"<td>{_trend_marks(exp, marks_of=HTML_MARK)} {esc(exp.trend)}"
            f"{sparkline([r.score for r in exp.runs]) if len(exp.runs) > 1 else ''}</td>"
            "</tr>"
        )
    body = [
        "<h1>GameDay Summary</h1>",
        "<dl>",
        f"<dt>Runs</dt><dd>{len(day.runs)} of {len(day.experiments)} experiments</dd>",
        f"<dt>From</dt><dd>{esc(when(first))} to {esc(when(last))}</dd>",
        f"<dt>Results</dt><dd>{esc(_results(counts))}</dd>",
        f"<dt>Resilience score</dt><dd><strong>{day.score:g}%</strong> "
        f"(Σ weight × run score ÷ Σ weight: {esc(SCORE_RULE)})</dd>",
        f"<dt>SLO compliance</dt><dd>{'no SLO checks' if compliance is None else f'{compliance:g}%'}"
        "</dd></dl>",
        "<h2>Experiments</h2>",
        "<table><thead><tr><th>Experiment</th><th>Weight</th><th>Runs</th><th>Last verdict</th>"
        "<th>Run score (mean)</th><th>SLO</th><th>Trend</th></tr></thead>",
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    problems = [(exp.title, r) for exp in day.experiments for r in exp.runs if r.verdict != "passed"][:200]
    if problems:
        items = "".join(
            f"<li>{HTML_MARK[r.verdict]} <strong>{esc(t)}</strong> ({esc(when(r.start))}): "
            f"{esc(r.verdict)}: {esc(r.reason)}</li>"
            for t, r in problems
        )
        body += ["<h2>Runs that did not pass</h2>", f"<ul>{items}</ul>"]
    return page("GameDay Summary", "\n".join(body))


def render_gameday_json(day: GameDay) -> str:
    data: dict[str, Any] = {
        "runs": len(day.runs),
        "results": day.counts,
        "resilience_score": day.score,
        "score_rule": SCORE_RULE,
        "slo_compliance": day.slo_compliance,
        "experiments": [
            {
                "title": exp.title,
                "weight": exp.weight,
                "runs": [
                    {
                        "verdict": r.verdict,
                        "journal": r.path,
                        "start": iso(r.start),
                        "state": r.state,
                        "probe_success": r.probe_success,
                        "score": r.score,
                        "slo_met": r.slo_met,
                        "slo_total": r.slo_total,
                        "reason": r.reason,
                    }
                    for r in exp.runs
                ],  # fmt: skip
                "mean_score": exp.mean_score,
                "trend": exp.trend,
            }
            for exp in day.experiments
        ],
        "skipped": day.skipped,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def describe(day: GameDay) -> str:
    """One line for the terminal."""
    return (
        f"{len(day.runs)} runs of {len(day.experiments)} experiments: {_results(day.counts)}; "
        f"resilience score {day.score:g}%"
    )
