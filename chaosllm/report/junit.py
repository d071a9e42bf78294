"""JUnit XML: one test suite per journal (named uniquely), one test case per
criterion (each steady-state probe run before, during and after the method,
and each method activity) and one per fault effect and per load.

How journal outcomes map to JUnit, so that CI shows them as it shows tests:

- a steady-state probe out of tolerance (a deviation, or a steady state not
  met before the method) is a ``failure``; one whose check does not apply
  yet is ``skipped``;
- an activity that raised is an ``error``;
- a fault whose effect is ``none`` is a ``failure``, ``unknown`` is
  ``skipped`` (with the reason); a load that sent no request is a ``failure``;
- an interrupted or aborted run adds an ``error`` test case named after the
  experiment, and each activity cut off by it is an ``error`` too;
- so does a journal whose status is not one chaoslib writes (it is failed);
- ``system-out`` carries the observed value, the output or the reason.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from chaosllm.report._format import observed, recovery_text, window_text
from chaosllm.report.journal import ActivityRun, FaultWindow, Journal, short
from chaosllm.report.verdict import effect_text

__all__ = ["render_junit", "journal_suite", "suite_names"]

# Characters XML 1.0 cannot carry; a journal's output may hold any of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _out(case: ET.Element, text: str) -> None:
    ET.SubElement(case, "system-out").text = _x(text)


def _case(suite: ET.Element, classname: str, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", {"classname": _x(classname), "name": _x(name), "time": f"{seconds:.3f}"}
    )


def _outcome(case: ET.Element, tag: str, kind: str, message: str, text: str) -> None:
    node = ET.SubElement(case, tag, {"type": kind, "message": _x(short(message, 300))})
    node.text = _x(text)


def _run_case(suite: ET.Element, classname: str, run: ActivityRun, label: str) -> str | None:
    """Add the test case of one run; returns "failure", "error", "skipped" or None."""
    case = _case(suite, classname, label, run.duration)
    limit = run.threshold.text if run.threshold else ""
    out = f"{run.provider}\nobserved: {observed(run)}"
    out += f"\nthreshold: {limit}" if limit else ""
    out += f"\noutput: {run.output}" if run.output else ""
    _out(case, out)
    if run.status == "interrupted":
        _outcome(case, "error", "interrupted", f"{run.name} was cut off before it finished", out)
        return "error"
    if run.status == "failed":
        message = run.error or f"{run.name} failed"
        _outcome(case, "error", "ActivityFailed", message, message)
        return "error"
    if not run.counted:
        ET.SubElement(case, "skipped", {"message": _x(observed(run))})
        return "skipped"
    if run.tolerance_met is False:
        message = f"{run.name}: observed {observed(run)}, expected {limit or 'its tolerance'}"
        _outcome(case, "failure", "ToleranceNotMet", message, out)
        return "failure"
    return None


def _fault_case(suite: ET.Element, classname: str, fault: FaultWindow, label: str) -> str | None:
    case = _case(suite, classname, label, fault.end - fault.start)
    out = (f"{fault.kind} on {fault.target}\neffect: {effect_text(fault)}\nwindow: {window_text(fault)}"
           f"\ntime to recover: {recovery_text(fault)}")  # fmt: skip
    _out(case, out)
    if fault.effect == "none":
        _outcome(case, "failure", "NoEffect", f"fault {fault.name} had no effect: {effect_text(fault)}", out)
        return "failure"
    if fault.effect != "observed":
        ET.SubElement(case, "skipped", {"message": _x(short(f"effect {effect_text(fault)}", 300))})
        return "skipped"
    return None


def _unique(name: str, seen: set[str]) -> str:
    """``name``, or ``name #2``, ``#3``, ... when it is taken."""
    label, n = name, 1
    while label in seen:
        n += 1
        label = f"{name} #{n}"
    seen.add(label)
    return label


def journal_suite(journal: Journal, parent: ET.Element, name: str | None = None) -> ET.Element:
    classname = name or journal.title
    stamp = datetime.fromtimestamp(journal.start or 0, tz=timezone.utc)
    suite = ET.SubElement(parent, "testsuite", {
        "name": _x(classname), "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S"),
        "time": f"{journal.duration:.3f}", "hostname": "chaos",
    })  # fmt: skip
    props = ET.SubElement(suite, "properties")
    for key, value in (("verdict", journal.verdict), ("journal", journal.path), ("state", journal.state),
                       ("probe_success", f"{journal.probe_success:g}")):  # fmt: skip
        ET.SubElement(props, "property", {"name": key, "value": _x(value)})
    counts = {"failure": 0, "error": 0, "skipped": 0}
    seen: set[str] = set()
    runs: Iterable[ActivityRun] = journal.before + journal.method + journal.during + journal.after
    total = 0
    for run in runs:
        total += 1
        label = f"{run.phase}: {run.name}" if run.type == "probe" else run.name
        outcome = _run_case(suite, classname, run, _unique(label, seen))
        if outcome:
            counts[outcome] += 1
    for fault in journal.chaosllm_faults:
        total += 1
        outcome = _fault_case(suite, classname, fault, _unique(f"fault effect: {fault.name}", seen))
        if outcome:
            counts[outcome] += 1
    for load in journal.loads:
        total += 1
        case = _case(suite, classname, _unique(f"load: {load.name}", seen), 0.0)
        _out(case, f"{load.requests} requests ({load.where})")
        if load.requests == 0:
            counts["failure"] += 1
            _outcome(case, "failure", "NoLoad", f"load {load.name} sent no request ({load.where})", "")
    if journal.state in ("interrupted", "aborted") or journal.unknown_status:
        total += 1
        counts["error"] += 1
        case = _case(suite, classname, f"experiment {journal.state}", journal.duration)
        _outcome(case, "error", journal.state, journal.reason, journal.reason)
        _out(case, journal.reason)
    suite.set("tests", str(total))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    return suite


def suite_names(journals: list[Journal]) -> list[str]:
    """One unique name per journal: its title, with the file's name when titles repeat."""
    titles = [journal.title for journal in journals]
    seen: set[str] = set()
    names = []
    for journal in journals:
        name = journal.title
        if titles.count(name) > 1:
            name = f"{name} ({Path(journal.path).stem})"
        names.append(_unique(name, seen))
    return names


def render_junit(journals: Iterable[Journal]) -> str:
    root = ET.Element("testsuites", {"name": "chaos experiments"})
    tests = failures = errors = 0
    seconds = 0.0
    journals = list(journals)
    for journal, name in zip(journals, suite_names(journals), strict=True):
        suite = journal_suite(journal, root, name)
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        seconds += journal.duration
    root.attrib.update(tests=str(tests), failures=str(failures), errors=str(errors),
                       time=f"{seconds:.3f}")  # fmt: skip
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
