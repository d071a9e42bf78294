"""Where chaosllm keeps its state on this machine: ``$CHAOSLLM_STATE_DIR``.

The fault ledger, the halt switch and the registry of running experiments
all live there (default ``~/.chaosllm``), so that a later command run by the
same user, from any folder, finds them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["state_dir"]


def state_dir(create: bool = True) -> Path:
    """``$CHAOSLLM_STATE_DIR`` (default ``~/.chaosllm``), created unless ``create`` is false."""
    path = Path(os.environ.get("CHAOSLLM_STATE_DIR") or Path.home() / ".chaosllm")
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
