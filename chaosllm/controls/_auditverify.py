"""``chaosllm audit verify``: what the audit log proves, with or without the key.

With the key, a keyed log (every entry an HMAC-SHA256 over its content and
the hash before it, and ``FILE.head`` the keyed record of its last entry)
shows an edited, removed, inserted or reordered entry even when the chain
was recomputed, a forged entry appended, a cut-off tail and a log replaced
by a fresh chain. Without the key it still checks the links and the
sequence, and says what it cannot prove. An unkeyed log (written without a
key, as before) is checked as a SHA-256 chain and reported ``unkeyed``:
anyone who can write the file could have rebuilt it.

Statuses: ``intact`` (exit 0), ``tampered`` (exit 1), ``unproven`` (keyed,
no key given) and ``unkeyed`` (exit 3, cannot prove).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from chaosllm.controls._auditlog import GENESIS, KEY_ENV, KEYED, entry_hash, head_mac, head_path, parse_entry

__all__ = ["verify_log", "EXIT_CODES"]

EXIT_CODES = {"intact": 0, "tampered": 1, "unproven": 3, "unkeyed": 3}


class _Walk:
    def __init__(self, key: str | None) -> None:
        self.key = key
        self.problems: list[str] = []
        self.prev, self.last_seq, self.count, self.keyed = GENESIS, 0, 0, 0

    def line(self, number: int, line: bytes) -> None:
        self.count += 1
        try:
            entry = parse_entry(line)
        except ValueError as exc:
            self.problems.append(f"line {number}: not an audit entry ({exc})")
            self.prev = hashlib.sha256(line).hexdigest()
            return
        seq, claimed, chain = entry["seq"], entry["hash"], entry.get("chain")
        where = f"line {number} (seq {seq})"
        if chain == KEYED:
            self.keyed += 1
            if self.key and not hmac.compare_digest(entry_hash(entry, self.key), claimed):
                self.problems.append(f"{where}: its HMAC does not match (edited, forged, or "
                                     "written with another key)")  # fmt: skip
        elif chain is not None:
            self.problems.append(f"{where}: unknown chain {str(chain)[:40]!r}")
        else:
            if self.keyed:
                self.problems.append(f"{where}: an unkeyed entry after keyed ones (written "
                                     "without the key: forged)")  # fmt: skip
            if entry_hash(entry) != claimed:
                self.problems.append(f"{where}: content does not match its hash (edited)")
        if entry["prev"] != self.prev:
            self.problems.append(f"{where}: does not follow the line before "
                                 "(an entry was removed, inserted or reordered)")  # fmt: skip
        if seq != self.last_seq + 1:
            self.problems.append(f"line {number}: seq {seq} after seq {self.last_seq}")
        self.prev, self.last_seq = claimed, seq


def _head(path: Path, walk: _Walk) -> None:
    """Compare the log's end with ``FILE.head`` (needs the key)."""
    target = head_path(path)
    if not walk.key:
        return
    try:
        record = json.loads(target.read_bytes())
        seq, digest, mac = record["seq"], record["hash"], str(record["mac"])
    except FileNotFoundError:
        if walk.keyed:
            walk.problems.append(f"{target.name} is missing (it is written with every keyed "
                                 "entry): a cut-off tail cannot be excluded")  # fmt: skip
        return
    except (OSError, ValueError, KeyError, TypeError):
        walk.problems.append(f"{target.name} is not a head record (edited)")
        return
    if not hmac.compare_digest(head_mac(seq, digest, walk.key), mac):
        walk.problems.append(f"{target.name}: its HMAC does not match (forged or edited)")
    elif not walk.keyed:
        walk.problems.append(f"the log holds no keyed entry, but {target.name} records a keyed chain "
                             f"ending at seq {seq}: the log was replaced")  # fmt: skip
    elif seq > walk.last_seq:
        walk.problems.append(f"entries were cut off: {target.name} records seq {seq}, the log "
                             f"ends at seq {walk.last_seq}")  # fmt: skip
    elif seq != walk.last_seq or digest != walk.prev:
        walk.problems.append(f"the log ends at seq {walk.last_seq}, but {target.name} records "
                             f"seq {seq} with another hash (replaced, or extended without the key)")


def verify_log(path: Path, head: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Check the log; returns ``{"entries", "keyed", "status", "head", "problems", "unproven"}``.

    Raises :class:`ValueError` when the file holds no entry at all, OSError when unreadable.
    """
    with open(path, "rb") as fh:
        lines = [line for line in fh.read().split(b"\n") if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no audit entries")
    walk = _Walk(key)
    for number, line in enumerate(lines, 1):
        walk.line(number, line)
    _head(path, walk)
    if head is not None and walk.prev != head:
        walk.problems.append(f"the last entry's hash is {walk.prev}, expected {head} (entries were cut off)")
    unproven: list[str] = []
    if walk.keyed and not key:
        unproven.append(f"the log is keyed and no key was given ({KEY_ENV}, the approval key or "
                        "--key-file): an entry edited or removed with the chain recomputed, a "
                        "forged append, a cut-off tail or a replaced log cannot be detected")  # fmt: skip
    elif not walk.keyed:
        unproven.append("the log is unkeyed (written without a key): anyone who can write it could "
                        "have rebuilt the whole chain; a cut-off tail shows only with --head")  # fmt: skip
    if walk.problems:
        status = "tampered"
    elif unproven:
        status = "unproven" if walk.keyed else "unkeyed"
    else:
        status = "intact"
    return {"entries": walk.count, "keyed": walk.keyed, "status": status,
            "head": None if walk.problems else walk.prev, "problems": walk.problems,
            "unproven": unproven}  # fmt: skip
