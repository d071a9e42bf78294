"""``chaosllm report`` and ``chaosllm gameday``: journals in, reports out.

With ``--fail-on``, the command exits :data:`FAIL_ON_EXIT` when any run has
one of the named verdicts, after writing every report, so that CI can gate on
it. Imports of the writers stay inside the handlers so that ``chaosllm
--help`` does not pay for them.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chaosllm.journal_keys import VERDICTS

__all__ = ["FAIL_ON_EXIT", "parse_verdicts", "register"]

# The exit code when a run has a verdict named by --fail-on (1 is an error, 2 bad usage).
FAIL_ON_EXIT = 3
FAIL_ON_HELP = (
    f"comma-separated verdicts ({','.join(v for v in VERDICTS if v != 'passed')}): after writing "
    f"the reports, exit {FAIL_ON_EXIT} when any run has one of them (for CI)"
)

REPORT_FORMATS = ("md", "html", "junit", "json", "litmus")
GAMEDAY_FORMATS = ("md", "html", "json")
EXTENSIONS = {"md": ".md", "html": ".html", "json": ".json", "litmus": ".chaosresult.json"}
WRITERS = {
    "md": ("markdown", "render_markdown"), "html": ("html", "render_html"),
    "json": ("summary", "render_json"), "litmus": ("litmus", "render_chaos_result"),
}  # fmt: skip
WEIGHTS_HELP = ("a JSON or YAML file mapping experiment titles to Litmus weights 0..10; it overrides "
                "the journals' weight:N tags")


def _check_formats(chosen: list[str], allowed: tuple[str, ...], text: str = "") -> list[str]:
    unknown = [name for name in chosen if name not in allowed]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(unknown) or repr(text)}: choose from {','.join(allowed)}"
        )
    return chosen


def parse_verdicts(text: str) -> list[str]:
    """``"failed,aborted"`` as a list of verdicts (an argparse type)."""
    chosen = list(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in VERDICTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown verdict {', '.join(unknown) or repr(text)}: choose from {','.join(VERDICTS)}"
        )
    return chosen


def _fail_on(runs: list[tuple[str, str]], verdicts: list[str]) -> int:
    """FAIL_ON_EXIT, naming the runs, when any (path, verdict) has one of ``verdicts``."""
    hits = [(path, verdict) for path, verdict in runs if verdict in verdicts]
    if not hits:
        return 0
    shown = ", ".join(f"{path} ({verdict})" for path, verdict in hits[:10])
    more = f" and {len(hits) - 10} more" if len(hits) > 10 else ""
    print(f"--fail-on {','.join(verdicts)}: {len(hits)} run(s): {shown}{more}", file=sys.stderr)
    return FAIL_ON_EXIT


def _formats(text: str, allowed: tuple[str, ...]) -> list[str]:
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    aliases = {"markdown": "md", "xml": "junit"}
    chosen = [aliases.get(name, name) for name in chosen]
    return _check_formats(list(dict.fromkeys(chosen)), allowed, text)


class _Progress:
    """Counts journals on stderr when there are many; silent for a few."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what = total, what
        self.shown = total >= 50
        self.tty = sys.stderr.isatty()
        self.step = max(1, total // 10)

    def tick(self, done: int) -> None:
        if not self.shown:
            return
        if self.tty:
            print(f"\r{self.what} {done}/{self.total}", end="", file=sys.stderr, flush=True)
            if done == self.total:
                print(file=sys.stderr)
        elif done % self.step == 0 or done == self.total:
            print(f"{self.what} {done}/{self.total}", file=sys.stderr, flush=True)


def _walk(items: list[str]) -> Iterator[tuple[str, bool]]:
    """(path, named) for each file: named files must be journals, found ones may not be."""
    for item in items:
        if os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".json"):
                        yield os.path.join(root, name), False
        else:
            yield item, True


def _load_many(items: list[str], detail: bool = True) -> tuple[list[Any], list[str]]:
    """Journals from files and folders; files found in folders that are not journals are
    skipped (returned as notes), named files must be journals."""
    from chaosllm.report.journal import JournalError
    from chaosllm.report.parse import load_journal

    seen: set[str] = set()
    paths = []
    for path, named in _walk(items):  # a journal named twice (or also found in a folder) counts once
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            paths.append((path, named))
    if not paths:
        raise FileNotFoundError(f"no journal found in {', '.join(items)}")
    progress = _Progress(len(paths), "read journals")
    journals, skipped = [], []
    for done, (path, named) in enumerate(paths, 1):
        try:
            journals.append(load_journal(path, detail))
        except JournalError as exc:
            if named:
                raise
            skipped.append(str(exc))
        progress.tick(done)
    if not journals:
        raise FileNotFoundError(f"no journal found in {', '.join(items)} ({len(skipped)} skipped)")
    return journals, skipped


def _write(out: str, name: str, text: str) -> str | None:
    if out == "-":
        sys.stdout.write(text)
        return None
    path = Path(out) / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _unique_stems(journals: list[Any]) -> list[str]:
    seen: dict[str, int] = {}
    stems = []
    for journal in journals:
        stem = Path(journal.path).stem or "journal"
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def _report_beside(out: str, journal_path: str) -> str | None:
    """The name of a run's HTML report when it was written to the same folder."""
    name = Path(journal_path).stem + ".html"
    return name if (Path(out) / name).is_file() else None


def _check_stdout(out: str, outputs: int, hint: str) -> None:
    if out == "-" and outputs > 1:
        raise ValueError(f"--out - prints one report only: {hint}")


def _file_id(path: str | Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _prepare_out(out: str, names: list[str], journals: list[Any]) -> None:
    """Refuse, before anything is written, to write over an input journal; make the folder."""
    if out == "-":
        return
    inputs = {_file_id(journal.path): journal.path for journal in journals}
    inputs.pop(None, None)
    for name in names:
        path = Path(out) / name
        journal = inputs.get(_file_id(path))
        if journal is not None:
            raise ValueError(
                f"refusing to write {path}: it is the input journal {journal}; choose another --out folder"
            )
    Path(out).mkdir(parents=True, exist_ok=True)


def _gameday(items: list[str], formats: list[str], out: str, fail_on: list[str],
             weights_file: str | None = None) -> int:
    from chaosllm.report.gameday import (
        build_gameday,
        describe,
        load_weights,
        render_gameday_html,
        render_gameday_json,
        render_gameday_markdown,
    )

    _check_stdout(out, len(formats), "choose one --format")
    weights = load_weights(weights_file) if weights_file else {}
    journals, skipped = _load_many(items, detail=False)
    day = build_gameday(journals, skipped, weights)
    _prepare_out(out, [f"gameday{EXTENSIONS[fmt]}" for fmt in formats], journals)
    unused = sorted(set(weights) - {journal.title for journal in journals})
    if unused:
        print(f"the weights file names experiment(s) no journal ran: {', '.join(unused)}", file=sys.stderr)
    report_of = None if out == "-" else functools.partial(_report_beside, out)
    renderers: dict[str, Callable[[Any], str]] = {
        "md": render_gameday_markdown,
        "html": functools.partial(render_gameday_html, report_of=report_of),
        "json": render_gameday_json,
    }
    for fmt in formats:
        written = _write(out, f"gameday{EXTENSIONS[fmt]}", renderers[fmt](day))
        if written:
            print(f"wrote {written}", file=sys.stderr)
    for note in skipped[:5]:
        print(f"skipped {note}", file=sys.stderr)
    print(describe(day), file=sys.stderr)
    return _fail_on([(run.path, run.verdict) for run in day.runs], fail_on)


def _report(args: argparse.Namespace) -> int:
    if args.gameday:
        try:
            _check_formats(args.format, GAMEDAY_FORMATS)
        except argparse.ArgumentTypeError as exc:
            args.report_parser.error(f"argument --format: {exc}")
        return _gameday(args.gameday + args.journals, args.format, args.out, args.fail_on, args.weights)
    if not args.journals:
        args.report_parser.error("name at least one journal, or use --gameday DIR_OR_JOURNALS")
    import importlib

    per_journal = [f for f in args.format if f != "junit"]
    outputs = len(args.journals) * len(per_journal) + ("junit" in args.format)
    _check_stdout(args.out, outputs, "name one journal and one format")
    journals, skipped = _load_many(args.journals)
    stems = _unique_stems(journals)
    names = [stem + EXTENSIONS[fmt] for stem in stems for fmt in per_journal]
    _prepare_out(args.out, names + (["junit.xml"] if "junit" in args.format else []), journals)
    for note in skipped[:5]:
        print(f"skipped {note}", file=sys.stderr)
    # Only the writers asked for are imported: a one-journal report is mostly start-up time.
    renderers = {
        fmt: getattr(importlib.import_module(f"chaosllm.report.{module}"), func)
        for fmt, (module, func) in WRITERS.items() if fmt in per_journal
    }  # fmt: skip
    progress = _Progress(len(journals), "wrote reports")
    for done, (journal, stem) in enumerate(zip(journals, stems, strict=True), 1):
        for fmt in per_journal:
            written = _write(args.out, stem + EXTENSIONS[fmt], renderers[fmt](journal))
            if written and len(journals) < 50:
                print(f"wrote {written} ({journal.verdict})", file=sys.stderr)
        progress.tick(done)
    if "junit" in args.format:
        from chaosllm.report.junit import render_junit

        written = _write(args.out, "junit.xml", render_junit(journals))
        if written:
            print(f"wrote {written}", file=sys.stderr)
    return _fail_on([(journal.path, journal.verdict) for journal in journals], args.fail_on)


def _gameday_command(args: argparse.Namespace) -> int:
    return _gameday(args.sources, args.format, args.out, args.fail_on, args.weights)


def register(subparsers: Any) -> None:
    """Add ``report`` and ``gameday`` to the ``chaosllm`` command."""
    report = subparsers.add_parser(
        "report",
        help="turn journals into Markdown, HTML, JUnit XML or JSON reports",
        description=(
            "Write one report per journal (Markdown, self-contained HTML with charts, JSON "
            "summary) and one JUnit XML file with a test suite per journal. Each run gets one "
            "verdict: passed, failed, inconclusive, aborted or interrupted. With --gameday, "
            "write a GameDay summary across many runs instead. Secrets are never resolved."
        ),
        epilog=(
            "examples:\n"
            "  chaosllm report journals/cache.json\n"
            "  chaosllm report journals/ --format md,html,junit,json --out reports/\n"
            "  chaosllm report journals/cache.json --format md --out -\n"
            "  chaosllm report journals/ --fail-on failed,inconclusive   # CI gate\n"
            "  chaosllm report journals/cache.json --format litmus     # a Litmus ChaosResult\n\n"
            f"exit status: 0 reports written; {FAIL_ON_EXIT} a run has a --fail-on verdict; "
            "1 error; 2 bad arguments"
        ),
    )
    report.add_argument(
        "journals", nargs="*", metavar="JOURNAL", help="journal files, or folders to search for them"
    )
    report.add_argument(
        "--format", default="md,html", type=lambda t: _formats(t, REPORT_FORMATS),
        help="comma-separated: md, html, junit, json, litmus (a ChaosResult-shaped "
             "<journal>.chaosresult.json) (default md,html)",
    )  # fmt: skip
    report.add_argument("--out", default="reports", help="output folder (default reports), or - for stdout")
    report.add_argument("--fail-on", default=[], type=parse_verdicts, metavar="VERDICTS", help=FAIL_ON_HELP)
    report.add_argument(
        "--gameday", nargs="+", metavar="DIR_OR_JOURNALS", default=[],
        help="summarise many runs: folders (searched for journals) or journal files",
    )  # fmt: skip
    report.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP + " (with --gameday)")
    report.set_defaults(handler=_report, report_parser=report)

    gameday = subparsers.add_parser(
        "gameday",
        help="GameDay summary across many runs (same as 'report --gameday')",
        description=(
            "Summarise many runs: each experiment's verdicts, SLO compliance, run score "
            "trend, and Litmus's resilience score sum(weight x run score %) / sum(weight), "
            "with weights 0 to 10, where only a passed run counts as full success. Folders "
            "are searched for *.json journals; other JSON files there are skipped."
        ),
        epilog=(
            "examples:\n"
            "  chaosllm gameday journals/ --out reports/     # reports/gameday.md, gameday.html\n"
            "  chaosllm gameday run1.json run2.json --format json --out -\n"
            "  chaosllm gameday journals/ --fail-on failed,aborted\n"
            "  chaosllm gameday journals/ --weights weights.yaml    # {\"Cache failure\": 8}\n\n"
            f"exit status: 0 summary written; {FAIL_ON_EXIT} a run has a --fail-on verdict; "
            "1 error; 2 bad arguments"
        ),
    )
    gameday.add_argument(
        "sources", nargs="+", metavar="DIR_OR_JOURNALS",
        help="journal files, or folders to search for them",
    )  # fmt: skip
    gameday.add_argument(
        "--format", default="md,html", type=lambda t: _formats(t, GAMEDAY_FORMATS),
        help="comma-separated: md, html, json (default md,html)",
    )  # fmt: skip
    gameday.add_argument("--out", default="reports", help="output folder (default reports), or - for stdout")
    gameday.add_argument("--fail-on", default=[], type=parse_verdicts, metavar="VERDICTS", help=FAIL_ON_HELP)
    gameday.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP)
    gameday.set_defaults(handler=_gameday_command)
