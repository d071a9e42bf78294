"""One probe or action run of a journal, as a report shows it: its status and
timing, its output and error as short redacted text, the threshold and observed
value of a probe, and what names its provider (module, function, arguments) so
that faults and their rollbacks can be paired (:mod:`chaosllm.report.faults`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chaosllm.redaction import redact_value
from chaosllm.report._values import as_dict, number, provider_text, timestamp
from chaosllm.report.journal import ActivityRun, short
from chaosllm.report.thresholds import threshold

__all__ = ["APPLICABLE_KEY", "OUTPUT_LIMIT", "activity_run", "criteria", "criterion_count", "secret_values"]

OUTPUT_LIMIT = 2000
# A steady-state probe whose check does not apply yet (a criterion about the fault
# period, checked before any fault ran) returns a mapping with this key set to
# false, and a "reason"; the report shows it as not applicable.
APPLICABLE_KEY = "applicable"


def secret_values(experiment: dict[str, Any]) -> frozenset[str]:
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


def _arguments(provider: dict[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """The provider's scalar arguments (what identifies a fault's target), redacted."""
    found = {}
    for key, value in as_dict(provider.get("arguments")).items():
        if isinstance(value, str | bool) or number(value) is not None:
            found[str(key)] = redact_value(value, secrets)
    return found


def activity_run(raw: Any, phase: str, secrets: frozenset[str], detail: bool = True) -> ActivityRun:
    """One run of a journal's ``run``, ``rollbacks`` or steady-state ``probes``.

    With ``detail=False`` its output and error are not turned into text."""
    if not isinstance(raw, dict):
        raw = {}
    activity = raw.get("activity") if isinstance(raw.get("activity"), dict) else {}
    provider = as_dict(activity.get("provider"))
    output = raw.get("output")
    status = raw.get("status")
    # A failed activity's error names why the run failed, in a summary too.
    error = raw.get("exception") if detail or status == "failed" else None
    if isinstance(error, list):
        # A traceback's last line is the error; chaoslib's own wrapper adds nothing.
        error = "".join(str(line) for line in error).strip().splitlines()[-1:] or [""]
        error = error[0].removeprefix("chaoslib.exceptions.ActivityFailed: ")
    python = provider.get("type") == "python"
    module = str(provider.get("module", "")) if python else ""
    run = ActivityRun(
        name=str(activity.get("name", "(unnamed)")),
        type=str(activity.get("type", "action")),
        phase=phase,
        status=str(status) if status else "interrupted",
        start=timestamp(raw.get("start")),
        end=timestamp(raw.get("end")),
        provider=provider_text(provider),
        output="" if output is None or not detail else short(redact_value(output, secrets), OUTPUT_LIMIT),
        error=short(redact_value(str(error), secrets), OUTPUT_LIMIT) if error else None,
        background=bool(activity.get("background")),
        module=module,
        func=str(provider.get("func", "")) if python else "",
        # Only chaosllm's faults, rollbacks and loads are paired or named by their arguments.
        arguments=_arguments(provider, secrets) if module.startswith("chaosllm.") else {},
        result=output if isinstance(output, dict) else None,
    )
    if "tolerance" in activity and phase in ("before", "after", "during"):
        run.threshold = threshold(activity.get("tolerance"), output)
        met = raw.get("tolerance_met")
        run.tolerance_met = met if isinstance(met, bool) else None
        tolerance = activity.get("tolerance")
        target = as_dict(as_dict(as_dict(tolerance).get("provider")).get("arguments")).get("target")
        target = target or as_dict(tolerance).get("target")
        run.observed = redact_value(_observed(output, provider, target), secrets)
    if phase in ("before", "after", "during") and isinstance(output, dict):
        run.applicable = output.get(APPLICABLE_KEY) is not False
    return run


def _parts(output: Any) -> list[dict[str, Any]]:
    """The SLOs of a result that judges several at once (``slo_status`` with ``names``)."""
    parts = output.get("slos") if isinstance(output, dict) else None
    if not isinstance(parts, list) or not parts:
        return []
    if not all(isinstance(p, dict) and "name" in p and "status" in p for p in parts):
        return []
    return parts


def criteria(raw: Any, phase: str, secrets: frozenset[str], detail: bool = True) -> list[ActivityRun]:
    """A steady-state probe's runs as criteria: one, or one per SLO when its result judges
    several SLOs, each named "<probe>: <SLO>" and judged by the probe's list tolerance."""
    run = activity_run(raw, phase, secrets, detail)
    activity = as_dict(as_dict(raw).get("activity"))
    tolerance = activity.get("tolerance")
    parts = _parts(as_dict(raw).get("output"))
    if not parts or not isinstance(tolerance, list):
        return [run]
    return [replace(
        run, name=f"{run.name}: {part['name']}", result=part,
        output=short(redact_value(part, secrets), OUTPUT_LIMIT) if detail else "",
        threshold=threshold(tolerance, part), tolerance_met=part["status"] in tolerance,
        observed=redact_value(_observed(part, None), secrets),
    ) for part in parts]  # fmt: skip


def criterion_count(probe: Any) -> int:
    """How many criteria a declared steady-state probe is: the SLOs of an ``slo_status`` with
    ``names``, else one."""
    provider = as_dict(as_dict(probe).get("provider"))
    names = as_dict(provider.get("arguments")).get("names")
    if provider.get("func") == "slo_status" and isinstance(names, list) and names:
        return len(names)
    return 1
