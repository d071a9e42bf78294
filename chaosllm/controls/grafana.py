"""Control: one Grafana region annotation per fault, with its real window.

At the end of the run it reads the journal as the report does (each fault's
real start and end: when its action applied it and when a rollback or its
own expiry removed it) and posts one region annotation per fault to
Grafana's `/api/annotations`, tagged `chaos`, the experiment's title and
the run's verdict, on the dashboard `dashboard_uid` (organisation-wide when
unset). A Grafana that cannot be reached or refuses never fails the run: the
error is logged and listed, with the annotations made, in the journal's
extension `chaosllm-grafana`.

    {"name": "grafana-annotations",
     "provider": {"type": "python", "module": "chaosllm.controls.grafana",
                  "arguments": {"dashboard_uid": "llm-marketplace"}}}

`grafana_url` and the bearer token `grafana_token` come from the argument,
secrets (the place for the token), configuration or `CHAOSLLM_GRAFANA_URL`
and `CHAOSLLM_GRAFANA_TOKEN`. An unset URL stops the run before it starts.
"""

from __future__ import annotations

import logging
from typing import Any

from chaosllm._clients.observability import grafana_api
from chaosllm.controls._failclosed import protect
from chaosllm.errors import ChaosLLMError, InvalidArgument
from chaosllm.settings import require_setting

__all__ = ["before_experiment_control", "after_experiment_control", "EXTENSION_NAME"]

NAME = "chaosllm-grafana"
EXTENSION_NAME = "chaosllm-grafana"
logger = logging.getLogger("chaostoolkit")


def before_experiment_control(context: Any, dashboard_uid: str | None = None,
                              grafana_url: str | None = None,
                              configuration: dict[str, Any] | None = None,
                              secrets: dict[str, Any] | None = None, **arguments: Any) -> None:  # fmt: skip
    if dashboard_uid is not None and (not isinstance(dashboard_uid, str) or not dashboard_uid):
        raise InvalidArgument(f"dashboard_uid must be a dashboard's UID, got {dashboard_uid!r}")
    require_setting("grafana_url", grafana_url, configuration, secrets)


def fault_annotations(journal: dict[str, Any], dashboard_uid: str | None) -> list[dict[str, Any]]:
    """The region annotations of a journal's faults, in Grafana's API shape."""
    from chaosllm.report.parse import parse_journal

    run = parse_journal(journal, detail=False)
    found = []
    for fault in run.faults:
        note: dict[str, Any] = {
            "time": int(fault.start * 1000), "timeEnd": int(fault.end * 1000),
            "tags": ["chaos", run.title, run.verdict, fault.kind],
            "text": f"{fault.name} ({fault.kind}) on {fault.target}: effect {fault.effect}"
                    + (f", {fault.ended_by}" if fault.ended_by else ""),
        }  # fmt: skip
        if dashboard_uid:
            note["dashboardUID"] = dashboard_uid
        found.append(note)
    return found


def after_experiment_control(context: Any, state: Any = None, dashboard_uid: str | None = None,
                             grafana_url: str | None = None,
                             configuration: dict[str, Any] | None = None,
                             secrets: dict[str, Any] | None = None, **arguments: Any) -> None:  # fmt: skip
    if not isinstance(state, dict):
        return
    made: list[int] = []
    errors: list[str] = []
    try:
        notes = fault_annotations(state, dashboard_uid)
        with grafana_api("annotate the fault windows", grafana_url, configuration, secrets) as api:
            for note in notes:
                _, payload = api.request("POST", "/api/annotations", note)
                if isinstance(payload, dict) and isinstance(payload.get("id"), int):
                    made.append(payload["id"])
    except (ChaosLLMError, ValueError) as exc:
        errors.append(str(exc))
        logger.warning("Grafana annotations not written (the run is not affected): %s", exc)
    extension = {"name": EXTENSION_NAME, "annotations": made, "errors": errors}
    state.setdefault("extensions", []).append(extension)


protect(globals(), NAME, arguments=("dashboard_uid", "grafana_url"))
