"""Faults: durations, fault handles, the durable fault ledger, healers and holds.

Every fault action returns a handle (:mod:`.handles`) and takes a Go-style
duration (:mod:`.durations`). A fault that outlives the ``chaos`` process is
written to the ledger (:mod:`.ledger`) before it is applied and undone by the
restorer its stable id names (:mod:`.restorers`), from a detached healer
(:mod:`.healer`) or ``chaosllm cleanup``; a fault that dies with the process
is held in it (:mod:`.holds`). This module re-exports the public names for
``from chaosllm.faults import X``; the modules of this package import one
another directly.
"""

from __future__ import annotations

from chaosllm.faults.durations import bounded_seconds, fault_seconds, format_duration, parse_duration
from chaosllm.faults.handles import fault_handle, utcnow_iso
from chaosllm.faults.holds import held_faults, hold_fault, release_held
from chaosllm.faults.ledger import (
    Ledger,
    Recording,
    cleanup,
    fault_lock,
    record_fault,
    recording,
    restore_fault,
    state_dir,
)

__all__ = [
    "parse_duration",
    "bounded_seconds",
    "fault_seconds",
    "format_duration",
    "fault_handle",
    "Ledger",
    "Recording",
    "state_dir",
    "record_fault",
    "recording",
    "restore_fault",
    "fault_lock",
    "cleanup",
    "utcnow_iso",
    "hold_fault",
    "release_held",
    "held_faults",
]
