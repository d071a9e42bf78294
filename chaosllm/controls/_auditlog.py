"""The audit log's file: its chained entries, appending under a lock, verifying.

The control that writes experiment runs to it is :mod:`chaosllm.controls.audit`;
the halt switch and the fail-closed wrapper of every control write their own
events with :func:`record_event`.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import hmac
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosllm.controls._experiment import canonical_json
from chaosllm.faults import state_dir, utcnow_iso
from chaosllm.settings import get_setting

__all__ = ["GENESIS", "KEY_ENV", "KEYED", "AuditError", "audit_key", "entry_hash", "head_path",
           "head_mac", "append_entry", "parse_entry", "ci_job", "audit_path", "record_event",
           "user"]  # fmt: skip

GENESIS = "0" * 64
KEY_ENV = "CHAOSLLM_AUDIT_KEY"
KEYED = "hmac-sha256"


class AuditError(ValueError):
    """The audit log cannot be extended safely."""


def audit_key() -> str | None:
    """The operator's audit key: ``CHAOSLLM_AUDIT_KEY``, else the approval key, else None."""
    key = os.environ.get(KEY_ENV)
    if key:
        return key
    from chaosllm.controls._approvals import operator_key

    return operator_key()


def entry_hash(entry: Mapping[str, Any], key: str | None = None) -> str:
    """An entry's hash: HMAC-SHA256 with ``key`` for a keyed entry (``"chain": "hmac-sha256"``),
    SHA-256 for an unkeyed one; the entry's own ``hash`` left out."""
    body = canonical_json({k: v for k, v in entry.items() if k != "hash"})
    if entry.get("chain") == KEYED:
        if not key:
            raise AuditError("a keyed entry needs the key")
        return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def head_path(path: Path) -> Path:
    """``FILE.head``: the keyed record of the last entry, which shows a cut-off tail."""
    return path.with_name(path.name + ".head")


def head_mac(seq: Any, digest: Any, key: str) -> str:
    return hmac.new(key.encode(), canonical_json({"head": {"seq": seq, "hash": digest}}),
                    hashlib.sha256).hexdigest()  # fmt: skip


def _write_head(path: Path, entry: Mapping[str, Any], key: str) -> None:
    target = head_path(path)
    temporary = target.with_name(target.name + ".tmp")
    record = {"seq": entry["seq"], "hash": entry["hash"],
              "mac": head_mac(entry["seq"], entry["hash"], key)}  # fmt: skip
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(canonical_json(record) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, target)


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


def _link(path: Path, last: bytes | None, key: str | None) -> tuple[str, int]:
    """``prev`` and ``seq`` of the entry after ``last``; refuses to extend a keyed log
    without its key, or one whose last entry the key does not match."""
    if not last:
        return GENESIS, 1
    try:
        before = json.loads(last)
        prev, seq = str(before["hash"]), int(before["seq"]) + 1
    except (ValueError, KeyError, TypeError):
        return hashlib.sha256(last).hexdigest(), 1
    if isinstance(before, dict) and before.get("chain") == KEYED:
        if not key:
            raise AuditError(f"the audit log {path} is keyed: set {KEY_ENV} (or the approval key) "
                             "to add to it")  # fmt: skip
        if not hmac.compare_digest(entry_hash(before, key), prev):
            raise AuditError(f"the last entry of the audit log {path} does not match the key "
                             "(written with another key, or edited): refusing to extend it; "
                             "check it with 'chaosllm audit verify'")  # fmt: skip
    return prev, seq


def append_entry(path: Path, fields: Mapping[str, Any], key: str | None | bool = True) -> dict[str, Any]:
    """Append one chained entry under an exclusive lock; returns it.

    ``key`` (default: :func:`audit_key`) makes it a keyed entry and updates ``FILE.head``.
    """
    secret = audit_key() if key is True else (key or None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            prev, seq = _link(path, _last_line(fh), secret)
            entry = {"seq": seq, **fields, "prev": prev}
            if secret:
                entry["chain"] = KEYED
            entry["hash"] = entry_hash(entry, secret)
            fh.seek(0, os.SEEK_END)
            fh.write(canonical_json(entry) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
            if secret:
                _write_head(path, entry, secret)
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


def parse_entry(line: bytes) -> dict[str, Any]:
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
