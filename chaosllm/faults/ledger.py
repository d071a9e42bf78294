"""The durable fault ledger: faults that outlive the process that applied them.

A fault that persists in its target (a changed ``maxmemory``, a role's
``statement_timeout``) is written to ``ledger.json`` in
``$CHAOSLLM_STATE_DIR`` (default ``~/.chaosllm``) before it is applied. When
the backend does not end the fault by itself, a detached healer restores it
when its duration ends, even if the ``chaos`` process was killed;
``chaosllm cleanup`` restores whatever is still there. The file is private
to its user (mode 0600) because restoring needs the connection settings.
With the setting ``ledger_namespace`` (or in a pod), every change is also
written to Secrets in the cluster (:mod:`chaosllm.faults.cluster`), where
``chaosllm cleanup --cluster`` finds the faults of a runner that died.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from chaosllm.errors import ConfigurationError
from chaosllm.faults.cluster import ClusterCopy, ledger_namespace
from chaosllm.faults.halt import refuse_if_halted
from chaosllm.faults.handles import utcnow_iso
from chaosllm.faults.healer import is_healer, spawn_healer, stop_healer
from chaosllm.faults.restorers import load_restorer, restorer_id
from chaosllm.faults.runs import current_run
from chaosllm.faults.statedir import state_dir

__all__ = [
    "Ledger",
    "ClusterLedger",
    "Recording",
    "state_dir",
    "fault_lock",
    "record_fault",
    "recording",
    "restore_fault",
    "cleanup",
]


class Ledger:
    """A JSON file of faults to restore, guarded by an advisory lock.

    Entries are keyed by ``id``; each names a ``restorer`` (an id of
    :mod:`chaosllm.faults.restorers`) that receives the entry and undoes the fault.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "ledger.json"
        namespace = ledger_namespace()
        self.cluster = ClusterCopy(namespace) if namespace else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = self._read()
                before = copy.deepcopy(entries)
                yield entries
                if json.dumps(entries, sort_keys=True) != json.dumps(before, sort_keys=True):
                    # The cluster's copy first: a fault it cannot record is not applied.
                    if self.cluster is not None:
                        self.cluster.sync(before, entries)
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


class ClusterLedger(Ledger):
    """The ledger's copy in the cluster alone (:mod:`chaosllm.faults.cluster`), read and
    changed from any machine: what ``chaosllm cleanup --cluster`` restores from.
    Only the per-fault locks live on this machine."""

    def __init__(self, namespace: str) -> None:
        self.cluster: ClusterCopy | None = ClusterCopy(namespace)
        self.path = state_dir() / "cluster" / f"{namespace}.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        assert self.cluster is not None
        entries = self.cluster.entries()
        before = copy.deepcopy(entries)
        yield entries
        self.cluster.sync(before, entries)


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

    ``restorer`` is an id of :data:`~chaosllm.faults.restorers.RESTORERS`
    (or "module:function" for a restorer of one's own). Returns False when a
    fault with this id is already recorded, so that the caller does not stack
    it (and keeps the first, original state). With a duration and ``healer``,
    a detached process restores the fault when it expires; pass
    ``healer=False`` when the backend enforces the duration.

    Every lasting fault passes here before its first change: while chaos is
    halted on this machine (:mod:`chaosllm.faults.halt`) the fault is refused,
    with nothing changed and nothing recorded. The entry names the run and the
    process that recorded it, so that a run restores only its own faults.
    """
    refuse_if_halted(f"fault {description!r}")
    ledger = ledger or Ledger()
    entry = {
        "id": entry_id,
        "run": current_run(),
        "pid": os.getpid(),
        "token": os.urandom(8).hex(),
        "restorer": restorer_id(restorer),
        "state": state,
        "description": description,
        "created_at": utcnow_iso(),
        "expires_at": utcnow_iso(duration) if duration is not None else None,
        "deadline": time.time() + duration if duration is not None else None,
        "healer_pid": None,
    }
    fresh = ledger.add(entry)
    if duration is not None and healer:
        _ensure_healer(entry_id, duration, ledger, fresh)
    return fresh


def _ensure_healer(entry_id: str, duration: float, ledger: Ledger, fresh: bool) -> None:
    if fresh:
        ledger.update(entry_id, healer_pid=spawn_healer(entry_id, duration, ledger.path))
    else:
        _adopt_orphan(entry_id, duration, ledger)


def _adopt_orphan(entry_id: str, duration: float, ledger: Ledger) -> None:
    """Give a recorded fault whose healer is gone (killed, or the machine
    restarted) a new healer, so that re-applying it does not leave it for
    good. An entry already past its deadline gets the new duration."""
    current = ledger.get(entry_id)
    if current is None or current.get("deadline") is None:
        return
    pid = current.get("healer_pid")
    if pid and is_healer(pid, entry_id):
        return
    now = time.time()
    with contextlib.suppress(KeyError, TypeError, ValueError):
        if now - datetime.fromisoformat(current["created_at"]).timestamp() < 5:
            return  # just recorded by another process: its healer is still starting
    deadline = current["deadline"] if current["deadline"] > now else now + duration
    ledger.update(entry_id, deadline=deadline, expires_at=utcnow_iso(deadline - now))
    ledger.update(entry_id, healer_pid=spawn_healer(entry_id, deadline - now, ledger.path))


def restore_fault(entry_id: str, ledger: Ledger | None = None) -> dict[str, Any]:
    """Restore one ledger entry. Idempotent: a missing entry is ``removed: false``."""
    ledger = ledger or Ledger()
    with fault_lock(entry_id, ledger):
        entry = ledger.get(entry_id)
        if entry is None:
            return {"removed": False, "id": entry_id}
        if not isinstance(entry, dict) or not isinstance(entry.get("state"), dict):
            raise ConfigurationError(
                f"fault ledger entry {entry_id} is malformed (it needs a 'restorer' and a "
                f"'state' object); restore it by hand, then chaosllm cleanup --forget {entry_id}"
            )
        if entry.get("ended_by_backend") and (entry.get("deadline") or 0) <= time.time():
            result = None  # the backend ended it at its deadline: nothing is left to undo
        else:
            result = load_restorer(entry_id, entry.get("restorer"))(entry)
        # A new fault recorded under the same id meanwhile is not ours to drop.
        ledger.pop(entry_id, entry.get("token"))
    stop_healer(entry_id, entry)
    return {"removed": True, "id": entry_id, "description": entry.get("description", ""), "result": result}


def cleanup(
    ledger: Ledger | None = None, run: str | None = None, expired_before: float | None = None,
) -> list[dict[str, Any]]:
    """Restore every fault in the ledger (with ``run``, only that run's faults; with
    ``expired_before``, a time, only faults whose deadline was before it); returns what
    was restored or failed."""
    ledger = ledger or Ledger()
    report = []
    entries = ledger.entries()
    for entry_id in sorted(entries):
        entry = entries[entry_id]
        if run is not None and not (isinstance(entry, dict) and entry.get("run") == run):
            continue
        if expired_before is not None and not (
            isinstance(entry, dict) and isinstance(entry.get("deadline"), (int, float))
            and entry["deadline"] < expired_before
        ):
            continue
        try:
            report.append(restore_fault(entry_id, ledger))
        except Exception as exc:  # report and keep the entry for a later run
            report.append({"removed": False, "id": entry_id, "error": str(exc)})
    return report


class Recording:
    """One fault being recorded and applied; what :func:`recording` yields."""

    def __init__(self, entry_id: str, ledger: Ledger) -> None:
        self.entry_id = entry_id
        self.ledger = ledger
        self.fresh = False
        self.duration: float | None = None
        self.state: dict[str, Any] = {}

    def record(
        self, restorer: str, state: dict[str, Any], duration: float | None, description: str,
        healer: bool = True,
    ) -> bool:
        """Write the fault to the ledger (see :func:`record_fault`); False when it was there.

        Afterwards :attr:`state` is the state in force: ``state`` when the
        entry is new, the first application's when the fault is re-applied.
        """
        self.fresh = record_fault(self.entry_id, restorer, state, duration, description,
                                  self.ledger, healer)  # fmt: skip
        self.duration = duration
        recorded = None if self.fresh else self.ledger.get(self.entry_id)
        self.state = recorded["state"] if recorded else state
        return self.fresh

    def ends_by(self, backend: bool) -> None:
        """Say how a fault recorded with ``healer=False`` ends, once the apply shows it.

        With ``backend``, the backend ends it at its deadline (it said so):
        the entry is only a record until then, and afterwards there is
        nothing to undo. Otherwise a detached healer restores it.
        """
        if self.duration is None:
            return
        if not backend:
            _ensure_healer(self.entry_id, self.duration, self.ledger, self.fresh)
        elif self.fresh:
            self.ledger.update(self.entry_id, ended_by_backend=True)


@contextlib.contextmanager
def recording(
    entry_id: str,
    ledger: Ledger | None = None,
    on_failure: Literal["restore", "forget"] = "restore",
) -> Iterator[Recording]:
    """Read a fault's original state, record it, apply it; undo the record if applying fails.

    Holds :func:`fault_lock` throughout. An entry whose duration is over is
    restored first, so that the new fault is recorded afresh (with its own
    duration) and not taken for a re-application. If the block raises after
    :meth:`Recording.record` wrote a new entry, the entry is undone: with
    ``"restore"`` its restorer runs (the apply may have changed part of the
    target; if that fails too, the entry stays for the healer or ``chaosllm
    cleanup``, and the first error is raised), with ``"forget"`` it is only
    dropped (the apply is one request that changed nothing when it failed).
    An entry that was already in force belongs to the fault still applied
    and is kept.
    """
    ledger = ledger or Ledger()
    with fault_lock(entry_id, ledger):
        entry = ledger.get(entry_id)
        if entry and entry.get("deadline") is not None and entry["deadline"] <= time.time():
            restore_fault(entry_id, ledger)
        rec = Recording(entry_id, ledger)
        try:
            yield rec
        except BaseException:
            if rec.fresh and on_failure == "forget":
                dropped = ledger.pop(entry_id)
                if dropped is not None:
                    stop_healer(entry_id, dropped)
            elif rec.fresh:
                with contextlib.suppress(Exception):
                    restore_fault(entry_id, ledger)
            raise
