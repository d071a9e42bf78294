"""The SLO file: ``slos: [{name, objective, window, indicator}]`` in YAML.

.. code-block:: yaml

    slos:
      - name: api_availability
        objective: 99.9%            # met when the ratio is >= 0.999
        window: 30d
        indicator:
          ratio:
            good: http_requests_total{job="api",status!~"5.."}
            total: http_requests_total{job="api"}
      - name: api_latency_p95
        objective: 500ms            # met when p95 <= 0.5 s
        window: 5m
        indicator:
          latency: {metric: http_request_duration_seconds, quantile: 0.95, selector: 'job="api"'}
      - name: error_rate
        objective: "<1%"            # an explicit comparison
        window: 5m
        indicator:
          query: >-
            sum(rate(http_requests_total{status=~"5.."}[$window]))
            / sum(rate(http_requests_total[$window]))

``ratio`` takes ``good`` (or ``bad``) and ``total`` series selectors of
counters; ``latency`` takes a histogram; ``query`` is raw PromQL in which
``$window`` stands for the window. An objective is a number, a percentage
or a duration, optionally prefixed by ``>=``, ``>``, ``<=`` or ``<``; without
a prefix a ratio must reach it and a latency or query must stay at or under
it. ``target`` is accepted as another name for ``objective``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError, InvalidArgument
from chaosllm.slo.promql import check_window, latency_quantile_query
from chaosllm.thresholds import parse_threshold

__all__ = ["SLO", "load_slos", "find_slo", "parse_objective"]

_COMPARISON = re.compile(r"^\s*(>=|<=|>|<)?\s*(.+?)\s*$")
_SELECTOR = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$", re.S)


@dataclass(frozen=True)
class SLO:
    """One objective of the SLO file."""

    name: str
    objective: float
    comparison: str
    window: str
    kind: str  # ratio, latency or query
    indicator: dict[str, Any]

    def query(self, window: str | None = None) -> str:
        """The PromQL of the indicator over ``window`` (default: the SLO's own)."""
        span = check_window(window) if window else self.window
        spec = self.indicator
        if self.kind == "latency":
            return latency_quantile_query(
                spec["metric"], spec.get("quantile", 0.95), spec.get("selector", ""), span
            )
        if self.kind == "query":
            return str(spec["query"]).replace("$window", span)
        total = f"sum(rate({spec['total']}[{span}]))"
        if "good" in spec:
            return f"sum(rate({spec['good']}[{span}])) / {total}"
        return f"1 - ((sum(rate({spec['bad']}[{span}])) or vector(0)) / {total})"

    def met(self, value: float) -> bool:
        return {
            ">=": value >= self.objective,
            ">": value > self.objective,
            "<=": value <= self.objective,
            "<": value < self.objective,
        }[self.comparison]

    def burn_rate(self, value: float) -> float | None:
        """How fast the error budget burns: 1.0 uses it exactly over the window.

        None for latency objectives, whose quantile carries no error budget.
        """
        if self.kind == "latency":
            return None
        if self.comparison in (">=", ">"):
            budget = 1.0 - self.objective
            return None if budget <= 0 else max(0.0, 1.0 - value) / budget
        return None if self.objective <= 0 else value / self.objective


def parse_objective(value: Any, default_comparison: str, what: str) -> tuple[str, float]:
    """``"<1%"`` -> ("<", 0.01); ``"500ms"`` -> (default, 0.5); 0.999 -> (default, 0.999)."""
    if isinstance(value, str):
        match = _COMPARISON.match(value)
        if match is None:
            raise InvalidArgument(f"{what}: {value!r} is not an objective")
        return match.group(1) or default_comparison, parse_threshold(match.group(2), what)
    return default_comparison, parse_threshold(value, what)


def _indicator(raw: Any, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigurationError(f"{where}: field 'indicator' needs exactly one of ratio, latency, query")
    kind, spec = next(iter(raw.items()))
    if kind == "query":
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigurationError(f"{where}: field 'indicator.query' must be a PromQL string")
        return kind, {"query": spec}
    if kind == "latency":
        if not isinstance(spec, dict) or not isinstance(spec.get("metric"), str):
            raise ConfigurationError(f"{where}: field 'indicator.latency.metric' is required")
        return kind, dict(spec)
    if kind == "ratio":
        if not isinstance(spec, dict) or "total" not in spec or ("good" in spec) == ("bad" in spec):
            raise ConfigurationError(
                f"{where}: field 'indicator.ratio' needs 'total' and one of 'good' or 'bad'"
            )
        for key in ("good", "bad", "total"):
            if key in spec and not (isinstance(spec[key], str) and _SELECTOR.match(spec[key].strip())):
                raise ConfigurationError(
                    f"{where}: field 'indicator.ratio.{key}' must be a series selector "
                    f"such as http_requests_total{{job=\"api\"}}"
                )
        return kind, {k: str(v).strip() for k, v in spec.items()}
    raise ConfigurationError(
        f"{where}: field 'indicator' has unknown kind {kind!r} (use ratio, latency or query)"
    )


def _entry(raw: Any, index: int, path: str) -> SLO:
    name = raw.get("name") if isinstance(raw, dict) else None
    where = f"{path}: slos[{index}]" + (f" ({name!r})" if name else "")
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: each entry must be a mapping")
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{where}: field 'name' is required")
    kind, spec = _indicator(raw.get("indicator"), where)
    objective = raw.get("objective", raw.get("target"))
    if objective is None:
        raise ConfigurationError(f"{where}: field 'objective' is required")
    default = ">=" if kind == "ratio" else "<="
    try:
        comparison, value = parse_objective(objective, default, f"{where}: field 'objective'")
        window = check_window(str(raw.get("window", "")), f"{where}: field 'window'")
        slo = SLO(name, value, comparison, window, kind, spec)
        slo.query()  # builds, so a bad latency quantile or metric name is reported here
    except InvalidArgument as exc:
        raise ConfigurationError(str(exc)) from exc
    return slo


def load_slos(path: str | Path) -> list[SLO]:
    """Read and check an SLO file; errors name the file, the entry and the field."""
    import yaml

    shown = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"could not read SLO file {shown}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{shown}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("slos"), list):
        raise ConfigurationError(f"{shown}: expected a top-level 'slos' list")
    slos = [_entry(raw, i, shown) for i, raw in enumerate(data["slos"])]
    names = [s.name for s in slos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"{shown}: duplicate SLO name(s) {', '.join(duplicates)}")
    return slos


def find_slo(path: str | Path, name: str) -> SLO:
    """The SLO called ``name`` in the file at ``path``."""
    slos = load_slos(path)
    for slo in slos:
        if slo.name == name:
            return slo
    known = ", ".join(s.name for s in slos) or "none"
    raise ConfigurationError(f"{path}: no SLO named {name!r} (the file defines: {known})")
