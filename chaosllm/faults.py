"""Fault handles, Go-style durations and the durable fault ledger.

Every fault action returns a handle (``kind, name, target, spec, started_at,
expires_at``). A fault that outlives the ``chaos`` process (a changed
``maxmemory``, a role's ``statement_timeout``) is written to the ledger in
``$CHAOSLLM_STATE_DIR`` (default ``~/.chaosllm``) before it is applied, and a
small detached healer process restores it when its duration ends, even if the
``chaos`` process was killed. ``chaosllm cleanup`` restores whatever is still
in the ledger. The ledger file is private to its user (mode 0600) because
restoring needs the connection settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError, InvalidArgument

__all__ = [
    "parse_duration",
    "fault_seconds",
    "format_duration",
    "fault_handle",
    "Ledger",
    "state_dir",
    "record_fault",
    "restore_fault",
    "fault_lock",
    "cleanup",
    "utcnow_iso",
    "hold_fault",
    "release_held",
    "held_faults",
]

# Longer than any fault should last, and short enough for every timer to hold.
MAX_DURATION = 366 * 86400.0
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str | int | float, what: str = "duration") -> float:
    """Parse a Go-style duration ("500ms", "1h30m") into seconds.

    Plain numbers are seconds. Negative, empty or malformed values raise
    :class:`InvalidArgument` naming ``what``.
    """
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a duration such as '30s', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if not text or pos != len(text):
                raise InvalidArgument(
                    f"{what} {value!r} is not a duration: use Go form such as "
                    f"'500ms', '30s', '5m' or '1h30m'"
                )
    else:
        raise InvalidArgument(f"{what} must be a duration string, got {type(value).__name__}")
    if seconds < 0 or seconds != seconds:
        raise InvalidArgument(f"{what} {value!r} must not be negative")
    if seconds > MAX_DURATION:
        raise InvalidArgument(f"{what} {value!r} is too long: at most {MAX_DURATION / 86400:g} days")
    return seconds


def fault_seconds(
    duration: str | int | float | None, allow_unbounded: bool, what: str = "fault"
) -> float | None:
    """A fault's duration in seconds; ``None`` (no end) only with ``allow_unbounded``."""
    if duration in (None, ""):
        if not allow_unbounded:
            raise InvalidArgument(
                f"duration is required: a {what} without one needs allow_unbounded=true"
            )
        return None
    seconds = parse_duration(duration)  # type: ignore[arg-type]
    if seconds <= 0:
        raise InvalidArgument(f"duration {duration!r} must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds in Go form: 90 -> '1m30s', 0.5 -> '500ms'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return out + (f"{secs}s" if secs or not out else "")


def utcnow_iso(offset: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset, tz=timezone.utc).isoformat(
        timespec="milliseconds"
    )


def fault_handle(
    kind: str, name: str, target: str, spec: dict[str, Any], duration: float | None
) -> dict[str, Any]:
    """The JSON-serialisable handle every fault action returns."""
    return {
        "kind": kind,
        "name": name,
        "target": target,
        "spec": spec,
        "started_at": utcnow_iso(),
        "expires_at": utcnow_iso(duration) if duration is not None else None,
    }


def state_dir(create: bool = True) -> Path:
    """``$CHAOSLLM_STATE_DIR`` (default ``~/.chaosllm``), created unless ``create`` is false."""
    path = Path(os.environ.get("CHAOSLLM_STATE_DIR") or Path.home() / ".chaosllm")
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class Ledger:
    """A JSON file of faults to restore, guarded by an advisory lock.

    Entries are keyed by ``id``; each names a ``restorer`` ("module:function")
    that receives the entry and undoes the fault.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "ledger.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = self._read()
                before = json.dumps(entries, sort_keys=True)
                yield entries
                if json.dumps(entries, sort_keys=True) != before:
                    self._write(entries)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            # Never overwrite it: it holds the original values to restore.
            raise ConfigurationError(
                f"the fault ledger {self.path} is not a JSON object: fix or move it; "
                f"nothing is recorded or restored until then"
            )
        return data

    def _write(self, entries: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(entries, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def entries(self) -> dict[str, Any]:
        with self._locked() as entries:
            return dict(entries)

    def get(self, entry_id: str) -> dict[str, Any] | None:
        return self.entries().get(entry_id)

    def add(self, entry: dict[str, Any]) -> bool:
        """Add ``entry`` unless its id is present. Returns True when added."""
        with self._locked() as entries:
            if entry["id"] in entries:
                return False
            entries[entry["id"]] = entry
            return True

    def update(self, entry_id: str, **fields: Any) -> None:
        with self._locked() as entries:
            if entry_id in entries:
                entries[entry_id].update(fields)

    def pop(self, entry_id: str, token: str | None = None) -> dict[str, Any] | None:
        """Remove an entry; with ``token``, only if it is still that entry."""
        with self._locked() as entries:
            entry = entries.get(entry_id)
            if entry is None or (token is not None and entry.get("token") != token):
                return None
            return entries.pop(entry_id)


_locks_held = threading.local()


@contextlib.contextmanager
def fault_lock(entry_id: str, ledger: Ledger | None = None) -> Iterator[None]:
    """Hold while reading a fault's original state, recording it and applying it.

    :func:`restore_fault` holds it too, so a healer's restore never falls
    between a re-application's check of the ledger and its change (which
    would leave the change with no entry to undo it). Re-entrant in a thread.
    """
    held: set[str] = getattr(_locks_held, "ids", set())
    if entry_id in held:
        yield
        return
    folder = (ledger or Ledger()).path.parent / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(entry_id.encode()).hexdigest()[:32] + ".lock"
    with open(folder / name, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        held.add(entry_id)
        _locks_held.ids = held
        try:
            yield
        finally:
            held.discard(entry_id)
            fcntl.flock(fh, fcntl.LOCK_UN)


def _resolve(entry_id: str, entry: Any) -> Callable[[dict[str, Any]], Any]:
    """The restorer an entry names; a hand-edited, malformed entry is a clear error."""
    restorer = entry.get("restorer") if isinstance(entry, dict) else None
    module, _, func = restorer.partition(":") if isinstance(restorer, str) else ("", "", "")
    if not module or not func or not isinstance(entry.get("state"), dict):
        raise ConfigurationError(
            f"fault ledger entry {entry_id} is malformed (it needs 'restorer' as "
            f"'module:function' and a 'state' object); restore it by hand, then "
            f"chaosllm cleanup --forget {entry_id}"
        )
    try:
        found = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"fault ledger entry {entry_id} names restorer {restorer}, which cannot be loaded: {exc}"
        ) from exc
    return found  # type: ignore[no-any-return]


def record_fault(
    entry_id: str,
    restorer: str,
    state: dict[str, Any],
    duration: float | None,
    description: str,
    ledger: Ledger | None = None,
    healer: bool = True,
) -> bool:
    """Write a fault to the ledger before it is applied.

    Returns False when a fault with this id is already recorded, so that the
    caller does not stack it (and keeps the first, original state). With a
    duration and ``healer``, a detached process restores the fault when it
    expires; pass ``healer=False`` when the backend enforces the duration.
    """
    ledger = ledger or Ledger()
    entry = {
        "id": entry_id,
        "token": os.urandom(8).hex(),
        "restorer": restorer,
        "state": state,
        "description": description,
        "created_at": utcnow_iso(),
        "expires_at": utcnow_iso(duration) if duration is not None else None,
        "deadline": time.time() + duration if duration is not None else None,
        "healer_pid": None,
    }
    if not ledger.add(entry):
        if duration is not None and healer:
            _adopt_orphan(entry_id, duration, ledger)
        return False
    if duration is not None and healer:
        ledger.update(entry_id, healer_pid=_spawn_healer(entry_id, duration, ledger.path))
    return True


def _adopt_orphan(entry_id: str, duration: float, ledger: Ledger) -> None:
    """Give a recorded fault whose healer is gone (killed, or the machine
    restarted) a new healer, so that re-applying it does not leave it for
    good. An entry already past its deadline gets the new duration."""
    current = ledger.get(entry_id)
    if current is None or current.get("deadline") is None:
        return
    pid = current.get("healer_pid")
    if pid and _is_healer(pid, entry_id):
        return
    now = time.time()
    with contextlib.suppress(KeyError, TypeError, ValueError):
        if now - datetime.fromisoformat(current["created_at"]).timestamp() < 5:
            return  # just recorded by another process: its healer is still starting
    deadline = current["deadline"] if current["deadline"] > now else now + duration
    ledger.update(entry_id, deadline=deadline, expires_at=utcnow_iso(deadline - now))
    ledger.update(entry_id, healer_pid=_spawn_healer(entry_id, deadline - now, ledger.path))


def _spawn_healer(entry_id: str, duration: float, ledger_path: Path) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosllm.faults", "heal", entry_id, str(duration), str(ledger_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    # Reap it when it exits before this process does, so that it leaves no zombie.
    threading.Thread(target=proc.wait, name=f"reap-healer-{proc.pid}", daemon=True).start()
    return proc.pid


def _is_healer(pid: int, entry_id: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"chaosllm.faults" in cmdline and entry_id.encode() in cmdline


def _stop_healer(entry_id: str, entry: dict[str, Any]) -> None:
    pid = entry.get("healer_pid")
    if isinstance(pid, int) and pid > 0 and pid != os.getpid() and _is_healer(pid, entry_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        # Reap it when it is our own child, so that no zombie is left behind.
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)


def restore_fault(entry_id: str, ledger: Ledger | None = None) -> dict[str, Any]:
    """Restore one ledger entry. Idempotent: a missing entry is ``removed: false``."""
    ledger = ledger or Ledger()
    with fault_lock(entry_id, ledger):
        entry = ledger.get(entry_id)
        if entry is None:
            return {"removed": False, "id": entry_id}
        result = _resolve(entry_id, entry)(entry)
        # A new fault recorded under the same id meanwhile is not ours to drop.
        ledger.pop(entry_id, entry.get("token"))
    _stop_healer(entry_id, entry)
    return {"removed": True, "id": entry_id, "description": entry.get("description", ""), "result": result}


def cleanup(ledger: Ledger | None = None) -> list[dict[str, Any]]:
    """Restore every fault in the ledger; returns what was restored or failed."""
    ledger = ledger or Ledger()
    report = []
    for entry_id in sorted(ledger.entries()):
        try:
            report.append(restore_fault(entry_id, ledger))
        except Exception as exc:  # report and keep the entry for a later run
            report.append({"removed": False, "id": entry_id, "error": str(exc)})
    return report


# How the healer retries a restore that fails: first after 0.2 s, doubling up
# to every 30 s, for a day.
HEAL_FIRST_RETRY = 0.2
HEAL_MAX_RETRY = 30.0
HEAL_GIVE_UP = 86400.0


def _heal(entry_id: str, duration: float, ledger_path: str) -> None:
    ledger = Ledger(Path(ledger_path))
    entry: dict[str, Any] | None = {}
    with contextlib.suppress(ConfigurationError):
        entry = ledger.get(entry_id)
    deadline = (entry or {}).get("deadline") or time.time() + duration
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        time.sleep(min(remaining, 1.0))
        with contextlib.suppress(ConfigurationError):  # unreadable for now: keep waiting
            if ledger.get(entry_id) is None:
                return
    # The target may be down when the fault ends (a restarted database, say):
    # keep trying, backing off, for as long as the entry is there to restore.
    give_up = time.time() + HEAL_GIVE_UP
    delay = HEAL_FIRST_RETRY
    while True:
        try:
            restore_fault(entry_id, ledger)
            return
        except Exception:
            if time.time() + delay > give_up:
                return  # left in the ledger for `chaosllm cleanup`
            time.sleep(delay)
            delay = min(delay * 2, HEAL_MAX_RETRY)


# Faults that live in this process (held connections, held locks) die with it,
# so they need no ledger; a timer releases each when its duration ends.
_held: dict[str, tuple[Callable[[], Any], threading.Timer | None]] = {}
_held_lock = threading.Lock()


def hold_fault(entry_id: str, release: Callable[[], Any], duration: float | None) -> bool:
    """Register an in-process fault and release it after ``duration`` seconds.

    Returns False (and registers nothing) when ``entry_id`` is already held,
    so that a second injection does not stack.
    """
    with _held_lock:
        if entry_id in _held:
            return False
        timer = None
        if duration is not None:
            timer = threading.Timer(duration, release_held, args=(entry_id,))
            timer.daemon = True
        _held[entry_id] = (release, timer)
    if timer is not None:
        timer.start()
    return True


def release_held(entry_id: str) -> bool:
    """Release an in-process fault now. False when it was not held (idempotent)."""
    with _held_lock:
        item = _held.pop(entry_id, None)
    if item is None:
        return False
    release, timer = item
    if timer is not None and timer is not threading.current_thread():
        timer.cancel()
    release()
    return True


def held_faults() -> list[str]:
    with _held_lock:
        return sorted(_held)


if __name__ == "__main__":  # the detached healer
    if len(sys.argv) == 5 and sys.argv[1] == "heal":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        _heal(sys.argv[2], float(sys.argv[3]), sys.argv[4])
