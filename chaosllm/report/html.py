"""Self-contained HTML report of one journal: no script, no font, no network.

The page holds the verdict and why, a summary, the SLO table, the faults
(effect, evidence, real window, time to recover), a timeline of the
activities with the real fault windows shaded, one chart per query that the
metrics control recorded, the method and the rollbacks. Styles are inline; charts are
inline SVG (:mod:`chaosllm.report.charts`). Every text from the journal is
escaped.
"""

from __future__ import annotations

from chaosllm.report._format import (
    actions,
    observations,
    observed,
    recovery_text,
    took,
    when,
    window_text,
)
from chaosllm.report.charts import esc, timeline
from chaosllm.report.journal import ActivityRun, Journal, short
from chaosllm.report.metric_chart import metric_charts
from chaosllm.report.verdict import effect_text

__all__ = ["render_html", "page", "STYLE"]

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:960px;
color:#1d2329;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #dde;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f5f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-all}
.state,.verdict{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;
white-space:nowrap}.verdict{font-size:16px;padding:3px 12px}
.completed,.passed{background:#dff3e4}.deviated,.failed{background:#fbe0e0}
.interrupted{background:#fff1cc}.aborted{background:#f5d5f0}.inconclusive{background:#e3e6f3}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}dt{color:#556}
svg{display:block;margin:6px 0;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#333}
svg .fault{fill:#f2b8b5;fill-opacity:.45}svg .bar.ok{fill:#4c9a5f}svg .bar.bad{fill:#c9423a}
svg .bar.cut{fill:#d9a400}svg .bar.rollback.ok{fill:#5577aa}
svg .axis{stroke:#99a;fill:#556}svg .series{fill:none;stroke-width:1.6}
svg .grid{stroke:#e4e7ee;stroke-width:1}svg .tick,svg .unit{fill:#556}
svg .chart-title{font-weight:600}svg .spark .series{stroke:#2a62b8}
svg .threshold{stroke:#c9423a;stroke-dasharray:6 4;stroke-width:1.3}
svg .threshold-label{fill:#c9423a}.ok{color:#2d7a41;font-weight:700}.bad{color:#b3261e;font-weight:700}
.unsure{color:#4a55a2;font-weight:700}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-2px}
"""


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def _ok(ok: bool | None) -> str:
    if ok is None:
        return ""
    return '<span class="ok">✓</span> ' if ok else '<span class="bad">✗</span> '


def _slo_table(journal: Journal) -> str:
    rows = []
    for run in journal.probes:
        limit = run.threshold.text if run.threshold else "no tolerance"
        rows.append(
            f"<tr><td>{_ok(run.passed if run.counted else None)}</td><td>{esc(run.name)}</td>"
            f"<td>{esc(run.phase)}</td>"
            f"<td>{'SLO' if run.threshold and run.threshold.slo else 'probe'}</td>"
            f"<td>{esc(observed(run))}</td><td>{esc(limit)}</td></tr>"
        )
    if not rows:
        return "<p>No steady-state probe ran.</p>"
    return (
        "<table><thead><tr><th></th><th>Probe</th><th>Phase</th><th>Kind</th><th>Observed</th>"
        f"<th>Threshold</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _fault_table(journal: Journal) -> str:
    rows = []
    for fault in journal.chaosllm_faults:
        rows.append(
            f"<tr><td>{_ok(fault.effect == 'observed')}</td><td>{esc(fault.name)}</td>"
            f"<td>{esc(fault.kind)}</td><td>{esc(fault.target)}</td>"
            f'<td class="effect {esc(fault.effect)}">{esc(effect_text(fault))}</td>'
            f"<td>{esc(window_text(fault))}</td><td>{esc(recovery_text(fault))}</td></tr>"
        )
    if not rows:
        return "<p>No chaosllm fault ran.</p>"
    return (
        "<table><thead><tr><th></th><th>Fault</th><th>Kind</th><th>Target</th><th>Effect</th>"
        "<th>Real window</th><th>Time to recover</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _activity_table(runs: list[ActivityRun]) -> str:
    rows = []
    for run in runs:
        detail = run.error or run.output
        rows.append(
            f"<tr><td>{_ok(run.passed)}</td><td>{esc(run.name)}</td><td>{esc(run.type)}</td>"
            f"<td><code>{esc(run.provider)}</code></td><td>{esc(run.status)}</td>"
            f'<td class="num">{run.duration:.3f}&nbsp;s</td>'
            f"<td><code>{esc(short(detail, 300))}</code></td></tr>"
        )
    return (
        "<table><thead><tr><th></th><th>Activity</th><th>Type</th><th>Provider</th>"
        "<th>Status</th><th>Time</th><th>Output or error</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_html(journal: Journal) -> str:
    items = [f"<li>{esc(line)}</li>" for line in observations(journal, with_reasons=False)]
    done = [f"<li>{_ok(ok)}{esc(text)}</li>" for ok, text in actions(journal)]
    reasons = "".join(f"<li>{esc(reason)}</li>" for reason in journal.verdict_reasons)
    body = [
        f"<h1>{esc(journal.title)}</h1>",
        f'<p><span class="verdict {esc(journal.verdict)}">{esc(journal.verdict)}</span></p>',
        f'<ul class="why">{reasons}</ul>' if reasons else "",
        "<dl>",
        f'<dt>Run state</dt><dd><span class="state {esc(journal.state)}">{esc(journal.state)}</span></dd>',
        f"<dt>Date</dt><dd>{esc(when(journal.start))}</dd>",
        f"<dt>Duration</dt><dd>{esc(took(journal.duration))}</dd>",
        f"<dt>Target</dt><dd>{esc(journal.target or 'not recorded')}</dd>",
        f"<dt>Probe success</dt><dd>{journal.probe_success:g}% of the checks that ran</dd>",
        f"<dt>Journal</dt><dd><code>{esc(journal.path)}</code></dd>",
        "</dl>",
        "<h2>Hypothesis</h2>",
        f"<p>{esc(journal.hypothesis or 'No steady-state hypothesis.')}</p>",
        f"<p>{esc(journal.description)}</p>" if journal.description else "",
        "<h2>Results</h2>",
        _slo_table(journal),
        "<h2>Faults</h2>",
        _fault_table(journal),
        "<h2>Timeline</h2>",
        '<p class="legend"><span style="background:#f2b8b5"></span>real fault window'
        '<span style="background:#4c9a5f"></span>passed<span style="background:#c9423a"></span>'
        'failed<span style="background:#d9a400"></span>cut off</p>',
        timeline(journal),
        "<h2>Observations</h2>",
        f"<ul>{''.join(items)}</ul>",
        "<h2>Actions</h2>",
        f"<ul>{''.join(done)}</ul>",
        "<h2>Metrics</h2>",
        metric_charts(journal) or "<p>No metric series in this journal.</p>",
        "<h2>Method</h2>",
        _activity_table(journal.method) if journal.method else "<p>The method did not run.</p>",
    ]
    if journal.rollbacks:
        body += ["<h2>Rollbacks</h2>", _activity_table(journal.rollbacks)]
    return page(f"Chaos report: {journal.title}", "\n".join(body))
