"""JUnit XML: one test suite per journal, one test case per probe run and method activity.

How journal outcomes map to JUnit, so that CI shows them as it shows tests:

- a steady-state probe out of tolerance (a deviation, or a steady state not
  met before the method) is a ``failure``;
- an activity that raised is an ``error``;
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

from chaosllm.report._format import observed
from chaosllm.report.journal import ActivityRun, Journal, short

__all__ = ["render_junit", "journal_suite"]

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


def _run_case(suite: ET.Element, classname: str, run: ActivityRun) -> str | None:
    """Add the test case of one run; returns "failure", "error" or None."""
    label = f"{run.phase}: {run.name}" if run.type == "probe" else run.name
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
    if run.tolerance_met is False:
        message = f"{run.name}: observed {observed(run)}, expected {limit or 'its tolerance'}"
        _outcome(case, "failure", "ToleranceNotMet", message, out)
        return "failure"
    return None


def journal_suite(journal: Journal, parent: ET.Element) -> ET.Element:
    classname = journal.title
    stamp = datetime.fromtimestamp(journal.start or 0, tz=timezone.utc)
    suite = ET.SubElement(parent, "testsuite", {
        "name": _x(journal.title), "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S"),
        "time": f"{journal.duration:.3f}", "hostname": "chaos",
    })  # fmt: skip
    props = ET.SubElement(suite, "properties")
    for name, value in (("journal", journal.path), ("state", journal.state),
                        ("probe_success", f"{journal.probe_success:g}")):  # fmt: skip
        ET.SubElement(props, "property", {"name": name, "value": _x(value)})
    counts = {"failure": 0, "error": 0}
    runs: Iterable[ActivityRun] = journal.before + journal.method + journal.during + journal.after
    total = 0
    for run in runs:
        total += 1
        outcome = _run_case(suite, classname, run)
        if outcome:
            counts[outcome] += 1
    if journal.state in ("interrupted", "aborted") or journal.unknown_status:
        total += 1
        counts["error"] += 1
        case = _case(suite, classname, f"experiment {journal.state}", journal.duration)
        _outcome(case, "error", journal.state, journal.reason, journal.reason)
        _out(case, journal.reason)
    suite.set("tests", str(total))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", "0")
    return suite


def render_junit(journals: Iterable[Journal]) -> str:
    root = ET.Element("testsuites", {"name": "chaos experiments"})
    tests = failures = errors = 0
    seconds = 0.0
    for journal in journals:
        suite = journal_suite(journal, root)
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        seconds += journal.duration
    root.attrib.update(tests=str(tests), failures=str(failures), errors=str(errors),
                       time=f"{seconds:.3f}")  # fmt: skip
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
