"""``chaosllm report`` and ``chaosllm gameday`` as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from chaosllm.cli import main
from tests.report.conftest import SAMPLES

CLI = [sys.executable, "-m", "chaosllm.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def test_report_writes_every_format(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["report", str(SAMPLES / "redis-pause.json"), str(SAMPLES / "guard-aborted.json"),
                 "--format", "md,html,junit,json", "--out", str(out)])  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["guard-aborted.html", "guard-aborted.json", "guard-aborted.md", "junit.xml",
                     "redis-pause.html", "redis-pause.json", "redis-pause.md"]  # fmt: skip
    assert json.loads((out / "guard-aborted.json").read_text())["state"] == "aborted"


def test_same_file_names_from_two_folders_do_not_overwrite(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLES / "redis-pause.json", tmp_path / folder / "journal.json")
    main(["report", str(tmp_path / "a/journal.json"), str(tmp_path / "b/journal.json"),
          "--format", "md", "--out", str(tmp_path / "out")])  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["journal-2.md", "journal.md"]


def test_stdout_and_errors_name_the_file(tmp_path: Path) -> None:
    done = run("report", str(SAMPLES / "plain-deviated.json"), "--format", "md", "--out", "-")
    assert done.returncode == 0 and done.stdout.startswith("# Chaos Experiment Report")
    missing = tmp_path / "missing.json"
    done = run("report", str(missing))
    assert done.returncode == 1
    assert f"chaosllm report: error: journal {missing} does not exist" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = run("report", str(bad), "--out", str(tmp_path))
    assert done.returncode == 1 and f"journal {bad} is not valid JSON" in done.stderr
    done = run("report", str(bad), "--format", "pdf")
    assert done.returncode == 2 and "unknown format pdf" in done.stderr


def test_gameday_over_a_folder_shows_progress_and_skips_non_journals(tmp_path: Path) -> None:
    folder = tmp_path / "journals"
    folder.mkdir()
    source = (SAMPLES / "plain-deviated.json").read_text()
    for i in range(60):
        (folder / f"run-{i:03d}.json").write_text(source)
    (folder / "experiment.json").write_text('{"title": "not a journal"}')
    done = run("gameday", str(folder), "--format", "md,json", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "read journals 6/61\n" in done.stderr and "read journals 61/61\n" in done.stderr
    assert "skipped" in done.stderr and "experiment.json" in done.stderr
    data = json.loads((tmp_path / "out" / "gameday.json").read_text())
    assert data["runs"] == 60 and data["results"] == {
        "passed": 0,
        "failed": 60,
        "inconclusive": 0,
        "aborted": 0,
        "interrupted": 0,
    }
    assert data["resilience_score"] == 50.0
    same = run("report", "--gameday", str(folder), "--format", "json", "--out", str(tmp_path / "o2"))
    assert same.returncode == 0
    assert json.loads((tmp_path / "o2" / "gameday.json").read_text()) == data


def test_help_works() -> None:
    for args in (["report", "--help"], ["gameday", "--help"]):
        done = run(*args)
        assert done.returncode == 0 and "DIR_OR_JOURNALS" in done.stdout


def test_report_on_a_folder_skips_what_is_not_a_journal(tmp_path: Path) -> None:
    done = run("report", str(SAMPLES), "--format", "json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stderr and "experiments" in done.stderr
    written = sorted(p.stem for p in tmp_path.glob("*.json"))
    assert written == sorted(p.stem for p in SAMPLES.glob("*.json"))


def test_an_input_journal_is_never_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "jcopy"
    folder.mkdir()
    for name in ("redis-pause", "plain-deviated"):
        shutil.copy(SAMPLES / f"{name}.json", folder / f"{name}.json")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    done = run("report", str(folder), "--format", "md,json", "--out", str(folder))
    assert done.returncode == 1
    assert f"refusing to write {folder / 'plain-deviated.json'}" in done.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    linked = tmp_path / "linked"
    linked.mkdir()
    os.link(folder / "redis-pause.json", linked / "redis-pause.json")
    done = run("report", str(folder / "redis-pause.json"), "--format", "json", "--out", str(linked))
    assert done.returncode == 1 and f"input journal {folder / 'redis-pause.json'}" in done.stderr
    assert (folder / "redis-pause.json").read_bytes() == before["redis-pause.json"]
    (folder / "redis-pause.json").rename(folder / "gameday.json")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for command in (["gameday", str(folder)], ["report", "--gameday", str(folder)]):
        done = run(*command, "--format", "md,json", "--out", str(folder))
        assert done.returncode == 1 and f"input journal {folder / 'gameday.json'}" in done.stderr
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_report_gameday_rejects_junit_like_gameday(tmp_path: Path) -> None:
    out = tmp_path / "out"
    gameday = run("gameday", str(SAMPLES), "--format", "junit", "--out", str(out))
    report = run("report", "--gameday", str(SAMPLES), "--format", "md,junit", "--out", str(out))
    assert gameday.returncode == report.returncode == 2
    expected = "error: argument --format: unknown format junit: choose from md,html,json"
    assert expected in gameday.stderr and expected in report.stderr
    assert not out.exists()


def test_gameday_to_stdout_asks_for_one_format() -> None:
    done = run("gameday", str(SAMPLES / "redis-pause.json"), "--out", "-")
    assert done.returncode == 1
    message = "chaosllm gameday: error: --out - prints one report only: choose one --format"
    assert done.stderr.strip() == message
    done = run("gameday", str(SAMPLES / "redis-pause.json"), "--format", "json", "--out", "-")
    assert done.returncode == 0 and json.loads(done.stdout)["runs"] == 1


def test_gameday_help_states_the_default_out() -> None:
    done = run("gameday", "--help")
    assert "output folder (default reports)" in " ".join(done.stdout.split())


def test_a_journal_named_twice_counts_once(tmp_path: Path) -> None:
    journal = str(SAMPLES / "redis-pause.json")

    def runs(*items: str) -> int:
        assert main(["gameday", *items, "--format", "json", "--out", str(tmp_path)]) == 0
        return int(json.loads((tmp_path / "gameday.json").read_text())["runs"])

    assert runs(journal, journal) == 1
    assert runs(journal, str(SAMPLES)) == runs(str(SAMPLES)) > 1


def test_report_without_a_journal_is_a_usage_error() -> None:
    proc = run("report")
    assert proc.returncode == 2 and "name at least one journal" in proc.stderr and "usage:" in proc.stderr


def test_fail_on_exits_3_after_writing_the_reports(tmp_path: Path) -> None:
    failed = str(SAMPLES / "k8s-recovery-failed.json")
    passed = str(SAMPLES / "effect-observed.json")
    out = tmp_path / "out"
    done = run("report", failed, passed, "--format", "md,junit", "--out", str(out), "--fail-on", "failed")
    assert done.returncode == 3, done.stderr
    assert "--fail-on failed: 1 run(s):" in done.stderr and "k8s-recovery-failed.json (failed)" in done.stderr
    assert (out / "k8s-recovery-failed.md").is_file() and (out / "junit.xml").is_file()
    assert main(["report", passed, "--format", "md", "--out", str(out), "--fail-on", "failed"]) == 0
    # A comma list; the gameday command takes it too.
    assert main(["gameday", failed, passed, "--format", "json", "--out", str(out),
                 "--fail-on", "inconclusive,aborted"]) == 0  # fmt: skip
    assert main(["gameday", failed, "--format", "json", "--out", str(out), "--fail-on",
                 "aborted, failed"]) == 3  # fmt: skip
    assert main(["report", "--gameday", failed, "--format", "md", "--out", str(out),
                 "--fail-on", "failed"]) == 3  # fmt: skip


def test_fail_on_refuses_an_unknown_verdict() -> None:
    done = run("report", str(SAMPLES / "effect-observed.json"), "--fail-on", "broken")
    assert done.returncode == 2 and "unknown verdict broken" in done.stderr
    assert "3 a run has a --fail-on verdict" in run("report", "--help").stdout
