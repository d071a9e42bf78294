"""chaosllm report against chaostoolkit-reporting, on the same journals, in one run.

    .venv/bin/pip install -e '.[bench]'      # chaostoolkit-reporting; it also needs pandoc
    .venv/bin/python benchmarks/report_speed.py [--repeat 7] [--gameday-journals 1000]

Each measurement is a fresh process, as a user or CI runs it: wall time and
the peak resident memory of the process and everything it waited for
(``wait4``'s ``ru_maxrss``, which includes pandoc for the peer). Medians are
printed. Cases:

- one journal (journals/samples/redis-pause.json) to Markdown and to HTML;
- N journals (copies of the samples) to a GameDay summary. The peer has no
  GameDay summary; its nearest output, one Markdown report of many journals
  (``--peer-journals``, default 50: it takes seconds per journal), is
  timed once, with a time limit.

The peer re-reads the experiment's configuration and secrets from the
environment, so the variables the sample journals refer to are set for it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "journals" / "samples"
BIN = Path(sys.executable).parent
PEER_ENV = {"CHAOSLLM_REDIS_URL": "redis://127.0.0.1:1/0", "SAMPLE_REDIS_PASSWORD": "unused",
            "SAMPLE_MARKER": "/tmp/marker", "SAMPLE_PROMETHEUS_URL": "http://127.0.0.1:1"}  # fmt: skip


def measure(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one process and its children.

    The CPU seconds (user + system) of every run are added to ``CPU[cmd[0]]``."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return float("inf"), usage.ru_maxrss / 1024, -9
        time.sleep(0.002)
    wall = time.perf_counter() - started
    CPU.setdefault(tuple(cmd), []).append(usage.ru_utime + usage.ru_stime)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 and proc.stderr:
        tail = proc.stderr.read().decode(errors="replace").strip().splitlines()[-1:]
        print(f"    ! {' '.join(cmd[:3])}... exited {proc.returncode}: {tail}", file=sys.stderr)
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_maxrss / 1024, proc.returncode


CPU: dict[tuple[str, ...], list[float]] = {}


def medians(cmds: list[list[str]], env: dict[str, str], repeat: int,
            timeout: float) -> list[tuple[float, float]]:  # fmt: skip
    """Median (wall, peak MB) of each command; runs are interleaved so that load on a
    shared machine falls on every command alike."""
    runs: list[list[tuple[float, float, int]]] = [[] for _ in cmds]
    for _ in range(repeat):
        for i, cmd in enumerate(cmds):
            runs[i].append(measure(cmd, env, timeout))
    out = []
    for results in runs:
        if any(code != 0 for _, _, code in results):
            out.append((float("nan"), float("nan")))
        else:
            out.append((statistics.median(r[0] for r in results),
                        statistics.median(r[1] for r in results)))  # fmt: skip
    return out


def row(case: str, ours: tuple[float, float], peer: tuple[float, float] | None, note: str,
        compare: bool = True) -> None:  # fmt: skip
    if peer is not None and not compare:
        print(f"{case:<34} {ours[0]:>8.3f} s {ours[1]:>7.1f} MB {peer[0]:>9.3f} s "
              f"{peer[1]:>7.1f} MB   {note}")  # fmt: skip
        return
    if peer is None or peer[0] != peer[0]:
        print(f"{case:<34} {ours[0]:>8.3f} s {ours[1]:>7.1f} MB   {'-':>9} {'-':>10}   {note}")
        return
    print(
        f"{case:<34} {ours[0]:>8.3f} s {ours[1]:>7.1f} MB {peer[0]:>9.3f} s {peer[1]:>7.1f} MB"
        f"   {peer[0] / ours[0]:>5.1f}x faster, {ours[1] / peer[1]:.2f}x the memory {note}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--gameday-journals", type=int, default=1000)
    parser.add_argument("--peer-journals", type=int, default=50,
                        help="journals in the peer's one-report-of-all (it has no GameDay)")
    parser.add_argument("--peer-timeout", type=float, default=300.0)
    args = parser.parse_args()

    chaosllm, chaos = str(BIN / "chaosllm"), str(BIN / "chaos")
    env = {**os.environ, **PEER_ENV}
    journal = str(SAMPLES / "redis-pause.json")
    has_peer = subprocess.run([chaos, "report", "--help"], capture_output=True).returncode == 0
    has_pandoc = shutil.which("pandoc") is not None
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, repeat {args.repeat}; "
          f"chaostoolkit-reporting {'installed' if has_peer else 'NOT installed'}, "
          f"pandoc {'installed' if has_pandoc else 'NOT installed'}")  # fmt: skip
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} (wall times grow with other work on the machine)")
    print(f"{'case':<34} {'chaosllm':>10} {'peak':>10} {'ctk-reporting':>11} {'peak':>10}")

    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        out = Path(tmp)
        settings = out / "settings.yaml"
        settings.write_text("{}\n")
        peer_base = [chaos, "--no-version-check", "--no-log-file", "--settings", str(settings),
                     "report"]  # fmt: skip
        for fmt, peer_fmt in (("md", "markdown"), ("html", "html")):
            cmds = [[chaosllm, "report", journal, "--format", fmt, "--out", str(out)]]
            note = ""
            if has_peer and has_pandoc:
                cmds.append([*peer_base, f"--export-format={peer_fmt}", journal,
                             str(out / f"p.{fmt}")])  # fmt: skip
            else:
                note = "(peer cannot run: it needs chaostoolkit-reporting and pandoc)"
            ours, *others = medians(cmds, env, args.repeat, 120)
            peer = others[0] if others else None
            row(f"1 journal -> {fmt}", ours, peer, note)

        folder = out / "many"
        folder.mkdir()
        sources = [p for p in sorted(SAMPLES.glob("*.json"))]
        for i in range(args.gameday_journals):
            shutil.copy(sources[i % len(sources)], folder / f"run-{i:04d}.json")
        count = args.gameday_journals
        [ours] = medians([[chaosllm, "gameday", str(folder), "--format", "md,html,json", "--out",
                           str(out / "gd")]], env, max(3, args.repeat // 2), 120)  # fmt: skip
        peer = None
        note = "(peer has no GameDay summary)"
        if has_peer and has_pandoc:
            # Its interrupted journals crash it (KeyError 'status'): give it the others only.
            peer_folder = out / "peer-many"
            peer_folder.mkdir()
            usable = [p for p in sources if p.stem not in ("plain-interrupted", "guard-aborted")]
            for i in range(args.peer_journals):
                shutil.copy(usable[i % len(usable)], peer_folder / f"run-{i:04d}.json")
            files = sorted(str(p) for p in peer_folder.iterdir())
            wall, rss, code = measure(
                [*peer_base, "--export-format=markdown", *files, str(out / "all.md")],
                env, args.peer_timeout,
            )  # fmt: skip
            if code == 0:
                peer = (wall, rss)
                note = f"(peer: one Markdown report of {args.peer_journals} journals, 1 run)"
            elif code == -9:
                note = (f"(peer: one Markdown report of {args.peer_journals} journals did not "
                        f"finish in {args.peer_timeout:.0f} s)")
            else:
                note = f"(peer: one Markdown report of {args.peer_journals} failed, exit {code})"
        row(f"{count} journals -> GameDay", ours, peer, note, compare=False)

        # What the peer cannot do, shown rather than claimed.
        if has_peer and has_pandoc:
            for label, path, extra in (
                ("interrupted journal", SAMPLES / "plain-interrupted.json", {}),
                ("unset secret variable", SAMPLES / "redis-pause.json",
                 {"SAMPLE_REDIS_PASSWORD": None}),
            ):  # fmt: skip
                peer_env = {k: v for k, v in env.items() if extra.get(k, v) is not None}
                _, _, code = measure([*peer_base, "--export-format=markdown", str(path),
                                      str(out / "x.md")], peer_env, 120)  # fmt: skip
                _, _, mine = measure([chaosllm, "report", str(path), "--format", "md", "--out",
                                      str(out)], peer_env, 60)  # fmt: skip
                print(f"{label:<34} chaosllm exit {mine}, chaostoolkit-reporting exit {code}")
    print("median CPU seconds (user + system), which other load on the machine barely changes:")
    for cmd, values in CPU.items():
        if len(values) > 1:
            shown = " ".join(Path(part).name if "/" in part else part for part in cmd)
            print(f"  {statistics.median(values):7.3f} s  {shown[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
