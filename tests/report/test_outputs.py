"""Markdown, HTML and JSON reports: content, escaping and self-containment."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from chaosllm.report.html import render_html
from chaosllm.report.junit import render_junit
from chaosllm.report.markdown import render_markdown
from chaosllm.report.model import load_journal, parse_journal
from chaosllm.report.summary import journal_summary, render_json
from tests.report.conftest import SAMPLES, sample, slo_journal

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def hostile_journal() -> dict[str, Any]:
    raw = sample("plain-process-completed")
    raw["experiment"]["title"] = "Title " + HOSTILE
    raw["experiment"]["description"] = HOSTILE + " [link](javascript:alert(1))"
    raw["experiment"]["steady-state-hypothesis"]["title"] = HOSTILE
    raw["run"][0]["activity"]["name"] = "step " + HOSTILE
    raw["run"][1]["exception"] = ["Traceback ...\n", f"ValueError: {HOSTILE}\n"]
    raw["rollbacks"][0]["output"] = {"stdout": HOSTILE}
    raw["extensions"] = [{"name": "chaosllm-metrics",
                          "window": {"start": raw["start"], "end": raw["end"]},
                          "series": [{"name": HOSTILE, "query": HOSTILE, "unit": HOSTILE,
                                      "threshold": 1.0, "points": [[1.0, 0.5], [2.0, 2.0]]}]}]  # fmt: skip
    return raw


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def test_markdown_follows_the_template_sections() -> None:
    text = render_markdown(load_journal(SAMPLES / "redis-pause.json"))
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    assert headings == [
        "Chaos Experiment Report", "Hypothesis", "Results", "Faults", "Observations", "Actions",
        "Metrics",
    ]  # fmt: skip
    # The verdict comes first, the run's state after it as detail.
    assert text.splitlines()[2] == "**Verdict**: ❔ inconclusive  "
    assert "**Run state**: ✅ completed" in text
    for field in ("**Date**: 20", "**Experiment**: Catalog cache", "**Duration**: ",
                  "**Target**: redis catalog cache"):  # fmt: skip
        assert field in text
    assert "- ✅ probe **catalog-keys** (before): observed 100, threshold in \\[50, 1000\\]" in text
    assert "Fault redis-pause" in text
    assert "✅ rollback 'unpause-redis-clients' succeeded" in text


def test_markdown_results_show_slo_values_against_thresholds() -> None:
    text = render_markdown(parse_journal(slo_journal()))
    assert "- ✅ SLO **slo-below** (after): observed 0.2, threshold \\<= 500ms" in text
    assert "- ❌ SLO **slo-above** (after): observed 0.95, threshold \\> 99%" in text
    assert "Steady state deviated after the method: slo-above" in text


@pytest.mark.parametrize("name,expected", [
    ("plain-steady-state-failed", ["❌ failed", "Steady state not met: health-check",
                                   "No rollback ran (Chaos Toolkit skips rollbacks"]),
    ("plain-interrupted", ["⚠️ interrupted", "Interrupted during long-maintenance",
                           "'long-maintenance' was cut off"]),
    ("guard-aborted", ["🛑 aborted", "Guard condition breached at",
                       "queue backlog \\> 10000: observed 25000 (threshold 10000) from metrics",
                       "✅ rollback 'restore-consumers' succeeded"]),
    ("redis-flush-deviated", ["❌ deviated", "deviated after the method: catalog-keys",
                              "❌ SLO **catalog-keys** (after): observed 0, threshold in \\[50, 1000\\]"]),
    ("plain-process-completed", ["✅ completed", "'stat-missing-file' failed: FileNotFoundError"]),
    ("redis-pause-metrics", ["**cache write latency** (`max(sample_cache_write_latency_seconds)`)",
                             "; threshold 0.5 s, "]),
])  # fmt: skip
def test_markdown_observations_per_state(name: str, expected: list[str]) -> None:
    text = render_markdown(load_journal(SAMPLES / f"{name}.json"))
    for piece in expected:
        assert piece in text, piece


def test_non_ascii_text_is_kept() -> None:
    journal = load_journal(SAMPLES / "plain-process-completed.json")
    assert "Réplica de caché — 缓存" in render_markdown(journal)
    html = render_html(journal)
    assert "Réplica de caché — 缓存" in html and "« prêt »" in html
    assert json.loads(render_json(journal))["title"] == "Réplica de caché — 缓存 warm-up check"


def test_markdown_escapes_markup_from_the_journal() -> None:
    text = render_markdown(parse_journal(hostile_journal()))
    # Code spans (the PromQL of a series) are shown literally by every Markdown renderer.
    outside_code = re.sub(r"(`+).*?\1", "", text)
    assert not re.search(r"(?<!\\)[<>]", outside_code), "an unescaped < or > from the journal"
    assert "(`" + HOSTILE.replace("  ", " ") + "`)" in text
    assert "\\<script\\>" in text and "\\[link\\](javascript" in text


def test_html_escapes_everything_from_the_journal() -> None:
    html = render_html(parse_journal(hostile_journal()))
    tags = parse_tags(html)
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "link")]
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html


def test_html_is_self_contained_with_charts() -> None:
    html = render_html(load_journal(SAMPLES / "redis-pause-metrics.json"))
    tags = parse_tags(html)
    for tag, attrs in tags:
        for key in ("src", "href"):
            assert not attrs.get(key), f"external reference in <{tag} {key}=...>"
    classes = [attrs.get("class") for tag, attrs in tags if tag == "svg"]
    assert classes == ["timeline", "chart", "chart"]
    assert html.count('class="fault"') >= 3  # the fault window, on the timeline and both charts
    assert html.count('class="threshold"') == 1  # only the latency series has a threshold
    assert "default-src 'none'" in html


def test_html_for_500_activities_lists_them_all() -> None:
    html = render_html(load_journal(SAMPLES / "plain-500-activities.json"))
    assert html.count("<tr>") >= 498 + 2
    assert "step-497" in html


def test_json_summary() -> None:
    data = journal_summary(load_journal(SAMPLES / "guard-aborted.json"))
    assert data["state"] == "aborted" and data["status"] == "interrupted"
    assert data["guard"]["breaches"][0]["observed"] == 25000.0
    assert data["activities"]["interrupted"] == 1
    assert data["rollbacks"] == [{"name": "restore-consumers", "status": "succeeded"}]
    metrics = journal_summary(load_journal(SAMPLES / "redis-pause-metrics.json"))["metrics"]
    assert metrics[0]["name"] == "cache write latency" and metrics[0]["max"] > 0.5
    json.dumps(data)


def test_markdown_metric_counts_samples_above_the_threshold() -> None:
    journal = load_journal(SAMPLES / "redis-pause-metrics.json")
    latency = journal.metrics[0]
    above = sum(1 for _, y in latency.points if y > 0.5)
    assert above >= 1  # the pause shows in the recorded series
    expected = f"threshold 0.5 s, {above} of {len(latency.points)} above it"
    assert expected in render_markdown(journal)


def test_markdown_metric_without_points_says_why() -> None:
    raw = sample("redis-pause-metrics")
    raw["extensions"][0]["series"][1].update(points=[], error="query failed: 503 `x`")
    text = render_markdown(parse_journal(raw))
    assert "- No samples: **scrape duration** (`max(scrape_duration_seconds)`): query failed" in text


def test_secret_pairs_and_bearer_tokens_are_hidden_in_every_output() -> None:
    raw = sample("redis-pause")
    raw["run"][1]["output"] = "connect host=db password=hunter2 with Authorization: Bearer tok-4242"
    raw["run"][1]["status"] = "failed"
    raw["run"][1]["exception"] = ["Traceback\n", "ActivityFailed: sslpassword=ssl-77 token=t-88\n"]
    journal = parse_journal(raw)
    outputs = {"md": render_markdown(journal), "html": render_html(journal),
               "json": render_json(journal), "junit": render_junit([journal])}  # fmt: skip
    for fmt, text in outputs.items():
        for secret in ("hunter2", "tok-4242", "ssl-77", "t-88"):
            assert secret not in text, (fmt, secret)
    assert "sslpassword=*** token=***" in outputs["junit"]
    assert "password=*** with Authorization: Bearer ***" in outputs["junit"]
    assert json.loads(outputs["json"])["failed_activities"][0]["error"].endswith("sslpassword=*** token=***")


def test_unknown_status_is_an_observation_and_a_failed_verdict() -> None:
    raw = sample("redis-pause")
    raw["status"] = "bogus"
    journal = parse_journal(raw)
    assert "Unexpected journal status 'bogus'" in render_markdown(journal)
    assert "unexpected journal status &#x27;bogus&#x27;" in render_html(journal)
    data = journal_summary(journal)
    assert (data["state"], data["status"], data["probe_success"]) == ("failed", "bogus", 0.0)
