"""Guard conditions: parsed from the control's arguments, fetched, judged.

A condition reads one number from Prometheus (``query``, ``error_ratio``,
``availability``, ``latency_quantile``) or from a direct scrape of a
``/metrics`` page (``scrape`` plus ``metric``, ``error_ratio``,
``availability`` or ``latency_quantile``), and compares it with ``above`` or
``below``. See :mod:`chaosllm.controls.guard` for the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.schemas import first_problem
from chaosllm.slo import exposition as expo
from chaosllm.slo.promql import PROMETHEUS_KINDS, build_query
from chaosllm.thresholds import parse_threshold

__all__ = ["Condition", "parse_conditions", "ScrapeState", "build_query", "PROMETHEUS_KINDS"]

SCRAPE_KINDS = ("metric", "error_ratio", "availability", "latency_quantile")
SCHEMA = Path(__file__).with_name("guard-conditions.schema.json")


@dataclass
class Condition:
    """One abort condition and its breach streak."""

    index: int
    kind: str
    spec: Any
    op: str  # ">" or "<"
    threshold: float
    label: str
    scrape_url: str | None
    for_seconds: float
    min_samples: int
    query: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    streak: int = 0
    streak_since: float | None = None
    triggered: bool = False

    @property
    def source(self) -> str:
        return "metrics" if self.scrape_url else "prometheus"

    @property
    def text(self) -> str:
        return f"{self.label} {self.op} {self.threshold:g}"

    def breaching(self, value: float | None) -> bool:
        if value is None:
            return False
        return value > self.threshold if self.op == ">" else value < self.threshold

    def observe(self, breaching: bool, now: float) -> bool:
        """Feed one judged sample; True when the breach is confirmed now."""
        if not breaching:
            self.streak, self.streak_since = 0, None
            return False
        self.streak += 1
        if self.streak_since is None:
            self.streak_since = now
        return (
            not self.triggered
            and self.streak >= self.min_samples
            and now - self.streak_since >= self.for_seconds
        )


def _where(index: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, Mapping) else None
    return f"guard condition {index + 1}" + (f" ({name!r})" if name else "")


def _label(kind: str, spec: Any) -> str:
    if kind == "latency_quantile" and isinstance(spec, Mapping):
        return f"latency_quantile({float(spec.get('quantile', 0.95)):g})"
    if kind == "query":
        return str(spec)
    if kind == "metric":
        return str(spec)
    return kind


def parse_conditions(
    raw_conditions: Any, default_for: float, default_min_samples: int
) -> list[Condition]:
    """Check and parse the ``conditions`` argument; errors name the condition, the field and the rule.

    ``guard-conditions.schema.json`` checks the shape; what it cannot (a
    threshold or duration that parses, PromQL that builds) is checked here.
    """
    problem = first_problem(raw_conditions, SCHEMA, entry_depth=1)
    if problem is not None:
        entry, text = problem
        where = _where(entry[0], raw_conditions[entry[0]]) if entry else "guard: 'conditions'"
        raise InvalidArgument(f"{where}: {text}")
    if isinstance(default_min_samples, bool) or not isinstance(default_min_samples, int) or (
        default_min_samples < 1
    ):
        raise InvalidArgument("guard: 'min_samples' must be an integer >= 1")
    parsed: list[Condition] = []
    for index, raw in enumerate(raw_conditions):
        where = _where(index, raw)
        scrape = raw.get("scrape")
        kind = next(k for k in (SCRAPE_KINDS if scrape else PROMETHEUS_KINDS) if k in raw)
        op_key = "above" if "above" in raw else "below"
        threshold = parse_threshold(raw[op_key], f"{where}: field '{op_key}'")
        for_seconds = parse_duration(raw.get("for", default_for), f"{where}: field 'for'")
        spec = raw[kind]
        parsed.append(
            Condition(
                index=index, kind=kind, spec=spec, op=">" if op_key == "above" else "<",
                threshold=threshold, label=str(raw.get("name") or _label(kind, spec)),
                scrape_url=scrape or None, for_seconds=for_seconds,
                min_samples=raw.get("min_samples", default_min_samples),
                query=None if scrape else build_query(kind, spec, where),
                labels=dict(raw.get("labels") or {}),
            )  # fmt: skip
        )
    return parsed


class ScrapeState:
    """Values of one ``/metrics`` page, judged against the previous scrape."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def value(self, condition: Condition, samples: list[expo.Sample]) -> float | None:
        spec, labels = condition.spec, condition.labels
        if condition.kind == "metric":
            return expo.total(samples, spec, labels)
        metric = spec["metric"]
        if condition.kind == "latency_quantile":
            current = expo.buckets(samples, metric, {**labels, **spec.get("labels", {})})
            before = self._previous.get(condition.index)
            self._previous[condition.index] = current
            if before is None:
                return None
            delta = {le: current[le] - before.get(le, 0.0) for le in current}
            if any(v < 0 for v in delta.values()):
                return None  # counter reset: this scrape is a new baseline
            return expo.bucket_quantile(float(spec.get("quantile", 0.95)), delta)
        every = {**labels, **spec.get("labels", {})}
        errors = {**every, **spec.get("errors", {"status": "5.."})}
        pair = (expo.total(samples, metric, errors) or 0.0, expo.total(samples, metric, every))
        before = self._previous.get(condition.index)
        self._previous[condition.index] = pair
        if before is None or pair[1] is None or before[1] is None:
            return None
        d_err, d_all = pair[0] - before[0], pair[1] - before[1]
        if d_all <= 0 or d_err < 0:
            return None
        ratio = d_err / d_all
        return ratio if condition.kind == "error_ratio" else 1.0 - ratio
