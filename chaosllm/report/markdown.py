"""Markdown report of one journal, in the layout of the design's report template.

The verdict first; Date, Experiment, Duration, Target; Hypothesis; Results
(each steady-state probe and SLO with the observed value against its
threshold); Faults (effect, evidence, real window, time to recover);
Observations; Actions (the rollbacks); Metrics. Text from the journal is escaped so that it
cannot become Markdown or HTML markup.
"""

from __future__ import annotations

import re

from chaosllm.report._format import (
    actions,
    fault_line,
    mark,
    observations,
    observed,
    state_text,
    took,
    verdict,
    when,
)
from chaosllm.report.journal import ActivityRun, Journal, MetricSeries, short

__all__ = ["render_markdown", "md", "code"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!{}])")


def md(text: object) -> str:
    """Escape journal text so that a Markdown renderer shows it literally."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _result_line(run: ActivityRun) -> str:
    limit = run.threshold.text if run.threshold else "no tolerance"
    kind = "SLO" if run.threshold and run.threshold.slo else "probe"
    return (
        f"- {mark(run)} {kind} **{md(run.name)}** ({run.phase}): "
        f"observed {md(observed(run))}, threshold {md(limit)}"
    )


def code(text: str) -> str:
    """A Markdown code span, literal whatever ``text`` holds (PromQL, shell, ...)."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _empty_text(series: MetricSeries) -> str:
    query = f" ({code(series.query)})" if series.query else ""
    why = f": {md(series.error)}" if series.error else ""
    return f"**{md(series.name)}**{query}{why}"


def _metric_line(series: MetricSeries) -> str:
    unit = f" {md(series.unit)}" if series.unit else ""
    query = f" ({code(series.query)})" if series.query else ""
    values = [y for _, y in series.points]
    text = (
        f"- **{md(series.name)}**{query}: "
        f"min {short(min(values))}{unit}, max {short(max(values))}{unit}, "
        f"last {short(values[-1])}{unit} over {len(values)} samples"
    )
    if series.threshold is not None:
        missed = sum(1 for y in values if not series.within(y))
        side = "below" if series.bound == "lower" else "above"
        text += f"; threshold {short(series.threshold)}{unit}, {missed} of {len(values)} {side} it"
    return text


def mark_ok(ok: bool | None) -> str:
    return "" if ok is None else ("✅ " if ok else "❌ ")


def render_markdown(journal: Journal) -> str:
    out = [
        "# Chaos Experiment Report",
        "",
        f"**Verdict**: {verdict(journal)}  ",
        f"**Date**: {when(journal.start)}  ",
        f"**Experiment**: {md(journal.title)}  ",
        f"**Duration**: {took(journal.duration)}  ",
        f"**Target**: {md(journal.target or 'not recorded')}  ",
        f"**Run state**: {state_text(journal)}  ",
        f"**Probe success**: {journal.probe_success:g}% of the checks that ran",
        "",
        "## Hypothesis",
        md(journal.hypothesis or "No steady-state hypothesis."),
    ]
    if journal.description:
        out += ["", md(journal.description)]
    out += ["", "## Results"]
    out += [_result_line(run) for run in journal.probes] or ["- No steady-state probe ran."]
    faults = journal.chaosllm_faults
    out += ["", "## Faults"] + ([f"- {md(fault_line(f))}" for f in faults] or ["- No chaosllm fault ran."])
    out += ["", "## Observations"] + [f"- {md(line)}" for line in observations(journal)]
    out += ["", "## Actions"] + [f"- {mark_ok(ok)}{md(text)}" for ok, text in actions(journal)]
    out += ["", "## Metrics"]
    if journal.metrics:
        out += [_metric_line(series) for series in journal.metrics if series.points]
        empty = [_empty_text(series) for series in journal.metrics if not series.points]
        if empty:
            out.append("- No samples: " + "; ".join(empty))
    else:
        out.append("- No metric series in this journal.")
    return "\n".join(out) + "\n"
