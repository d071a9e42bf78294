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

Two optional top-level lists hold what every experiment on the target
shares, so that experiments need not repeat them: ``guard``, the abort
conditions of :mod:`chaosllm.controls.guard` (used when the guard has no
``conditions`` of its own), and ``metrics``, the series of
:mod:`chaosllm.controls.metrics` (used when it has no ``series``). Entries
of both may name an SLO of the file (``{slo: error_rate, window: 15s,
above: 5%}``); those controls check them.
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

__all__ = ["SLO", "SLOFile", "load_slos", "load_slo_file", "find_slo", "parse_objective"]

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
    unit: str | None = None  # "s" for latencies and durations, "ratio" for percentages

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
        slo = SLO(raw["name"], value, comparison, window, kind, spec, _unit(kind, raw["objective"]))
        slo.query()  # builds, so a bad metric name is reported here
    except InvalidArgument as exc:
        raise ConfigurationError(str(exc)) from exc
    return slo


def _unit(kind: str, objective: Any) -> str | None:
    """The unit of an objective as written: "500ms" or a latency -> "s", "99.9%" -> "ratio"."""
    text = str(objective).strip()
    if text.endswith("%"):
        return "ratio"
    if kind == "latency" or (isinstance(objective, str) and text[-1:].isalpha()):
        return "s"
    return None


@dataclass(frozen=True)
class SLOFile:
    """An SLO file: its SLOs, and the optional ``guard`` conditions and ``metrics``
    series that experiments on its target share (checked by those controls)."""

    path: str
    slos: list[SLO]
    guard: list[Any] | None = None
    metrics: list[Any] | None = None

    def slo(self, name: str) -> SLO:
        """The SLO called ``name``; ConfigurationError naming the ones there are."""
        for slo in self.slos:
            if slo.name == name:
                return slo
        known = ", ".join(s.name for s in self.slos) or "none"
        raise ConfigurationError(f"{self.path}: no SLO named {name!r} (the file defines: {known})")


def load_slos(path: str | Path) -> list[SLO]:
    """Read and check an SLO file; errors name the file, the entry, the field and the rule."""
    return load_slo_file(path).slos


def load_slo_file(path: str | Path) -> SLOFile:
    """Read and check an SLO file, with its shared ``guard`` and ``metrics`` sections."""
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
    return SLOFile(shown, slos, data.get("guard"), data.get("metrics"))


def _where(shown: str, data: Any, entry: tuple[Any, ...]) -> str:
    """``slos.yaml: slos[2] ('error_rate')`` for an entry; ``slos.yaml`` for the file."""
    if len(entry) < 2:
        return shown
    raw = data["slos"][entry[1]]
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{shown}: slos[{entry[1]}]" + (f" ({name!r})" if isinstance(name, str) and name else "")


def find_slo(path: str | Path, name: str) -> SLO:
    """The SLO called ``name`` in the file at ``path``."""
    return load_slo_file(path).slo(name)
