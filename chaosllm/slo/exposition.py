"""The Prometheus text exposition format, parsed, and what the guard computes from it.

Pages are parsed by ``prometheus_client``'s text parser into flat samples.
A scrape gives cumulative counters, so the guard takes ratios and quantiles
from the difference between two scrapes: ``total`` and ``buckets`` read one
scrape, ``bucket_quantile`` interpolates a histogram as Prometheus does.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Sample",
    "parse_exposition",
    "select",
    "total",
    "buckets",
    "bucket_quantile",
]

_TYPE_LINE = re.compile(r"^\s*#\s*TYPE\b")


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def _parse(text: str) -> list[Sample]:
    from prometheus_client.parser import text_string_to_metric_families

    return [
        Sample(s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def parse_exposition(text: str) -> list[Sample]:
    """Every sample of a ``/metrics`` page, named as the page writes it.

    Parsed by ``prometheus_client``'s text parser. ``# TYPE`` lines are left
    out first: the parser renames the samples of a counter declared without
    ``_total`` (``x`` becomes ``x_total``), while conditions name series as
    the page and PromQL show them. A malformed line is skipped, not fatal.
    """
    lines = [line for line in text.splitlines() if not _TYPE_LINE.match(line)]
    try:
        return _parse("\n".join(lines) + "\n")
    except ValueError:
        # The parser stops at the first line it refuses: keep every other one.
        samples: list[Sample] = []
        for line in lines:
            with contextlib.suppress(ValueError):
                samples.extend(_parse(line + "\n"))
        return samples


def select(samples: list[Sample], name: str, labels: Mapping[str, str] | None = None) -> list[Sample]:
    """Samples named ``name`` whose labels fully match the given regular expressions."""
    patterns = {k: re.compile(v) for k, v in (labels or {}).items()}
    return [
        s
        for s in samples
        if s.name == name and all(p.fullmatch(s.labels.get(k, "")) for k, p in patterns.items())
    ]


def total(samples: list[Sample], name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """Sum of the matching samples, or None when none matches."""
    found = select(samples, name, labels)
    return sum(s.value for s in found) if found else None


def buckets(
    samples: list[Sample], metric: str, labels: Mapping[str, str] | None = None
) -> dict[float, float]:
    """Cumulative histogram buckets ``{le: count}``, summed over matching series."""
    out: dict[float, float] = {}
    for s in select(samples, metric + "_bucket", labels):
        if "le" in s.labels:
            le = float(s.labels["le"])
            out[le] = out.get(le, 0.0) + s.value
    return out


def bucket_quantile(quantile: float, cumulative: Mapping[float, float]) -> float | None:
    """The quantile of a cumulative histogram, interpolated as Prometheus does.

    None when the histogram holds no observation.
    """
    bounds = sorted(cumulative)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    count = cumulative[bounds[-1]]
    if count <= 0:
        return None
    rank = quantile * count
    prev_bound, prev_count = 0.0, 0.0
    for bound in bounds:
        in_bucket = cumulative[bound]
        if in_bucket >= rank:
            if math.isinf(bound):
                return prev_bound if len(bounds) > 1 else None
            if in_bucket == prev_count:
                return bound
            lower = prev_bound if prev_bound < bound else 0.0
            return lower + (bound - lower) * (rank - prev_count) / (in_bucket - prev_count)
        prev_bound, prev_count = bound, in_bucket
    return bounds[-2] if len(bounds) > 1 else None
