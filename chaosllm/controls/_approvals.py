"""Approvals: the operator's key, the run's digest, the strict file format, the use count.

An approval binds one run of one experiment on one environment:

- the key is the operator's: ``CHAOSLLM_APPROVAL_KEY_FILE`` (a file holding
  it) or ``CHAOSLLM_APPROVAL_KEY``; never the experiment's secrets or
  configuration, which its author writes;
- ``experiment_digest`` is an HMAC-SHA256, with that key, of the experiment
  as written together with its configuration as the run resolves it
  (``--var``, ``--var-file``, environment variables): a changed variable is
  another run, and the digest, being keyed, tells nothing about the values;
- environment names are compared trimmed and case-folded;
- ``max_uses`` runs at most (default 1), counted in
  ``$CHAOSLLM_STATE_DIR/approvals/`` under a lock;
- the file is parsed strictly: exactly the fields below, each of its type,
  at most 64 KiB; anything else refuses.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from chaosllm.controls._experiment import RUNTIME_KEYS, canonical_json
from chaosllm.errors import PolicyViolation
from chaosllm.faults import state_dir

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "FIELDS",
    "MAX_USES",
    "operator_key",
    "normalise_environment",
    "resolved_configuration",
    "run_digest",
    "sign",
    "parse_approval",
    "verify",
    "use",
]

KEY_ENV = "CHAOSLLM_APPROVAL_KEY"
KEY_FILE_ENV = "CHAOSLLM_APPROVAL_KEY_FILE"
FIELDS = ("approver", "environment", "experiment_digest", "issued_at", "expires_at", "max_uses",
          "signature")  # fmt: skip
MAX_USES = 1000
MAX_BYTES = 64 * 1024
_DIGEST = re.compile(r"hmac-sha256:[0-9a-f]{64}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_CLOCK_SKEW = timedelta(minutes=5)
# Keys chaosllm itself adds to the run's configuration (the blast-radius control).
_ADDED_CONFIGURATION = frozenset({"experiment_title"})


def operator_key() -> str | None:
    """The approval key from ``CHAOSLLM_APPROVAL_KEY_FILE`` or ``CHAOSLLM_APPROVAL_KEY``, or None."""
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        try:
            key = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise PolicyViolation(f"cannot read the approval key file {KEY_FILE_ENV}={path}: {why}") from exc
        if not key:
            raise PolicyViolation(f"the approval key file {KEY_FILE_ENV}={path} is empty")
        return key
    return os.environ.get(KEY_ENV) or None


def normalise_environment(name: Any) -> str:
    """An environment name as compared: trimmed and case-folded."""
    if not isinstance(name, str):
        raise PolicyViolation(f"the environment must be a name (a string), got {type(name).__name__}")
    return " ".join(name.split()).casefold()


def resolved_configuration(experiment: Mapping[str, Any], config_vars: Mapping[str, Any] | None = None,
                           var_files: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """The experiment's configuration as ``chaos run`` resolves it, with ``--var``/``--var-file``."""
    from chaoslib import merge_vars
    from chaoslib.configuration import load_configuration

    configuration, _ = merge_vars(dict(config_vars or {}), list(var_files or []))
    return dict(load_configuration(dict(experiment.get("configuration") or {}), configuration))


def run_digest(experiment: Mapping[str, Any], configuration: Mapping[str, Any] | None, key: str) -> str:
    """``hmac-sha256:<hex>`` of the experiment as written and its resolved configuration."""
    from chaoslib import substitute

    written = {k: v for k, v in experiment.items() if k not in RUNTIME_KEYS}
    resolved = {k: v for k, v in (configuration or {}).items() if k not in _ADDED_CONFIGURATION}
    # chaoslib fills in the title's placeholders before the controls see it
    if isinstance(written.get("title"), str):
        written["title"] = substitute(written["title"], resolved, {})
    body = canonical_json({"experiment": written, "configuration": resolved})
    return "hmac-sha256:" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _signature(body: Mapping[str, Any], key: str) -> str:
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    return hmac.new(key.encode(), canonical_json(unsigned), hashlib.sha256).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def sign(experiment: Mapping[str, Any], configuration: Mapping[str, Any] | None, approver: str,
         environment: str, expires_at: datetime, key: str, max_uses: int = 1) -> dict[str, Any]:  # fmt: skip
    """A signed approval of this run of ``experiment`` by ``approver`` until ``expires_at``."""
    if not approver.strip() or not environment.strip():
        raise ValueError("an approval needs a non-empty approver and environment")
    if isinstance(max_uses, bool) or not isinstance(max_uses, int) or not 1 <= max_uses <= MAX_USES:
        raise ValueError(f"max_uses must be an integer from 1 to {MAX_USES}, got {max_uses!r}")
    body: dict[str, Any] = {
        "approver": approver.strip(), "environment": normalise_environment(environment),
        "experiment_digest": run_digest(experiment, configuration, key),
        "issued_at": _iso(datetime.now(timezone.utc)), "expires_at": _iso(expires_at),
        "max_uses": max_uses,
    }  # fmt: skip
    body["signature"] = _signature(body, key)
    return body


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"repeated field(s) {', '.join(repeated)}")
    return dict(pairs)


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _date(approval: Mapping[str, Any], field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(approval[field])
    except ValueError:
        raise ValueError(f"{field} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        raise ValueError(f"{field} has no time zone")
    return moment


def _text(approval: Mapping[str, Any], field: str) -> str:
    value = approval[field]
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise ValueError(f"{field} must be a non-empty string of at most 256 characters")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError(f"{field} holds control or unpaired surrogate characters")
    return value


def parse_approval(data: bytes) -> dict[str, Any]:
    """The approval in ``data``; ValueError says what is wrong with it."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 1024} KiB")
    try:
        approval = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                              parse_constant=_not_json_constant)  # fmt: skip
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(approval, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(approval) - set(FIELDS))
    if unknown:
        raise ValueError(f"unexpected field(s) {', '.join(ascii(k) for k in unknown)}"[:300])
    missing = [f for f in FIELDS if f not in approval]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    for field in ("approver", "environment", "experiment_digest", "signature"):
        _text(approval, field)
    if not _DIGEST.fullmatch(approval["experiment_digest"]):
        raise ValueError("experiment_digest is not hmac-sha256:<64 hex digits>")
    if not _SIGNATURE.fullmatch(approval["signature"]):
        raise ValueError("signature is not 64 hex digits")
    for field in ("issued_at", "expires_at"):
        _text(approval, field)
        _date(approval, field)
    uses = approval["max_uses"]
    if isinstance(uses, bool) or not isinstance(uses, int) or not 1 <= uses <= MAX_USES:
        raise ValueError(f"max_uses is not an integer from 1 to {MAX_USES}")
    return approval


def verify(approval: dict[str, Any], source: str, experiment: Mapping[str, Any],
           configuration: Mapping[str, Any] | None, environment: str, key: str) -> None:  # fmt: skip
    """Raise :class:`PolicyViolation` unless the parsed ``approval`` allows this run now."""
    refused = f"refusing to run on protected environment {environment!r}"
    if not hmac.compare_digest(approval["signature"], _signature(approval, key)):
        raise PolicyViolation(f"{refused}: approval {source} has a bad signature")
    if normalise_environment(approval["environment"]) != normalise_environment(environment):
        raise PolicyViolation(f"{refused}: approval {source} is for {approval['environment']!r}")
    if not hmac.compare_digest(approval["experiment_digest"], run_digest(experiment, configuration, key)):
        raise PolicyViolation(
            f"{refused}: approval {source} is for another experiment or another configuration "
            "(the digest covers the experiment and its configuration as resolved for this run: "
            "an edit, a --var or a changed environment variable needs a new approval)"
        )
    now = datetime.now(timezone.utc)
    if _date(approval, "issued_at") > now + _CLOCK_SKEW:
        raise PolicyViolation(f"{refused}: approval {source} is issued in the future")
    if _date(approval, "expires_at") <= now:
        raise PolicyViolation(
            f"{refused}: approval by {approval['approver']} expired at {approval['expires_at']}"
        )


def use(approval: Mapping[str, Any], source: str, environment: str) -> int:
    """Count one run against the approval's ``max_uses``; returns the runs so far.

    Raises :class:`PolicyViolation` when it is used up.
    """
    folder = state_dir() / "approvals"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{approval['signature']}.json"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read()
        try:
            record = json.loads(text) if text.strip() else {"uses": 0}
            uses = int(record["uses"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PolicyViolation(f"the use count of approval {source} at {path} is unreadable; "
                                  "refusing rather than counting from zero") from exc  # fmt: skip
        if uses >= approval["max_uses"]:
            raise PolicyViolation(
                f"refusing to run on protected environment {environment!r}: approval {source} by "
                f"{approval['approver']} is used up ({uses} of {approval['max_uses']} run(s))"
            )
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"uses": uses + 1, "max_uses": approval["max_uses"],
                             "approver": approval["approver"], "expires_at": approval["expires_at"],
                             "last_used": _iso(datetime.now(timezone.utc))}))  # fmt: skip
        fh.flush()
        os.fsync(fh.fileno())
    return uses + 1
