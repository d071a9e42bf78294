"""Guard conditions and metrics series shared through an SLO file.

The guard and the metrics control take ``slo_file`` (their argument, or the
setting ``slo_file`` / ``$CHAOSLLM_SLO_FILE``; a relative path is read from
the current directory). Then:

- a guard without ``conditions`` uses the file's ``guard`` list, and a
  metrics control without ``series`` the file's ``metrics`` list, so that the
  experiments on one target state them once;
- a condition or a series may name an SLO of the file instead of repeating
  its query: ``{"slo": "gateway_error_ratio", "window": "15s"}`` reads the
  SLO's indicator over ``window`` (default: the SLO's own window). Anything
  written next to ``slo`` (``name``, ``above``, ``below``, ``for``,
  ``unit``, ``threshold``...) is kept, and what is left out comes from the
  SLO: a condition without ``above`` or ``below`` breaches when the
  objective is missed (``<1%`` -> ``above: 0.01``, ``99.9%`` of a ratio ->
  ``below: 0.999``; the boundary itself counts as met), and a series gets
  the objective as its ``threshold`` (with ``bound: lower`` when the
  objective is a minimum, such as ``80%`` of a ratio) and the objective's
  unit (``s`` for a latency or a duration, ``ratio`` for a percentage).

References are replaced by plain ``query`` entries before the controls' own
checks run, so a reference behaves exactly like the query written out.
:func:`series_query` gives the query of one series of the ``metrics`` list
by name, for ``chaosllm.chaosmesh.probes.metric_during_fault``'s ``series``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosllm.errors import ConfigurationError, InvalidArgument

__all__ = ["resolve", "needs_slo_file", "slo_file_setting", "series_query"]

SETTING = "slo_file"
# (the control's argument, the SLO file's section, what one entry and many are called)
GUARD = ("conditions", "guard", "guard condition", "guard conditions")
METRICS = ("series", "metrics", "metrics series", "metrics series")


def _uses_slo(items: Any) -> bool:
    return isinstance(items, list) and any(isinstance(i, Mapping) and "slo" in i for i in items)


def slo_file_setting(arguments: Mapping[str, Any], configuration: Any, secrets: Any) -> Any:
    """The SLO file: the control's ``slo_file`` argument, else the setting."""
    from chaosllm.settings import get_setting

    return get_setting(SETTING, arguments.get(SETTING), configuration, secrets)


def needs_slo_file(arguments: Mapping[str, Any], kind: tuple[str, ...]) -> bool:
    """True when the entries come from an SLO file or name one of its SLOs."""
    items = arguments.get(kind[0])
    return not items or _uses_slo(items)


def resolve(
    arguments: Mapping[str, Any], kind: tuple[str, ...], configuration: Any, secrets: Any
) -> tuple[Any, Any]:
    """The control's entries as given (or from the SLO file), and with SLO names resolved.

    Without any SLO file in play, the argument is returned as it is, for the
    control's own checks to judge.
    """
    argument, section, what, many = kind
    items = arguments.get(argument)
    if not needs_slo_file(arguments, kind):
        return items, items
    slo_file = slo_file_setting(arguments, configuration, secrets)
    if not slo_file:
        if not items:
            return items, items  # the control reports its missing argument
        raise InvalidArgument(f"{many} name SLOs ('slo'), but no SLO file is given: set the "
                              f"control's argument 'slo_file' or the setting slo_file "
                              f"($CHAOSLLM_SLO_FILE)")  # fmt: skip
    from chaosllm.slo.spec import load_slo_file

    try:
        loaded = load_slo_file(str(slo_file))
    except ConfigurationError as exc:
        raise InvalidArgument(f"{many}: {exc}") from exc
    if not items:
        items = getattr(loaded, section)
        if not items:
            raise InvalidArgument(f"no '{argument}' given, and the SLO file {slo_file} has no "
                                  f"'{section}' list to use instead")  # fmt: skip
    return items, [_expand(raw, loaded, f"{what} {i + 1}", section == "guard")
                   for i, raw in enumerate(items)]  # fmt: skip


def _expand(raw: Any, loaded: Any, where: str, for_guard: bool) -> Any:
    if not isinstance(raw, Mapping) or "slo" not in raw:
        return raw
    name = raw["slo"]
    if not isinstance(name, str):
        raise InvalidArgument(f"{where}: 'slo' must be the name of an SLO, got {name!r}")
    try:
        slo = loaded.slo(name)
        entry = {k: v for k, v in raw.items() if k not in ("slo", "window")}
        entry["query"] = slo.query(raw.get("window"))
    except (ConfigurationError, InvalidArgument) as exc:
        raise InvalidArgument(f"{where}: {exc}") from exc
    entry.setdefault("name", name)
    if for_guard:
        if "above" not in entry and "below" not in entry:
            entry["above" if slo.comparison in ("<", "<=") else "below"] = slo.objective
    else:
        entry.setdefault("threshold", slo.objective)
        if "threshold" not in raw:  # the objective's direction goes with it
            entry.setdefault("bound", "lower" if slo.comparison in (">=", ">") else "upper")
        entry.setdefault("unit", slo.unit)
    return entry


def series_query(name: str, slo_file: Any, configuration: Any, secrets: Any) -> str:
    """The PromQL of the series called ``name`` in the SLO file's ``metrics`` list.

    ``slo_file`` is the caller's argument, else the setting. The query is the
    one :mod:`chaosllm.controls.metrics` records for that series (an ``slo``
    entry reads its SLO's indicator over its ``window``), so that a probe
    judges what the report charts.
    """
    from chaosllm.slo.promql import PROMETHEUS_KINDS, build_query

    arguments = {SETTING: slo_file}
    if not slo_file_setting(arguments, configuration, secrets):
        raise InvalidArgument(f"series {name!r} names a series of an SLO file's 'metrics' list, but "
                              f"no SLO file is given: set the argument 'slo_file' or the setting "
                              f"slo_file ($CHAOSLLM_SLO_FILE)")  # fmt: skip
    every: list[tuple[str, str]] = []
    for index, raw in enumerate(resolve(arguments, METRICS, configuration, secrets)[1]):
        where = f"metrics series {index + 1}"
        kinds = [k for k in PROMETHEUS_KINDS if isinstance(raw, Mapping) and k in raw]
        if len(kinds) != 1:
            raise InvalidArgument(f"{where} of the SLO file: give exactly one of "
                                  f"{', '.join(PROMETHEUS_KINDS)}")  # fmt: skip
        every.append((str(raw.get("name") or kinds[0]), build_query(kinds[0], raw[kinds[0]], where)))
    found = [query for series, query in every if series == name]
    if len(found) != 1:
        known = ", ".join(repr(series) for series, _ in every)
        problem = "no series" if not found else f"{len(found)} series"
        raise InvalidArgument(f"the SLO file's 'metrics' list has {problem} named {name!r} "
                              f"(it has: {known})")  # fmt: skip
    return found[0]
