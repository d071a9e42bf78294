"""``make demo``: the six resilience scenarios on the local sandbox, end to end.

``python -m chaosllm.sandbox.app.demo [--journals journals] [--reports reports]``
starts the sandbox, runs every experiment of ``experiments/scenarios/local``
with ``chaos run`` (journals to ``journals/``, chaos logs to
``reports/logs/``), writes each scenario's report
and a GameDay summary with ``chaosllm report`` / ``chaosllm gameday`` (to
``reports/``), and stops everything, also on Ctrl-C. Each scenario's result
is the report's verdict (PASSED, FAILED, INCONCLUSIVE, ABORTED or
INTERRUPTED, with its reasons); unless every scenario passed, the command
exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.journal_keys import LOAD_EXTENSION
from chaosllm.sandbox.app import stack
from chaosllm.sandbox.app.extra import require_extra
from chaosllm.sandbox.app.state import StateDamaged, run_dir, settings_env, status

__all__ = ["main", "verdict", "summary_table", "select_scenarios", "scenario_number"]

ROOT = Path(__file__).resolve().parents[3]


def _say(text: str = "") -> None:
    print(text, flush=True)


def judged(journal: dict[str, Any]) -> dict[str, Any]:
    """The report's verdict of a journal, in capitals, its reasons, and the criteria of the
    hypothesis after the method (before, when it never ran): ``met``, ``total`` and the
    names of the ``failed``; a probe judging several SLOs is one criterion per SLO.

    The demo reads no criterion itself: a run whose faults had no observed
    effect is INCONCLUSIVE here as in its report, and a failed method
    activity is FAILED."""
    from chaosllm.report.model import JournalError, parse_journal

    try:
        model = parse_journal(journal, detail=False)
    except JournalError as exc:
        return {"result": "ERROR", "reasons": [str(exc)], "met": 0, "total": 0, "failed": []}
    runs = model.after or model.before
    failed = [run.name for run in runs if not run.passed]
    return {"result": model.verdict.upper(), "reasons": list(model.verdict_reasons),
            "met": len(runs) - len(failed), "total": len(runs), "failed": failed}


def verdict(journal: dict[str, Any]) -> tuple[str, list[str]]:
    """The report's verdict of a journal, in capitals, and its reasons."""
    found = judged(journal)
    return found["result"], found["reasons"]


def _load_summary(journal: dict[str, Any]) -> dict[str, Any]:
    for ext in journal.get("extensions", []):
        if ext.get("name") == LOAD_EXTENSION:
            return dict(ext.get("summary", {}))
    return {}


def _first(reasons: list[str], width: int = 100) -> str:
    """The first reason, cut to ``width`` characters, and how many more there are."""
    if not reasons:
        return ""
    text = reasons[0] if len(reasons[0]) <= width else reasons[0][: width - 1] + "…"
    return text + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")


def summary_table(rows: list[dict[str, Any]]) -> str:
    header = ("#", "scenario", "result", "criteria met", "time", "requests", "failed", "p95",
              "notes")  # fmt: skip
    lines = [header]
    for row in rows:
        load = row.get("load", {})
        p95 = load.get("p95")
        lines.append((
            str(row["index"]), row["name"], row["result"],
            f"{row['met']}/{row['total']}", f"{row['seconds']:.0f} s",
            str(load.get("requests", "-")), str(load.get("failed", "-")),
            f"{p95 * 1000:.0f} ms" if isinstance(p95, int | float) else "-",
            ", ".join(row["failed"]) or row.get("note", "") or _first(row.get("reasons", [])),
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def scenario_number(path: Path) -> int | None:
    """The number a scenario file name starts with ("01-x.json" is 1), or None."""
    found = re.match(r"([0-9]+)(-|$)", path.stem)
    return int(found.group(1)) if found else None


def select_scenarios(directory: Path, only: str | None = None) -> list[Path]:
    """The experiments of ``directory`` in name order; with ``only`` ("1,4"),
    those whose file name starts with one of these numbers. ValueError says
    what is wrong."""
    if not directory.is_dir():
        raise ValueError(f"no such directory: {directory}")
    scenarios = sorted(directory.glob("*.json"))
    if not scenarios:
        raise ValueError(f"no scenario found in {directory}")
    if only is None:
        return scenarios
    items = [item.strip() for item in only.split(",")]
    if not all(re.fullmatch("[0-9]+", item) for item in items):
        raise ValueError(f"--only takes scenario numbers separated by commas, e.g. 1,4; got {only!r}")
    wanted = {int(item) for item in items}
    numbers = {path: scenario_number(path) for path in scenarios}
    have = sorted({n for n in numbers.values() if n is not None})
    missing = sorted(wanted - set(have))
    if missing:
        unnumbered = [path.name for path, n in numbers.items() if n is None]
        note = (f"; {len(unnumbered)} file(s) there, e.g. {unnumbered[0]}, do not start with a "
                "number like 01- and cannot be selected with --only") if unnumbered else ""  # fmt: skip
        raise ValueError(f"no scenario numbered {', '.join(map(str, missing))} in {directory} "
                         f"(have {', '.join(map(str, have)) or 'none'}{note})")  # fmt: skip
    return [path for path, n in numbers.items() if n in wanted]


def _run_scenario(path: Path, journals: Path, logs: Path, env: dict[str, str]) -> Path:
    journal = journals / f"{path.stem}.json"
    cmd = [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()",
           "--log-file", str(logs / f"{path.stem}.log"), "run",
           "--journal-path", str(journal), str(path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)  # fmt: skip

    def relay() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            # "[2026-01-01 00:00:00 INFO] Probe: x" -> "    Probe: x"
            text = line.rstrip().split("] ", 1)[-1]
            if text:
                _say(f"    {text}")

    # A thread keeps reading, so that chaos never blocks on a full pipe, even
    # while it rolls back after an interruption.
    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        proc.wait()
        reader.join(5)
    except BaseException:
        # A Ctrl-C in a terminal reaches chaos too (same process group); a
        # SIGTERM or a signal to the demo alone is passed on. Either way chaos
        # is given time to run its rollbacks.
        for signum, wait in ((None, 3), (signal.SIGINT, 60), (signal.SIGKILL, 5)):
            if signum is not None and proc.poll() is None:
                proc.send_signal(signum)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        raise
    return journal


def _reports(journal_files: list[Path], reports: Path, env: dict[str, str]) -> None:
    cli = [sys.executable, "-m", "chaosllm.cli"]
    files = [str(j) for j in journal_files if j.exists()]
    if not files:
        return
    for cmd in ([*cli, "report", *files, "--format", "md,html", "--out", str(reports)],
                [*cli, "gameday", *files, "--out", str(reports)]):  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        for line in (result.stdout + result.stderr).splitlines():
            _say(f"    {line}")
        if result.returncode:
            _say(f"    report command failed with exit code {result.returncode}")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaosllm.sandbox.app.demo",
        description="Start the sandbox, run the six scenarios with `chaos run`, write journals "
        "and reports (each scenario's HTML report and a GameDay summary), stop everything. "
        "Ctrl-C stops the run, restores any fault in the ledger and stops the sandbox.",
        epilog="Exit status: 0 when every scenario met its criteria, 1 when one did not "
        "(the report says which), 2 on bad arguments or when the sandbox or the reports fail, "
        "130 when interrupted.",
    )
    parser.add_argument("--experiments", type=Path, default=ROOT / "experiments/scenarios/local",
                        metavar="DIR", help="folder of scenario experiments, run in name order "
                        "(default: %(default)s)")
    parser.add_argument("--journals", type=Path, default=Path("journals"), metavar="DIR",
                        help="where each scenario's journal is written (default: %(default)s)")
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR",
                        help="where the reports and chaos logs are written (default: %(default)s)")
    parser.add_argument("--only", metavar="N[,N...]",
                        help="run only these scenario numbers, e.g. 1,4 (default: all)")
    args = parser.parse_args(argv)
    try:
        scenarios = select_scenarios(args.experiments, args.only)
    except ValueError as exc:
        parser.error(str(exc))
    directory = run_dir()
    try:
        require_extra()
        left_running = status(directory)["running"]
    except (ConfigurationError, StateDamaged) as exc:
        _say(f"error: {exc}")
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    # Even when started with SIGINT ignored (a background job), Ctrl-C stops the demo.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.journals.mkdir(parents=True, exist_ok=True)
    (args.reports / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    journal_files: list[Path] = []
    _say(f"chaosllm demo: {len(scenarios)} scenarios on the local sandbox ({directory})")
    try:
        if left_running:
            _say("stopping the sandbox left running there")
            stack.down(directory)
        _say("[setup] starting the sandbox")
        state = stack.up(directory, progress=lambda line: _say(f"    {line}"))
        env = {**os.environ, **settings_env(state)}
        _say(f"[setup] ready in {time.monotonic() - started:.0f} s")
        for index, path in enumerate(scenarios, 1):
            experiment = json.loads(path.read_text())
            _say(f"[{index}/{len(scenarios)}] {experiment['title']}")
            t0 = time.monotonic()
            journal_path = _run_scenario(path, args.journals, args.reports / "logs", env)
            seconds = time.monotonic() - t0
            number = scenario_number(path)
            name = path.stem.partition("-")[2] if number is not None else path.stem
            row: dict[str, Any] = {"index": index if number is None else number,
                                   "name": name or path.stem, "seconds": seconds}  # fmt: skip
            if journal_path.exists():
                journal = json.loads(journal_path.read_text())
                journal_files.append(journal_path)
                row.update(judged(journal), load=_load_summary(journal))
            else:
                row.update(result="ERROR", met=0, total=0, failed=[], note="no journal written")
            rows.append(row)
            _say(f"[{index}/{len(scenarios)}] {row['result']} ({row['met']}/{row['total']} "
                 f"criteria met) in {seconds:.0f} s")  # fmt: skip
            for reason in row.get("reasons", []):
                _say(f"    {reason}")
        _say("[report] writing reports")
        _reports(journal_files, args.reports, env)
    except KeyboardInterrupt:
        _say("\ninterrupted: restoring faults left in the ledger, stopping the sandbox")
        from chaosllm.faults import cleanup

        for item in cleanup():
            _say(f"    {'restored' if item.get('removed') else 'not restored'} {item.get('id')}")
        return_code = 130
    except Exception:  # the sandbox or the reports failed: not a scenario verdict
        traceback.print_exc()
        _say("error: the demo stopped before it finished (see above); stopping the sandbox")
        return_code = 2
    else:
        return_code = 0 if rows and all(r["result"] == "PASSED" for r in rows) else 1
    finally:
        result = stack.down(directory)
        left = [s["name"] for s in result["running"]]
        _say("[teardown] sandbox stopped: " + (
            f"still running: {', '.join(left)}" if left else "nothing running, no port open"))  # fmt: skip
        if result["damaged"]:
            _say(f"[teardown] {result['damaged']}")
    _say("")
    _say(summary_table(rows))
    _say("")
    _say(f"wall time {time.monotonic() - started:.0f} s; journals in {args.journals}/")
    for journal_path in journal_files:
        html = args.reports / f"{journal_path.stem}.html"
        if html.exists():
            _say(f"  scenario report: {html}")
    gameday = args.reports / "gameday.html"
    if gameday.exists():
        _say(f"GameDay report: {gameday.resolve()}")
    return return_code


if __name__ == "__main__":
    sys.exit(main())
