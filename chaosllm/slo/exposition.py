"""The Prometheus text exposition format, parsed, and what the guard computes from it.

A scrape gives cumulative counters, so ratios and quantiles come from the
difference between two scrapes: ``delta_ratio`` and ``delta_quantile``.
"""

from __future__ import annotations

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

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def _unescape(text: str) -> str:
    return re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], text)


def _number(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    return float(text)


def parse_exposition(text: str) -> list[Sample]:
    """Every sample of a ``/metrics`` page; comments and malformed lines are skipped."""
    samples: list[Sample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        labels: dict[str, str] = {}
        body = match.group(3) or ""
        pos = 0
        while pos < len(body):
            label = _LABEL.match(body, pos)
            if label is None:
                break
            labels[label.group(1)] = _unescape(label.group(2))
            pos = label.end()
        try:
            value = _number(match.group(4))
        except ValueError:
            continue
        samples.append(Sample(match.group(1), labels, value))
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
            le = _number(s.labels["le"])
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
