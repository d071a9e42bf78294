"""The one normalised journal model that every report is built from.

A Chaos Toolkit journal is read once into :class:`Journal`; Markdown, HTML,
JUnit XML, the JSON summary and the GameDay summary only ever look at the
model. The model knows every state a journal can be in::

    completed    the method ran and the steady state held before and after
    deviated     the steady state no longer held after the method
    failed       the steady state was not met before the method, or a probe
                 raised (chaoslib may still write status "completed" here), or
                 the journal's status is not one chaoslib writes
    interrupted  the run was cut off (status "interrupted", or no status)
    aborted      chaoslib aborted it, or the chaosllm guard did (the reason
                 is in the journal's "chaosllm-guard" extension)

Beside the state, every run gets one verdict (passed, failed, inconclusive,
aborted, interrupted), which the outputs show first: the rules are in
:mod:`~chaosllm.report.verdict`. Journals of plain Chaos Toolkit experiments,
with no chaosllm activity, are read the same way. Secrets are never resolved again: the model only reads
what the journal holds, and hides values that look secret.

This module is the public face of the model; the parts live in
:mod:`~chaosllm.report.journal` (the model), :mod:`~chaosllm.report.parse`
(reading a journal), :mod:`~chaosllm.report.activities` (activity runs),
:mod:`~chaosllm.report.faults` (real fault windows and effects),
:mod:`~chaosllm.report.recovery` (time to recover),
:mod:`~chaosllm.report.verdict` (the verdict), :mod:`~chaosllm.report.thresholds` (how a tolerance reads),
:mod:`~chaosllm.report.extensions` (the guard's verdict and metric series)
and :mod:`chaosllm.redaction` (hiding secrets).
"""

from __future__ import annotations

from chaosllm.redaction import redact_value as redact
from chaosllm.report.journal import (
    STATES,
    STATUSES,
    ActivityRun,
    Breach,
    FaultWindow,
    Journal,
    JournalError,
    MetricSeries,
    Threshold,
    short,
)
from chaosllm.report.parse import load_journal, parse_journal

__all__ = [
    "STATES",
    "STATUSES",
    "ActivityRun",
    "Breach",
    "FaultWindow",
    "Journal",
    "JournalError",
    "MetricSeries",
    "Threshold",
    "load_journal",
    "parse_journal",
    "redact",
    "short",
]
