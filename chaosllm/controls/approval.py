"""Approvals: experiments on protected environments run only with a valid approval.

Declare it in an experiment's ``controls`` block, or under ``controls`` in
the Chaos Toolkit settings file::

    {"name": "chaosllm-approval",
     "provider": {"type": "python", "module": "chaosllm.controls.approval",
                  "arguments": {"approval_file": "approvals/redis-outage.json",
                                "environment_key": "environment",
                                "protected": ["production"]}}}

An experiment is protected when its configuration's ``environment_key``
(default ``environment``) is one of ``protected`` (default
``["production", "prod"]``). It then runs only with an approval file
(``approval_file`` argument or setting, ``CHAOSLLM_APPROVAL_FILE``)::

    {"approver": "alice", "environment": "production",
     "experiment_digest": "sha256:...", "issued_at": "2026-01-01T09:00:00+00:00",
     "expires_at": "2026-01-02T09:00:00+00:00", "signature": "<hex HMAC-SHA256>"}

signed with HMAC-SHA256 over the other fields, with the key in the setting
``approval_key`` (secrets, or ``CHAOSLLM_APPROVAL_KEY``). ``chaosllm
approve`` writes one. A missing, unreadable, unsigned, badly signed, expired
or other experiment's approval, or a missing key, stops the run before the
first activity (status ``interrupted``). The journal gets, under
``extensions``: ``{"name": "chaosllm-approval", "protected": true,
"approved": true, "approver": "alice", "expires_at": "...", "reason": null}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosllm.controls._experiment import canonical_json, experiment_digest, flat_secrets
from chaosllm.controls._failclosed import protect
from chaosllm.errors import PolicyViolation
from chaosllm.settings import get_setting

__all__ = [
    "DEFAULT_PROTECTED",
    "sign_approval",
    "check_approval",
    "is_protected",
    "before_experiment_control",
    "after_experiment_control",
]

DEFAULT_PROTECTED = ("production", "prod")
_FIELDS = ("approver", "environment", "experiment_digest", "issued_at", "expires_at")


def _signature(body: Mapping[str, Any], key: str) -> str:
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    return hmac.new(key.encode(), canonical_json(unsigned), hashlib.sha256).hexdigest()


def sign_approval(
    experiment: dict[str, Any], approver: str, environment: str, expires_at: datetime, key: str
) -> dict[str, Any]:
    """A signed approval of ``experiment`` by ``approver`` until ``expires_at``."""
    if not approver.strip() or not environment.strip():
        raise ValueError("an approval needs a non-empty approver and environment")
    body: dict[str, Any] = {
        "approver": approver,
        "environment": environment,
        "experiment_digest": experiment_digest(experiment),
        "issued_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "expires_at": expires_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
    }
    body["signature"] = _signature(body, key)
    return body


def is_protected(
    configuration: Mapping[str, Any] | None,
    environment_key: str = "environment",
    protected: Any = DEFAULT_PROTECTED,
) -> str | None:
    """The protected environment the configuration names, or None."""
    value = (configuration or {}).get(environment_key)
    names = [protected] if isinstance(protected, str) else list(protected or ())
    return str(value) if value is not None and str(value) in names else None


def check_approval(
    experiment: dict[str, Any], environment: str, approval_file: str | None, key: str | None
) -> dict[str, Any]:
    """Return the valid approval, or raise :class:`PolicyViolation` saying why not."""
    refused = "refusing to run on protected environment"
    if not approval_file:
        raise PolicyViolation(
            f"{refused} {environment!r}: no approval (set approval_file or CHAOSLLM_APPROVAL_FILE)"
        )
    if not key:
        raise PolicyViolation(
            f"{refused} {environment!r}: no approval_key in secrets or CHAOSLLM_APPROVAL_KEY "
            "to check the approval's signature"
        )
    try:
        approval = json.loads(Path(approval_file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyViolation(
            f"{refused} {environment!r}: cannot read approval {approval_file}: {exc.strerror}"
        ) from exc
    except ValueError as exc:
        raise PolicyViolation(f"{refused} {environment!r}: {approval_file} is not JSON") from exc
    if not isinstance(approval, dict):
        raise PolicyViolation(f"{refused} {environment!r}: {approval_file} is not an approval")
    missing = [f for f in (*_FIELDS, "signature") if not approval.get(f)]
    if missing:
        raise PolicyViolation(
            f"{refused} {environment!r}: approval {approval_file} lacks {', '.join(missing)}"
        )
    if not hmac.compare_digest(str(approval["signature"]), _signature(approval, key)):
        raise PolicyViolation(
            f"{refused} {environment!r}: approval {approval_file} has a bad signature"
        )
    digest = experiment_digest(experiment)
    if approval["experiment_digest"] != digest:
        raise PolicyViolation(
            f"{refused} {environment!r}: approval {approval_file} is for experiment "
            f"{approval['experiment_digest']}, this one is {digest}"
        )
    if approval["environment"] != environment:
        raise PolicyViolation(
            f"{refused} {environment!r}: approval {approval_file} is for "
            f"{approval['environment']!r}"
        )
    try:
        expires = datetime.fromisoformat(str(approval["expires_at"]))
    except ValueError as exc:
        raise PolicyViolation(f"{refused} {environment!r}: expires_at is not a date") from exc
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    if expires <= datetime.now(timezone.utc):
        raise PolicyViolation(
            f"{refused} {environment!r}: approval by {approval['approver']} expired at "
            f"{approval['expires_at']}"
        )
    return approval


_record: dict[str, Any] | None = None


def before_experiment_control(
    context: Any,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    approval_file: str | None = None,
    environment_key: str = "environment",
    protected: Any = DEFAULT_PROTECTED,
    **arguments: Any,
) -> None:
    """Stop the experiment before anything runs unless it is approved."""
    global _record
    experiment = context if isinstance(context, dict) else {}
    environment = is_protected(configuration, environment_key, protected)
    _record = {"name": "chaosllm-approval", "protected": environment is not None,
               "approved": None, "approver": None, "expires_at": None, "reason": None}
    if environment is None:
        return
    flat = flat_secrets(secrets)
    path = get_setting("approval_file", approval_file, configuration, flat)
    key = get_setting("approval_key", None, None, flat)
    try:
        approval = check_approval(experiment, environment, path, key)
    except PolicyViolation as exc:
        _record.update(approved=False, reason=str(exc))
        raise InterruptExecution(str(exc)) from exc
    _record.update(approved=True, approver=approval["approver"], expires_at=approval["expires_at"])


def after_experiment_control(context: Any, state: Any = None, **arguments: Any) -> None:
    global _record
    if _record is not None and isinstance(state, dict):
        state.setdefault("extensions", []).append(_record)
    _record = None


protect(globals(), "chaosllm-approval")
