"""The experiment's digest: what an approval names and what the audit log records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["experiment_digest", "canonical_json", "flat_secrets", "RUNTIME_KEYS"]

# Keys that Chaos Toolkit adds to the experiment at run time.
RUNTIME_KEYS = frozenset({"dry"})


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")  # fmt: skip


def experiment_digest(experiment: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the experiment as written (run-time keys left out)."""
    body = {k: v for k, v in experiment.items() if k not in RUNTIME_KEYS}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def flat_secrets(secrets: Any) -> dict[str, Any]:
    """Controls get every secret scope at once; merge them into one lookup."""
    flat: dict[str, Any] = {}
    for key, value in (secrets or {}).items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat
