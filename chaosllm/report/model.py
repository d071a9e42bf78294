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

Journals of plain Chaos Toolkit experiments, with no chaosllm activity, are
read the same way. Secrets are never resolved again: the model only reads
what the journal holds, and hides values that look secret.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaosllm.journal_keys import FAULT_HANDLE_KEYS, GUARD_EXTENSION, METRICS_EXTENSION, SLO_TOLERANCE_MODULE

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

STATES = ("completed", "deviated", "failed", "interrupted", "aborted")
STATUSES = ("completed", "failed", "aborted", "interrupted")  # what chaoslib writes
OUTPUT_LIMIT = 2000

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|auth", re.I)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@", re.I)
# key=value pairs of libpq DSNs, URL queries and logs: password=, sslpassword=, api_key=, ...
_SECRET_PAIR = re.compile(
    r"(?P<key>[\w.-]*(?:pass(?:word|wd|phrase)|secret(?:[_-]?key)?|token|api[_-]?key|access[_-]?key)"
    r"[ \t]*=[ \t]*)(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)",
    re.I,
)
# "Authorization: Basic ...", "Authorization: Bearer ..." and a bare "Bearer <token>".
_AUTH_HEADER = re.compile(
    r"(?P<key>\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:bearer|basic|token)[ \t]+)?|\bbearer[ \t]+)"
    r"[^\s\"',;]+",
    re.I,
)


class JournalError(ValueError):
    """A file is missing or is not a Chaos Toolkit journal; the message names it."""


@dataclass(slots=True)
class Threshold:
    """What a steady-state probe's value was compared with."""

    kind: str  # below, above, between, slo_met, equals, range, regex, jsonpath, probe
    text: str  # human form: "< 0.5", "in [1, 5]", "matches ^ok$"
    lower: float | None = None
    upper: float | None = None
    slo: bool = False  # a chaosllm.slo tolerance


@dataclass(slots=True)
class FaultWindow:
    name: str
    kind: str
    target: str
    start: float
    end: float


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
    fault: FaultWindow | None = None

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)

    @property
    def passed(self) -> bool:
        """True when a probe met its tolerance, or an action succeeded."""
        if self.status != "succeeded":
            return False
        return self.tolerance_met is not False


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

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)

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
    def probe_success(self) -> float:
        """Percentage of expected steady-state probe checks that passed.

        Every declared probe is expected before and after the method; a check
        that never ran (the run failed early, was interrupted or aborted)
        counts as not passed, as in Litmus's probe success percentage.
        """
        expected = self.declared_probes * 2
        if self.unknown_status:
            return 0.0
        if expected == 0:
            return 100.0 if self.state == "completed" else 0.0
        passed = sum(1 for run in self.before + self.after if run.passed)
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
            names = [run.name for run in self.after if not run.passed]
            return "steady state deviated after the method: " + ", ".join(names)
        if self.state == "failed" and self.unknown_status:
            status = short(self.status, 60)
            return f"unexpected journal status {status!r}: Chaos Toolkit writes " + ", ".join(STATUSES)
        if self.state == "failed":
            names = [run.name for run in self.before + self.after if not run.passed]
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


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def redact(value: Any, secret_values: frozenset[str] = frozenset()) -> Any:
    """``value`` with secret-looking keys, URL passwords, ``password=``-like pairs,
    authorization headers, bearer tokens and known secrets hidden."""
    if isinstance(value, str):
        text = _URL_PASSWORD.sub(r"\g<scheme>:***@", value) if "@" in value else value
        text = _SECRET_PAIR.sub(r"\g<key>***", text) if "=" in text else text
        text = _AUTH_HEADER.sub(r"\g<key>***", text)
        for secret in secret_values:
            text = text.replace(secret, "***")
        return text
    if isinstance(value, dict):
        return {
            k: "***" if isinstance(k, str) and _secret_key(k) else redact(v, secret_values)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, secret_values) for v in value]
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 string or a number; None if unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _provider_text(provider: Any) -> str:
    if not isinstance(provider, dict):
        return ""
    kind = provider.get("type", "")
    if kind == "python":
        return f"python {provider.get('module', '')}.{provider.get('func', '')}"
    if kind == "process":
        return f"process {provider.get('path', '')}"
    if kind == "http":
        url = provider.get("url", "")
        return f"http {provider.get('method', 'GET')} {redact(url) if isinstance(url, str) else ''}"
    return str(kind)


def _threshold(tolerance: Any) -> Threshold | None:
    """How a tolerance reads in a report; None for a probe with no tolerance."""
    if tolerance is None:
        return None
    if isinstance(tolerance, bool):
        return Threshold("equals", f"= {str(tolerance).lower()}")
    number = _number(tolerance)
    if number is not None:
        return Threshold("equals", f"= {short(tolerance)}", number, number)
    if isinstance(tolerance, str):
        return Threshold("equals", f"= {short(tolerance, 60)}")
    if isinstance(tolerance, list):
        if len(tolerance) == 2 and all(_number(v) is not None for v in tolerance):
            low, high = float(tolerance[0]), float(tolerance[1])
            return Threshold("range", f"in [{short(tolerance[0])}, {short(tolerance[1])}]", low, high)
        return Threshold("equals", "one of " + short(tolerance, 60))
    if not isinstance(tolerance, dict):
        return Threshold("equals", short(tolerance, 60))
    kind = tolerance.get("type")
    if kind == "regex":
        return Threshold("regex", f"matches {short(tolerance.get('pattern', ''), 60)}")
    if kind == "jsonpath":
        text = f"{short(tolerance.get('path', ''), 60)}"
        if "expect" in tolerance:
            text += f" = {short(tolerance['expect'], 40)}"
        return Threshold("jsonpath", text)
    if kind == "range":
        bounds = tolerance.get("range")
        bounds = bounds if isinstance(bounds, list) else []
        first = _number(bounds[0]) if len(bounds) > 0 else None
        last = _number(bounds[1]) if len(bounds) > 1 else None
        return Threshold("range", f"in {short(bounds, 40)}", first, last)
    if kind == "probe":
        provider = _dict(tolerance.get("provider"))
        args = _dict(provider.get("arguments"))
        if provider.get("module") == SLO_TOLERANCE_MODULE:
            return _slo_threshold(str(provider.get("func", "")), args)
        return Threshold("probe", _provider_text(provider))
    return Threshold("equals", short(tolerance, 60))


def _limit(value: Any) -> tuple[str, float | None]:
    """Text and number of a threshold: 0.5, "1%" (0.01) or "500ms" (0.5)."""
    number = _number(value)
    if number is not None:
        return short(value, 30), number
    text = short(value, 30)
    try:
        if text.endswith("%"):
            return text, float(text[:-1]) / 100
        if text.endswith("ms"):
            return text, float(text[:-2]) / 1000
        if text.endswith("s"):
            return text, float(text[:-1])
    except ValueError:
        pass
    return text, _number_text(text)


def _slo_threshold(func: str, args: dict[str, Any]) -> Threshold:
    """The bounds of a chaosllm.slo tolerance, as written in its arguments."""
    equal = "=" if args.get("inclusive") else ""
    if func in ("below", "above"):
        text, value = _limit(args.get("threshold", 0.0))
        if func == "below":
            return Threshold("below", f"<{equal} {text}", None, value, slo=True)
        return Threshold("above", f">{equal} {text}", value, None, slo=True)
    if func == "between":
        (low_text, low), (high_text, high) = _limit(args.get("lower", 0.0)), _limit(
            args.get("upper", 0.0)
        )
        return Threshold("between", f"in [{low_text}, {high_text}]", low, high, slo=True)
    if func == "slo_met":
        burn = args.get("max_burn_rate")
        suffix = f", burn rate <= {short(burn, 20)}" if burn is not None else ""
        return Threshold("slo_met", f"SLO met{suffix}", slo=True)
    return Threshold("probe", f"{SLO_TOLERANCE_MODULE}.{func}", slo=True)


def _observed(output: Any, provider: Any, target: Any = None) -> Any:
    """The value a tolerance looked at: a process's exit code, an HTTP status, ..."""
    if isinstance(output, dict) and isinstance(target, str) and target in output:
        value = output[target]
        return value if not isinstance(value, dict | list) else short(value, 60)
    if isinstance(output, dict):
        kind = provider.get("type") if isinstance(provider, dict) else None
        if kind in ("process", "http") and "status" in output:
            return output["status"]
        for key in ("value", "observed", "ratio"):
            if key in output and not isinstance(output[key], dict | list):
                return output[key]
    if isinstance(output, dict | list):
        return short(output, 60)
    return output


def _fault(output: Any) -> FaultWindow | None:
    if not isinstance(output, dict) or not FAULT_HANDLE_KEYS.issubset(output):
        return None
    start = _timestamp(output.get("started_at"))
    if start is None:
        return None
    end = _timestamp(output.get("expires_at"))
    return FaultWindow(
        str(output.get("name", "")), str(output.get("kind", "")), str(output.get("target", "")),
        start, end if end is not None else start,
    )  # fmt: skip


def _run(raw: Any, phase: str, secrets: frozenset[str], detail: bool = True) -> ActivityRun:
    if not isinstance(raw, dict):
        raw = {}
    activity = raw.get("activity") if isinstance(raw.get("activity"), dict) else {}
    provider = _dict(activity.get("provider"))
    output = raw.get("output")
    status = raw.get("status")
    error = raw.get("exception") if detail else None
    if isinstance(error, list):
        # A traceback's last line is the error; chaoslib's own wrapper adds nothing.
        error = "".join(str(line) for line in error).strip().splitlines()[-1:] or [""]
        error = error[0].removeprefix("chaoslib.exceptions.ActivityFailed: ")
    run = ActivityRun(
        name=str(activity.get("name", "(unnamed)")),
        type=str(activity.get("type", "action")),
        phase=phase,
        status=str(status) if status else "interrupted",
        start=_timestamp(raw.get("start")),
        end=_timestamp(raw.get("end")),
        provider=_provider_text(provider),
        output="" if output is None or not detail else short(redact(output, secrets), OUTPUT_LIMIT),
        error=short(redact(str(error), secrets), OUTPUT_LIMIT) if error else None,
        background=bool(activity.get("background")),
    )
    if "tolerance" in activity and phase in ("before", "after", "during"):
        run.threshold = _threshold(activity.get("tolerance"))
        met = raw.get("tolerance_met")
        run.tolerance_met = met if isinstance(met, bool) else None
        tolerance = activity.get("tolerance")
        target = _dict(_dict(_dict(tolerance).get("provider")).get("arguments")).get("target")
        target = target or _dict(tolerance).get("target")
        run.observed = redact(_observed(output, provider, target), secrets)
    if phase == "method" and run.type == "action":
        run.fault = _fault(output)
        if run.fault is None and run.start is not None:
            run.fault = FaultWindow(run.name, "action", "", run.start, run.end or run.start)
        elif run.fault is not None and run.fault.end == run.fault.start and run.end:
            run.fault.end = max(run.end, run.fault.start)
    return run


def _secret_values(experiment: dict[str, Any]) -> frozenset[str]:
    """Inline secret values written in the experiment, to hide wherever they appear."""
    found: set[str] = set()
    secrets = experiment.get("secrets")
    if isinstance(secrets, dict):
        for scope in secrets.values():
            if isinstance(scope, dict):
                for value in scope.values():
                    if isinstance(value, str) and len(value) >= 4:
                        found.add(value)
    return frozenset(found)


def _weight(experiment: dict[str, Any]) -> float:
    for tag in _list(experiment.get("tags")):
        if isinstance(tag, str) and tag.startswith("weight:"):
            value = _number_text(tag[7:])
            if value is not None:
                return value
    configuration = experiment.get("configuration")
    if isinstance(configuration, dict) and "chaosllm_weight" in configuration:
        raw = configuration["chaosllm_weight"]
        value = _number(raw) if not isinstance(raw, str) else _number_text(raw)
        if value is not None:
            return value
    return 1.0


def _number_text(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _extensions(journal: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = []
    for source in (journal, _dict(journal.get("experiment"))):
        for ext in _list(source.get("extensions")):
            if isinstance(ext, dict) and ext.get("name") == name:
                found.append(ext)
    return found


def _state(raw_status: Any, deviated: bool, guard_aborted: bool, before: list[ActivityRun],
           after: list[ActivityRun]) -> str:  # fmt: skip
    if guard_aborted or raw_status == "aborted":
        return "aborted"
    if raw_status is None or raw_status == "interrupted":
        return "interrupted"
    if raw_status == "failed" or raw_status not in STATUSES:
        return "failed"
    if deviated:
        return "deviated"
    # chaoslib writes "completed" when the steady state was not met before the method.
    if any(not run.passed for run in before) or any(run.status == "failed" for run in after):
        return "failed"
    return "completed"


def _status_text(raw_status: Any) -> str | None:
    if raw_status is None or isinstance(raw_status, str):
        return raw_status
    return short(raw_status, 60)


def _target(experiment: dict[str, Any], faults: list[FaultWindow]) -> str:
    for tag in _list(experiment.get("tags")):
        if isinstance(tag, str) and tag.startswith("target:"):
            return tag[7:]
    targets = list(dict.fromkeys(f.target for f in faults if f.target))
    return ", ".join(targets)


def parse_journal(data: Any, path: str = "<journal>", detail: bool = True) -> Journal:
    """Build the model from a decoded journal; :class:`JournalError` if it is not one.

    With ``detail=False`` the outputs and errors of activities are not turned
    into text: a summary over many journals never shows them.
    """
    if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict):
        raise JournalError(f"{path} is not a Chaos Toolkit journal: it has no 'experiment' object")
    experiment = data["experiment"]
    secrets = _secret_values(experiment)
    steady = _dict(data.get("steady_states"))

    def phase(name: str) -> list[ActivityRun]:
        state = steady.get(name)
        if name == "during":
            runs = state if isinstance(state, list) else []
            out: list[ActivityRun] = []
            for item in runs:
                probes = _list(_dict(item).get("probes"))
                out.extend(_run(p, "during", secrets, detail) for p in probes)
            return out
        if not isinstance(state, dict):
            return []
        return [_run(p, name, secrets, detail) for p in _list(state.get("probes"))]

    before, after, during = phase("before"), phase("after"), phase("during")
    method = [_run(r, "method", secrets, detail) for r in _list(data.get("run"))]
    rollbacks = [_run(r, "rollback", secrets, detail) for r in _list(data.get("rollbacks"))]
    hypothesis = _dict(experiment.get("steady-state-hypothesis"))
    declared = hypothesis.get("probes") if isinstance(hypothesis, dict) else None

    guard = _extensions(data, GUARD_EXTENSION)
    guard_aborted = any(bool(ext.get("aborted")) for ext in guard)
    breaches = [
        Breach(
            condition=short(b.get("condition", ""), 200),
            observed=_number(b.get("observed")),
            threshold=_number(b.get("threshold")),
            at=_timestamp(b.get("at")),
            source=short(redact(b.get("source", ""), secrets), 200),
        )
        for ext in guard
        for b in _list(ext.get("breaches"))
        if isinstance(b, dict)
    ]
    conditions = [short(redact(c, secrets), 200) for ext in guard for c in _list(ext.get("conditions"))]

    metrics: list[MetricSeries] = []
    window: tuple[float, float] | None = None
    for ext in _extensions(data, METRICS_EXTENSION):
        span = _dict(ext.get("window"))
        start, end = _timestamp(span.get("start")), _timestamp(span.get("end"))
        if start is not None and end is not None:
            window = (start, end)
        for series in _list(ext.get("series")):
            if not isinstance(series, dict):
                continue
            points = []
            for point in _list(series.get("points")):
                if isinstance(point, list | tuple) and len(point) == 2:
                    x, y = _timestamp(point[0]), _number_text(str(point[1]))
                    if x is not None and y is not None:
                        points.append((x, y))
            metrics.append(MetricSeries(
                name=str(series.get("name", "")), query=str(series.get("query", "")),
                unit=series.get("unit") if isinstance(series.get("unit"), str) else None,
                threshold=_number(series.get("threshold")), points=points,
                error=short(redact(series["error"], secrets), 300) if series.get("error") else None,
            ))  # fmt: skip

    faults = [run.fault for run in method if run.fault is not None]
    start, end = _timestamp(data.get("start")), _timestamp(data.get("end"))
    if end is None:
        ends = [r.end for r in method + rollbacks + before + after if r.end is not None]
        end = max(ends) if ends else start
    raw_status = data.get("status")
    deviated = bool(data.get("deviated"))
    tags = [str(t) for t in _list(experiment.get("tags"))]
    return Journal(
        path=path,
        title=str(experiment.get("title") or Path(path).stem),
        description=str(experiment.get("description") or ""),
        hypothesis=str(hypothesis.get("title", "")) if isinstance(hypothesis, dict) else "",
        state=_state(raw_status, deviated, guard_aborted, before, after),
        status=_status_text(raw_status),
        deviated=deviated,
        start=start,
        end=end,
        tags=tags,
        weight=_weight(experiment),
        target=_target(experiment, faults),
        before=before,
        after=after,
        during=during,
        method=method,
        rollbacks=rollbacks,
        declared_probes=len(declared) if isinstance(declared, list) else 0,
        faults=faults,
        aborted_by_guard=guard_aborted,
        guard_conditions=conditions,
        breaches=breaches,
        metrics=metrics,
        metrics_window=window,
    )


def load_journal(path: str | Path, detail: bool = True) -> Journal:
    """Read and parse one journal file; errors name the file."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except FileNotFoundError:
        raise JournalError(f"journal {name} does not exist") from None
    except IsADirectoryError:
        raise JournalError(f"journal {name} is a directory, not a file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JournalError(f"journal {name} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise JournalError(f"could not read journal {name}: {exc.strerror or exc}") from None
    return parse_journal(data, name, detail)
