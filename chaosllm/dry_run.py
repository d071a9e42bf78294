"""The dry-run decision, in one place, and the preview a fault returns in a dry run.

A dry run (``CHAOSLLM_DRY_RUN=1``, or the setting ``dry_run`` in secrets or
configuration) changes nothing: every application fault checks its arguments
and the blast-radius policy, reads what it would touch, and returns that
instead of acting::

    if dry_run_requested(None, configuration, secrets):
        return preview("redis-flush", name, target, spec, {"keys": 120})

or, in one step, ``preview_if_dry(Planned(kind, name, target, spec), configuration,
secrets, read)``, which reads what would be touched only in a dry run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.faults.handles import fault_handle
from chaosllm.journal_keys import EFFECT_KEY, EVIDENCE_KEY
from chaosllm.settings import find_setting

__all__ = ["SETTING", "Planned", "Settings", "dry_run_requested", "preview", "preview_if_dry"]

SETTING = "dry_run"
# An activity's (configuration, secrets), passed on together.
Settings = tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def dry_run_requested(
    value: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> bool:
    """True when the argument, secrets, configuration or ``$CHAOSLLM_DRY_RUN`` ask for a dry run.

    Anything but a boolean or one of 1/0, true/false, yes/no, on/off is a
    configuration error: a typo must not turn a preview into a real fault.
    """
    found, place = find_setting(SETTING, value, configuration, secrets)
    if place is None:
        return False
    if isinstance(found, bool):
        return found
    text = str(found).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{SETTING} from {place} must be true or false (or 1 or 0), got {found!r}")


def preview(
    kind: str, name: str, target: str, spec: dict[str, Any], would_touch: Mapping[str, Any]
) -> dict[str, Any]:
    """The result of a fault in a dry run: its handle, ``dry_run`` and ``would_touch``.

    Nothing started, so the handle has no expiry and the effect is "none".
    """
    handle = fault_handle(kind, name, target, spec, None)
    handle.update({
        "dry_run": True,
        "would_touch": dict(would_touch),
        EFFECT_KEY: "none",
        EVIDENCE_KEY: {"reason": "dry run"},
    })  # fmt: skip
    return handle


@dataclass(frozen=True)
class Planned:
    """A fault about to be applied, named as its handle will name it."""

    kind: str
    name: str
    target: str
    spec: dict[str, Any] = field(default_factory=dict)


def preview_if_dry(
    planned: Planned,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
    read: Callable[[], Mapping[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """In a dry run, the preview of ``planned`` with what ``read`` finds; else None."""
    if not dry_run_requested(None, configuration, secrets):
        return None
    return preview(planned.kind, planned.name, planned.target, planned.spec, read() if read else {})
