"""The HTML report in headless Chromium: charts rendered with size, no console error, no injection.

Chromium is driven over its DevTools protocol (a websocket on loopback), so the
test sees console messages and exceptions, and captures a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosllm.report.html import render_html
from chaosllm.report.model import load_journal, parse_journal
from chaosllm.sandbox.app.launcher import stop_pid
from tests.report.conftest import SAMPLES
from tests.report.test_outputs import hostile_journal

# These tests render reports in headless Chromium.
pytestmark = pytest.mark.integration

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1000,1400",
]  # fmt: skip


class Page:
    """One tab, spoken to over the DevTools protocol."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == event for e in self.events):
                return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(f"no {event} after {timeout} s")

    def errors(self) -> list[str]:
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails", {}))[:300])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args", []))[:300])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The DevTools HTTP address of a private headless Chromium."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        if IN_CI:
            pytest.fail("CI=true and chromium is not installed")
        pytest.skip("chromium is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().split()[0]}"
    finally:
        stop_pid(proc.pid, 5, proc)


def open_page(devtools: str, path: Path) -> Page:
    with urllib.request.urlopen(f"{devtools}/json/list", timeout=5) as resp:
        target = next(t for t in json.load(resp) if t["type"] == "page")
    page = Page(target["webSocketDebuggerUrl"])
    for domain in ("Page", "Runtime", "Log"):
        page.call(f"{domain}.enable")
    page.call("Page.navigate", url=path.as_uri())
    page.wait_for("Page.loadEventFired")
    return page


def evaluate(page: Page, expression: str) -> Any:
    result = page.call("Runtime.evaluate", expression=expression, returnByValue=True)
    return result["result"].get("value")


SVG_SIZES = """JSON.stringify([...document.querySelectorAll('svg')].map(s => {
  const r = s.getBoundingClientRect();
  return {cls: s.getAttribute('class'), w: r.width, h: r.height,
          marks: s.querySelectorAll('polyline, rect, line').length};
}))"""


def test_report_renders_charts_without_console_errors(chromium: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(render_html(load_journal(SAMPLES / "redis-pause-metrics.json")), "utf-8")
    page = open_page(chromium, path)
    svgs = json.loads(evaluate(page, SVG_SIZES))
    assert [s["cls"] for s in svgs] == ["timeline", "chart", "chart"]
    for svg in svgs:
        assert svg["w"] > 500 and svg["h"] > 50 and svg["marks"] >= 3, svg
    polyline = evaluate(page, "document.querySelector('svg.chart polyline').getBBox().width")
    assert polyline > 400
    shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "report.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
    assert page.errors() == []
    page.ws.close()


CHART_DOM = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {
  const box = e => e.getBoundingClientRect();
  const grid = [...s.querySelectorAll('line.axis')].map(box);
  return {
    y: [...s.querySelectorAll('text.tick.y')].map(t => t.textContent),
    x: [...s.querySelectorAll('text.tick.x')].map(t => t.textContent),
    unit: s.querySelector('text.unit').textContent,
    legend: [...s.querySelectorAll('.legend-label')].map(t => t.textContent),
    legendShown: [...s.querySelectorAll('.legend-label')].every(t => box(t).width > 0),
    gridlines: s.querySelectorAll('line.grid').length,
    fault: [...s.querySelectorAll('rect.fault')].map(r => ({x: box(r).x, w: box(r).width})),
    ticksX: [...s.querySelectorAll('text.tick.x')].map(t => box(t).x + box(t).width / 2),
  };
}))"""


def test_charts_show_ticks_legend_and_the_real_fault_window(chromium: str, tmp_path: Path) -> None:
    path = tmp_path / "partition.html"
    journal = load_journal(SAMPLES / "partition-healed.json")
    path.write_text(render_html(journal), "utf-8")
    page = open_page(chromium, path)
    latency, errors = json.loads(evaluate(page, CHART_DOM))
    # p95 latency in seconds, shown in s; 1-2-5 ticks and a clock label every 5 s.
    assert (latency["unit"], latency["y"]) == ("s", ["0.0", "0.5", "1.0", "1.5"])
    assert latency["x"] == [f"10:00:{s:02d}" for s in range(0, 35, 5)]
    assert latency["gridlines"] == len(latency["y"]) + len(latency["x"])
    # Both series of the error-ratio query on one chart, in %, with a legend.
    assert errors["unit"] == "%" and errors["y"][-1] == "40"
    assert errors["legend"] == ['{service="gateway"}', '{service="catalog"}'] and errors["legendShown"]
    # The shaded window is the real one: 10:00:02 to 10:00:22, not the planned 40 s.
    [fault] = latency["fault"]
    at = dict(zip(latency["x"], latency["ticksX"], strict=True))
    per_second = (at["10:00:30"] - at["10:00:00"]) / 30
    assert fault["x"] == pytest.approx(at["10:00:00"] + 2 * per_second, abs=2)
    assert fault["w"] == pytest.approx(20 * per_second, abs=2)
    text = evaluate(page, "document.body.innerText")
    assert "removed by method 'heal-partition'" in text and "4 s" in text
    assert evaluate(page, "document.querySelector('.verdict').textContent") == "passed"
    assert evaluate(page, "document.querySelectorAll('p.empty').length") == 1
    assert page.errors() == []
    page.ws.close()


def test_markup_from_a_journal_does_not_run(chromium: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.html"
    path.write_text(render_html(parse_journal(hostile_journal())), "utf-8")
    page = open_page(chromium, path)
    time.sleep(0.3)  # an injected onerror would fire after the image fails to load
    assert evaluate(page, "typeof window.__pwned") == "undefined"
    assert evaluate(page, "document.querySelectorAll('script, img, iframe').length") == 0
    assert "<script>window.__pwned=1</script>" in evaluate(page, "document.body.innerText")
    assert page.errors() == []
    page.ws.close()


def test_every_sample_and_the_gameday_summary_render_cleanly(chromium: str, tmp_path: Path) -> None:
    from chaosllm.report.gameday import build_gameday, render_gameday_html

    journals = [load_journal(path) for path in sorted(SAMPLES.glob("*.json"))]
    pages = {j.path: render_html(j) for j in journals}
    pages["gameday"] = render_gameday_html(build_gameday(journals))
    for i, (name, html) in enumerate(pages.items()):
        path = tmp_path / f"page-{i}.html"
        path.write_text(html, "utf-8")
        page = open_page(chromium, path)
        svgs = json.loads(evaluate(page, SVG_SIZES))
        assert svgs and all(s["w"] > 0 and s["h"] > 0 for s in svgs), name
        assert page.errors() == [], name
        page.ws.close()
