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
from chaosllm.schemas import first_problem
from chaosllm.slo.promql import check_window, latency_quantile_query
from chaosllm.thresholds import parse_threshold

__all__ = ["SLO", "load_slos", "find_slo", "parse_objective"]

_COMPARISON = re.compile(r"^\s*(>=|<=|>|<)?\s*(.+?)\s*$")
SCHEMA = Path(__file__).with_name("slo-file.schema.json")


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


def _entry(raw: dict[str, Any], where: str) -> SLO:
    """An entry the schema accepted, with what a schema cannot check: numbers and PromQL."""
    (kind, spec), = raw["indicator"].items()
    spec = {"query": spec} if kind == "query" else dict(spec)
    if kind == "ratio":
        spec = {k: str(v).strip() for k, v in spec.items()}
    default = ">=" if kind == "ratio" else "<="
    try:
        comparison, value = parse_objective(raw["objective"], default, f"{where}: field 'objective'")
        window = check_window(raw["window"], f"{where}: field 'window'")
        slo = SLO(raw["name"], value, comparison, window, kind, spec)
        slo.query()  # builds, so a bad metric name is reported here
    except InvalidArgument as exc:
        raise ConfigurationError(str(exc)) from exc
    return slo


def load_slos(path: str | Path) -> list[SLO]:
    """Read and check an SLO file; errors name the file, the entry, the field and the rule."""
    import yaml

    shown = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"could not read SLO file {shown}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{shown}: not valid YAML: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("slos"), list):
        # ``target`` is another name for ``objective``
        data["slos"] = [
            {**raw, "objective": raw["target"]}
            if isinstance(raw, dict) and "objective" not in raw and "target" in raw else raw
            for raw in data["slos"]
        ]  # fmt: skip
    problem = first_problem(data, SCHEMA, entry_depth=2)
    if problem is not None:
        entry, text = problem
        raise ConfigurationError(f"{_where(shown, data, entry)}: {text}")
    slos = [
        _entry(raw, _where(shown, data, ("slos", index))) for index, raw in enumerate(data["slos"])
    ]
    names = [s.name for s in slos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"{shown}: duplicate SLO name(s) {', '.join(duplicates)}")
    return slos


def _where(shown: str, data: Any, entry: tuple[Any, ...]) -> str:
    """``slos.yaml: slos[2] ('error_rate')`` for an entry; ``slos.yaml`` for the file."""
    if len(entry) < 2:
        return shown
    raw = data["slos"][entry[1]]
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{shown}: slos[{entry[1]}]" + (f" ({name!r})" if isinstance(name, str) and name else "")


def find_slo(path: str | Path, name: str) -> SLO:
    """The SLO called ``name`` in the file at ``path``."""
    slos = load_slos(path)
    for slo in slos:
        if slo.name == name:
            return slo
    known = ", ".join(s.name for s in slos) or "none"
    raise ConfigurationError(f"{path}: no SLO named {name!r} (the file defines: {known})")
