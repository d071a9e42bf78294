"""The GameDay page links each experiment to its run's report."""

from __future__ import annotations

import shutil
from pathlib import Path

from chaosllm.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "journals" / "samples"


def test_gameday_links_reports_written_beside_it(tmp_path: Path) -> None:
    journal = next(p for p in sorted(SAMPLES.glob("*.json")))
    copy = tmp_path / "run.json"
    shutil.copy(journal, copy)
    out = tmp_path / "out"
    assert main(["report", str(copy), "--format", "html", "--out", str(out)]) == 0
    assert main(["gameday", str(copy), "--format", "html", "--out", str(out)]) == 0
    assert 'href="run.html"' in (out / "gameday.html").read_text(encoding="utf-8")


def test_gameday_without_reports_has_no_dangling_links(tmp_path: Path) -> None:
    journal = next(p for p in sorted(SAMPLES.glob("*.json")))
    copy = tmp_path / "run.json"
    shutil.copy(journal, copy)
    assert main(["gameday", str(copy), "--format", "html", "--out", str(tmp_path / "o")]) == 0
    assert "href=" not in (tmp_path / "o" / "gameday.html").read_text(encoding="utf-8")
