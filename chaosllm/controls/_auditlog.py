"""The audit log's file: its chained entries, appending under a lock, verifying.

The control that writes experiment runs to it is :mod:`chaosllm.controls.audit`;
the halt switch and the fail-closed wrapper of every control write their own
events with :func:`record_event`.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosllm.controls._experiment import canonical_json
from chaosllm.faults import state_dir, utcnow_iso
from chaosllm.settings import get_setting

__all__ = ["GENESIS", "entry_hash", "append_entry", "verify_log", "ci_job", "audit_path",
           "record_event", "user"]  # fmt: skip

GENESIS = "0" * 64


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _last_line(fh: Any) -> bytes | None:
    """The last non-empty line of an open binary file, read from its end."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    chunk, data = 4096, b""
    pos = end
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
        stripped = data.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    stripped = data.rstrip(b"\n")
    return stripped or None


def append_entry(path: Path, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Append one chained entry under an exclusive lock; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            last = _last_line(fh)
            prev, seq = GENESIS, 1
            if last:
                try:
                    before = json.loads(last)
                    prev, seq = str(before["hash"]), int(before["seq"]) + 1
                except (ValueError, KeyError, TypeError):
                    prev, seq = hashlib.sha256(last).hexdigest(), 1
            entry = {"seq": seq, **fields, "prev": prev}
            entry["hash"] = entry_hash(entry)
            fh.seek(0, os.SEEK_END)
            fh.write(canonical_json(entry) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return entry


class _NonFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NonFinite(f"non-finite number {text}")
    return value


def _no_constant(name: str) -> Any:
    raise _NonFinite(f"non-finite number {name}")


def _parse_entry(line: bytes) -> dict[str, Any]:
    """One log line as an entry; ValueError says what is wrong with it."""
    try:
        entry = json.loads(line, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except _NonFinite:
        raise
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    missing = [key for key in ("seq", "hash", "prev") if key not in entry]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    seq = entry["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("seq is not a positive integer")
    for key in ("hash", "prev"):
        if not isinstance(entry[key], str):
            raise ValueError(f"{key} is not a string")
    return entry


def verify_log(path: Path, head: str | None = None) -> tuple[int, list[str]]:
    """Check every entry's hash and link; returns (entries, problems).

    Raises :class:`ValueError` when the file holds no entry at all.
    """
    problems: list[str] = []
    prev, count, last_seq = GENESIS, 0, 0
    with open(path, "rb") as fh:
        lines = [line for line in fh.read().split(b"\n") if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no audit entries")
    for number, line in enumerate(lines, 1):
        count += 1
        try:
            entry = _parse_entry(line)
        except ValueError as exc:
            problems.append(f"line {number}: not an audit entry ({exc})")
            prev = hashlib.sha256(line).hexdigest()
            continue
        seq, claimed, link = entry["seq"], entry["hash"], entry["prev"]
        if entry_hash(entry) != claimed:
            problems.append(f"line {number} (seq {seq}): content does not match its hash (edited)")
        if link != prev:
            problems.append(
                f"line {number} (seq {seq}): does not follow the line before "
                f"(an entry was removed, inserted or reordered)"
            )
        if seq != last_seq + 1:
            problems.append(f"line {number}: seq {seq} after seq {last_seq}")
        prev, last_seq = claimed, seq
    if head is not None and prev != head:
        problems.append(f"the last entry's hash is {prev}, expected {head} (entries were cut off)")
    return count, problems


def ci_job() -> str | None:
    """The CI job running this, from the usual CI variables, or None."""
    env = os.environ
    if env.get("GITHUB_RUN_ID"):
        return f"github:{env['GITHUB_RUN_ID']}/{env.get('GITHUB_JOB', '')}"
    if env.get("CI_JOB_ID"):
        return f"gitlab:{env['CI_JOB_ID']}"
    if env.get("BUILD_URL"):
        return f"jenkins:{env['BUILD_URL']}"
    if env.get("BUILDKITE_JOB_ID"):
        return f"buildkite:{env['BUILDKITE_JOB_ID']}"
    if env.get("CI", "").lower() in ("1", "true", "yes"):
        return "ci"
    return None


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def audit_path(path: str | None = None, configuration: Any = None) -> Path:
    """The audit log: ``path``, else the setting ``audit_log``, else ``$CHAOSLLM_STATE_DIR/audit.jsonl``."""
    value = get_setting("audit_log", path, configuration, None)
    return Path(value).expanduser() if value else state_dir() / "audit.jsonl"


def record_event(event: str, fields: Mapping[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Append one entry that is not part of an experiment run (a halt, a lift)
    with who, where and when; returns it."""
    entry = {"time": utcnow_iso(), "event": event, "user": user(), "host": socket.gethostname(),
             "ci_job": ci_job(), **fields}  # fmt: skip
    return append_entry(path or audit_path(), entry)
