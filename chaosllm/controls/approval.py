"""Approvals: experiments on protected environments run only with a valid approval.

Declare it in an experiment's ``controls`` block, or under ``controls`` in
the Chaos Toolkit settings file::

    {"name": "chaosllm-approval",
     "provider": {"type": "python", "module": "chaosllm.controls.approval",
                  "arguments": {"approval_file": "approvals/redis-outage.json",
                                "environment_key": "environment",
                                "protected": ["production"]}}}

An experiment is protected when its configuration's ``environment_key``
(default ``environment``), as written in the experiment or as resolved for
the run (``--var``, environment variables), is one of ``protected`` (default
``["production", "prod"]``), names compared trimmed and case-folded. It then
runs only with an approval file (``approval_file`` argument or setting,
``CHAOSLLM_APPROVAL_FILE``) that ``chaosllm approve`` wrote::

    {"approver": "alice", "environment": "production",
     "experiment_digest": "hmac-sha256:...", "issued_at": "2026-01-01T09:00:00+00:00",
     "expires_at": "2026-01-02T09:00:00+00:00", "max_uses": 1, "signature": "<hex HMAC-SHA256>"}

signed with HMAC-SHA256 over the other fields with the operator's key,
``CHAOSLLM_APPROVAL_KEY_FILE`` (a file) or ``CHAOSLLM_APPROVAL_KEY``; an
``approval_key`` in the experiment's secrets or configuration is never
used. The digest covers the experiment and its configuration as resolved
for this run; each approval allows ``max_uses`` runs, counted in
``$CHAOSLLM_STATE_DIR/approvals/`` (see :mod:`chaosllm.controls._approvals`).
A missing, unreadable, malformed (any unexpected field), unsigned, badly
signed, expired, used-up or other run's approval, or a missing key, stops
the run before the first activity (status ``interrupted``). The journal gets,
under ``extensions``: ``{"name": "chaosllm-approval", "protected": true,
"approved": true, "approver": "alice", "expires_at": "...", "uses": 1,
"max_uses": 1, "reason": null}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosllm.controls import _approvals
from chaosllm.controls._experiment import flat_secrets
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


def sign_approval(
    experiment: dict[str, Any], approver: str, environment: str, expires_at: datetime, key: str,
    configuration: Mapping[str, Any] | None = None, max_uses: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """A signed approval of ``experiment`` run with ``configuration`` (by default its own,
    resolved as ``chaos run`` would without ``--var``) by ``approver`` until ``expires_at``."""
    if configuration is None:
        configuration = _approvals.resolved_configuration(experiment)
    return _approvals.sign(experiment, configuration, approver, environment, expires_at, key, max_uses)


def _names(protected: Any) -> set[str]:
    if isinstance(protected, str):
        protected = [protected]
    if not isinstance(protected, list | tuple) or not protected:
        raise PolicyViolation(f"'protected' must be a non-empty list of environment names, got {protected!r}")
    return {_approvals.normalise_environment(name) for name in protected}


def is_protected(
    configuration: Mapping[str, Any] | None,
    environment_key: str = "environment",
    protected: Any = DEFAULT_PROTECTED,
    written: Mapping[str, Any] | None = None,
) -> str | None:
    """The protected environment the run's (or the written) configuration names, or None.

    A name that is not a string is refused: it could not be compared."""
    if not isinstance(environment_key, str) or not environment_key:
        raise PolicyViolation(f"'environment_key' must be a configuration key, got {environment_key!r}")
    names = _names(protected)
    values = [(configuration or {}).get(environment_key)]
    first = (written or {}).get(environment_key)
    if not isinstance(first, dict):  # an {"type": "env", ...} entry: its resolved value counts
        values.append(first)
    for value in values:
        if value is not None and _approvals.normalise_environment(value) in names:
            return _approvals.normalise_environment(value)
    return None


def check_approval(
    experiment: dict[str, Any], environment: str, approval_file: str | None, key: str | None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Return the valid approval (its use not yet counted), or raise
    :class:`PolicyViolation` saying why not."""
    refused = f"refusing to run on protected environment {environment!r}"
    if not approval_file:
        raise PolicyViolation(f"{refused}: no approval (set approval_file or CHAOSLLM_APPROVAL_FILE)")
    if not isinstance(approval_file, str):
        raise PolicyViolation(f"{refused}: approval_file must be a path, got {approval_file!r}")
    if not key:
        raise PolicyViolation(
            f"{refused}: no approval key: set {_approvals.KEY_FILE_ENV} or {_approvals.KEY_ENV} "
            "(an approval_key in the experiment's secrets or configuration is never used)"
        )
    if configuration is None:
        configuration = _approvals.resolved_configuration(experiment)
    try:
        data = Path(approval_file).read_bytes()
    except OSError as exc:
        raise PolicyViolation(
            f"{refused}: cannot read approval {approval_file}: {exc.strerror}"
        ) from exc
    try:
        approval = _approvals.parse_approval(data)
    except ValueError as exc:
        raise PolicyViolation(f"{refused}: {approval_file} is not a valid approval: {exc}") from exc
    _approvals.verify(approval, approval_file, experiment, configuration, environment, key)
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
    """Stop the experiment before anything runs unless it is approved (and count the run)."""
    global _record
    experiment = context if isinstance(context, dict) else {}
    _record = {"name": "chaosllm-approval", "protected": None, "approved": None, "approver": None,
               "expires_at": None, "uses": None, "max_uses": None, "reason": None}  # fmt: skip
    try:
        environment = is_protected(configuration, environment_key, protected,
                                   experiment.get("configuration"))  # fmt: skip
        _record["protected"] = environment is not None
        if environment is None:
            return
        path = get_setting("approval_file", approval_file, configuration, flat_secrets(secrets))
        approval = check_approval(experiment, environment, path, _approvals.operator_key(),
                                  configuration or {})  # fmt: skip
        uses = _approvals.use(approval, str(path), environment)
    except PolicyViolation as exc:
        _record.update(approved=False, reason=str(exc))
        raise InterruptExecution(str(exc)) from exc
    _record.update(approved=True, approver=approval["approver"], expires_at=approval["expires_at"],
                   uses=uses, max_uses=approval["max_uses"])  # fmt: skip


def after_experiment_control(context: Any, state: Any = None, **arguments: Any) -> None:
    global _record
    if _record is not None and isinstance(state, dict):
        state.setdefault("extensions", []).append(_record)
    _record = None


protect(globals(), "chaosllm-approval", arguments=("approval_file", "environment_key", "protected"))
