"""Control: silence the alerts an experiment expects, for the run only.

Before the experiment it creates one Alertmanager silence for `matchers`
(label name to value), with the experiment's title in the comment and the
runner (user@host) as creator, ending at most `max_duration` later. At the
end of the run it expires the silence. The silence is in the fault ledger
with its deadline, so that `chaosllm cleanup` (or `chaosllm halt`) expires it
when the run was killed; Alertmanager also ends it by itself at its end time.

    {"name": "silence-expected-alerts",
     "provider": {"type": "python", "module": "chaosllm.controls.silence",
                  "arguments": {"matchers": {"alertname": "GatewayLatencyHigh"},
                                "max_duration": "30m"}}}

`alertmanager_url` comes from the argument, secrets, configuration or
`CHAOSLLM_ALERTMANAGER_URL`. Like every chaosllm control it fails closed: a
silence that cannot be created stops the run before its first activity.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

from chaosllm._clients.alertmanager import alertmanager_api, resolve_url
from chaosllm.alertmanager._matchers import matchers_from
from chaosllm.controls._failclosed import protect
from chaosllm.errors import FaultFailed
from chaosllm.faults import parse_duration, recording, restore_fault, utcnow_iso

__all__ = ["before_experiment_control", "after_experiment_control", "expire_entry"]

NAME = "chaosllm-silence"
_active: dict[str, str] = {}  # the ledger entry of this run's silence


def _entry(url: str, silence_id: str) -> str:
    return f"alertmanager-silence:{url}/{silence_id}"


def expire_entry(entry: dict[str, Any]) -> bool:
    """The ledger's restorer of a silence (id "alertmanager.silence"): expire it."""
    state = entry["state"]
    with alertmanager_api("expire a silence", state["alertmanager_url"]) as api:
        status, _ = api.request("DELETE", f"/api/v2/silence/{state['silence_id']}", expect=(404, 500))
    return status < 300


def before_experiment_control(context: Any, matchers: Any = None, max_duration: str = "1h",
                              alertmanager_url: str | None = None,
                              configuration: dict[str, Any] | None = None,
                              secrets: dict[str, Any] | None = None, **arguments: Any) -> None:  # fmt: skip
    found = matchers_from(matchers, "the silence control's matchers")
    seconds = parse_duration(max_duration, "max_duration")
    url = resolve_url(alertmanager_url, configuration, secrets)
    title = str((context or {}).get("title") or "an experiment") if isinstance(context, dict) else ""
    body = {"matchers": found, "startsAt": utcnow_iso(), "endsAt": utcnow_iso(seconds),
            "createdBy": f"chaosllm ({getpass.getuser()}@{socket.gethostname()})",
            "comment": f"chaos experiment: {title}"}  # fmt: skip
    with alertmanager_api("create a silence", url) as api:
        _, payload = api.request("POST", "/api/v2/silences", body)
    silence_id = payload.get("silenceID") if isinstance(payload, dict) else None
    if not isinstance(silence_id, str):
        raise FaultFailed(f"Alertmanager at {api.shown} created no silence (answer {payload!r})")
    key = _entry(url, silence_id)
    with recording(key, on_failure="forget") as rec:
        rec.record("alertmanager.silence", {"alertmanager_url": url, "silence_id": silence_id},
                   seconds, f"silence {silence_id} of {matchers} at {api.shown}", healer=False)
        rec.ends_by(backend=True)
    _active["entry"] = key


def after_experiment_control(context: Any, state: Any = None, **arguments: Any) -> None:
    key = _active.pop("entry", None)
    if key is None:
        return
    restore_fault(key)  # before its deadline, so the silence is expired now


protect(globals(), NAME, arguments=("matchers", "max_duration", "alertmanager_url"))
