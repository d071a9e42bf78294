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
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.slo import exposition as expo
from chaosllm.slo.promql import (
    availability_query,
    error_ratio_query,
    latency_quantile_query,
)
from chaosllm.thresholds import parse_threshold

__all__ = ["Condition", "parse_conditions", "ScrapeState", "build_query", "PROMETHEUS_KINDS"]

PROMETHEUS_KINDS = ("query", "error_ratio", "availability", "latency_quantile")
SCRAPE_KINDS = ("metric", "error_ratio", "availability", "latency_quantile")
_KNOWN = {"name", "above", "below", "for", "min_samples", "scrape", "labels", *PROMETHEUS_KINDS,
          *SCRAPE_KINDS}


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


def _where(index: int, raw: Mapping[str, Any]) -> str:
    name = raw.get("name")
    return f"guard condition {index + 1}" + (f" ({name!r})" if name else "")


def _label(kind: str, spec: Any) -> str:
    if kind == "latency_quantile" and isinstance(spec, Mapping):
        return f"latency_quantile({float(spec.get('quantile', 0.95)):g})"
    if kind == "query":
        return str(spec)
    if kind == "metric":
        return str(spec)
    return kind


def build_query(kind: str, spec: Any, where: str) -> str:
    """PromQL for a ``query``, ``error_ratio``, ``availability`` or ``latency_quantile`` spec."""
    if kind == "query":
        if not isinstance(spec, str) or not spec.strip():
            raise InvalidArgument(f"{where}: 'query' must be a PromQL string")
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"{where}: '{kind}' must be an object of arguments")
    args = dict(spec)
    try:
        if kind == "latency_quantile":
            return latency_quantile_query(
                args["metric"], args.get("quantile", 0.95), args.get("selector", ""),
                args.get("window", "1m"),
            )  # fmt: skip
        build = error_ratio_query if kind == "error_ratio" else availability_query
        return build(
            args.get("metric", "http_requests_total"), args.get("selector", ""),
            args.get("error_selector", 'status=~"5.."'), args.get("window", "1m"),
        )  # fmt: skip
    except KeyError as exc:
        raise InvalidArgument(f"{where}: '{kind}' needs '{exc.args[0]}'") from exc
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: {exc}") from exc


def parse_conditions(
    raw_conditions: Any, default_for: float, default_min_samples: int
) -> list[Condition]:
    """Check and parse the ``conditions`` argument; errors name the condition and field."""
    if not isinstance(raw_conditions, list) or not raw_conditions:
        raise InvalidArgument("guard: 'conditions' must be a non-empty list")
    parsed: list[Condition] = []
    for index, raw in enumerate(raw_conditions):
        if not isinstance(raw, Mapping):
            raise InvalidArgument(f"guard condition {index + 1} must be an object")
        where = _where(index, raw)
        unknown = sorted(set(raw) - _KNOWN)
        if unknown:
            raise InvalidArgument(f"{where}: unknown field(s) {', '.join(unknown)}")
        scrape = raw.get("scrape")
        allowed = SCRAPE_KINDS if scrape else PROMETHEUS_KINDS
        kinds = [k for k in allowed if k in raw]
        if len(kinds) != 1:
            raise InvalidArgument(
                f"{where}: give exactly one of {', '.join(allowed)}"
                + (" (with 'scrape')" if scrape else "")
            )
        ops = [k for k in ("above", "below") if k in raw]
        if len(ops) != 1:
            raise InvalidArgument(f"{where}: give exactly one of 'above' or 'below'")
        kind, op_key = kinds[0], ops[0]
        threshold = parse_threshold(raw[op_key], f"{where}: '{op_key}'")
        for_seconds = parse_duration(raw.get("for", default_for), f"{where}: 'for'")
        min_samples = raw.get("min_samples", default_min_samples)
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
            raise InvalidArgument(f"{where}: 'min_samples' must be an integer >= 1")
        spec = raw[kind]
        labels = raw.get("labels") or {}
        if scrape:
            if not isinstance(scrape, str) or not scrape.startswith(("http://", "https://")):
                raise InvalidArgument(f"{where}: 'scrape' must be an http(s) URL of a /metrics page")
            if kind == "metric":
                if not isinstance(spec, str):
                    raise InvalidArgument(f"{where}: 'metric' must be a metric name")
            elif not isinstance(spec, Mapping) or "metric" not in spec:
                raise InvalidArgument(f"{where}: '{kind}' needs 'metric'")
            query = None
        else:
            query = build_query(kind, spec, where)
        parsed.append(
            Condition(
                index=index, kind=kind, spec=spec, op=">" if op_key == "above" else "<",
                threshold=threshold, label=str(raw.get("name") or _label(kind, spec)),
                scrape_url=scrape or None, for_seconds=for_seconds, min_samples=min_samples,
                query=query, labels=dict(labels),
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
