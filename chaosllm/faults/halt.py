"""The halt switch on this machine: ``$CHAOSLLM_STATE_DIR/halt.json``.

While the file exists chaos is halted here: every lasting fault is refused
where it is written to the fault ledger (:func:`refuse_if_halted`, called
before the fault's first change, so a run without the rollbacks control is
refused too), and the rollbacks control refuses to start an experiment and
aborts a running one. ``chaosllm halt`` writes the file, ``chaosllm halt
--lift`` removes it; the file says who halted, when and why::

    {"reason": "checkout errors in prod", "by": "alice@laptop",
     "at": "2026-01-01T00:00:00.000+00:00", "host": "laptop", "pid": 4242}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chaosllm.errors import PolicyViolation
from chaosllm.faults.handles import utcnow_iso
from chaosllm.faults.statedir import state_dir

__all__ = [
    "HALT_FILE",
    "Halted",
    "halt_path",
    "is_halted",
    "halt_state",
    "set_halt",
    "lift_halt",
    "halt_message",
    "refuse_if_halted",
]

HALT_FILE = "halt.json"


class Halted(PolicyViolation):
    """Chaos is halted on this machine; nothing new is started until the halt is lifted."""


def halt_path() -> Path:
    return state_dir(create=False) / HALT_FILE


def is_halted() -> bool:
    """Whether the halt holds; cheap enough to ask ten times a second."""
    return halt_path().exists()


def halt_state() -> dict[str, Any] | None:
    """Who halted, when and why; None when no halt holds.

    A halt file that cannot be read still halts: it is shown as such.
    """
    path = halt_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"reason": f"the halt file {path} cannot be read ({exc})", "by": "unknown",
                "at": "unknown"}  # fmt: skip
    return data if isinstance(data, dict) else {"reason": f"the halt file {path} is malformed",
                                                 "by": "unknown", "at": "unknown"}  # fmt: skip


def set_halt(reason: str, by: str, host: str) -> tuple[dict[str, Any], bool]:
    """Halt chaos here; returns the halt in force and whether this call set it.

    A halt already in force is kept as it is (its reason, author and time).
    """
    current = halt_state()
    if current is not None:
        return current, False
    state = {"reason": reason, "by": by, "at": utcnow_iso(), "host": host, "pid": os.getpid()}
    path = state_dir() / HALT_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return state, True


def lift_halt() -> dict[str, Any] | None:
    """Lift the halt; returns the halt that was lifted, or None when none held."""
    state = halt_state()
    try:
        halt_path().unlink()
    except FileNotFoundError:
        return None
    return state


def halt_message(state: dict[str, Any], refused: str) -> str:
    """The refusal: what was refused, who halted, when and why, and how to lift it."""
    return (
        f"{refused} refused: chaos is halted on this machine since {state.get('at', 'unknown')} "
        f"by {state.get('by', 'unknown')} (reason: {state.get('reason') or 'none given'}); "
        f"lift it with 'chaosllm halt --lift'"
    )


def refuse_if_halted(refused: str) -> None:
    """Raise :class:`Halted` naming who halted, when and why, while the halt holds."""
    if is_halted():
        state = halt_state()
        if state is not None:
            raise Halted(halt_message(state, refused))
