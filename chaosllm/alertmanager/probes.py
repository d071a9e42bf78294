"""Probes of Alertmanager: the alerts that fire now, by matcher."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chaosllm._clients.alertmanager import alertmanager_api
from chaosllm.alertmanager._matchers import filter_params, matchers_from
from chaosllm.arguments import strict

__all__ = ["alertmanager_alerts"]


@strict
def alertmanager_alerts(
    matchers: dict[str, str] | None = None,
    include_silenced: bool = True,
    alertmanager_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The alerts firing now that match `matchers` (label name to value; all
    alerts when unset), with their labels, start and whether a silence
    covers them (`include_silenced` false leaves those out): `count` and
    `alerts`. Judge it with the tolerance `no_alerts` of
    `chaosllm.slo.tolerances`.

    ```json
    {"type": "probe", "name": "no-outage-alert",
     "tolerance": {"type": "probe", "name": "none-firing",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "no_alerts", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.alertmanager.probes",
                  "func": "alertmanager_alerts",
                  "arguments": {"matchers": {"alertname": "ChaosCausedOutage"}}}}
    ```
    """
    query: list[tuple[str, str]] = [("active", "true"), ("inhibited", "true"),
                                    ("silenced", "true" if include_silenced is True else "false")]
    if matchers is not None:
        query += [("filter", f) for f in filter_params(matchers_from(matchers))]
    with alertmanager_api("read the firing alerts", alertmanager_url, configuration, secrets) as api:
        _, payload = api.request("GET", "/api/v2/alerts?" + urlencode(query))
    alerts = [{"name": a.get("labels", {}).get("alertname"), "labels": a.get("labels", {}),
               "starts_at": a.get("startsAt"), "state": (a.get("status") or {}).get("state"),
               "silenced_by": (a.get("status") or {}).get("silencedBy") or []}
              for a in payload or []]  # fmt: skip
    return {"count": len(alerts), "alerts": alerts}
