"""How the proxy actions add a toxic or disable a proxy, and record it.

Each toxic action is a small function that returns the toxic's ``type`` and
``attributes``; :func:`toxic_action` publishes it with the arguments every
toxic shares (:func:`toxic_arguments`) and :func:`inject` does the rest. A
fault goes to the fault ledger, so that ``chaosllm cleanup`` can remove it,
and the request carries ``ttl_ms``: chaosllm's server then ends the fault by
itself and says so in its reply (``expires_at``, ``disabled_until``); its
entry is then only a record until the deadline. Only a server that does not
(a real Toxiproxy) gets a detached healer.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from chaosllm._clients.proxy import ProxyApi, path, proxy_api, resolve_api_url
from chaosllm._signature import call_part, compose, publish
from chaosllm.arguments import strict
from chaosllm.dry_run import Planned
from chaosllm.errors import InvalidArgument
from chaosllm.faults import fault_handle, fault_seconds, parse_duration, recording
from chaosllm.faults.effects import MEASURED_WHEN_REMOVED, measured, unknown
from chaosllm.proxy._address import parse_address
from chaosllm.proxy._effect import injected_effect
from chaosllm.proxy._guard import before_fault
from chaosllm.redaction import redact_url

STREAMS = ("downstream", "upstream")


def check_address(value: str, what: str) -> None:
    try:
        parse_address(value, what)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def millis(value: str | int | float, what: str) -> int:
    return int(round(parse_duration(value, what) * 1000))


def toxic_entry(url: str, proxy: str, name: str) -> str:
    """A toxic's ledger id; the API's password is masked (ids are shown and
    name healers), the entry's state keeps the URL to restore with."""
    return f"proxy-toxic:{redact_url(url)}/{proxy}/{name}"


def disabled_entry(url: str, proxy: str) -> str:
    return f"proxy-disabled:{redact_url(url)}/{proxy}"


def toxic_arguments(
    proxy: str,
    stream: str = "downstream",
    toxicity: float = 1.0,
    duration: str | None = "30s",
    name: str | None = None,
    allow_unbounded: bool = False,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> None:
    """Common arguments (every toxic): `proxy` to add it to; `stream`, "downstream"
    (server to client, the default) or "upstream"; `toxicity`, the share of
    connections it affects (0 to 1); `duration` before it is removed
    (default 30s; none at all only with `allow_unbounded`); `name` (default
    `<type>-<proxy>`, with `-upstream` for that stream; remove it early with
    `remove_toxic`); `proxy_api_url` (else `proxy_api_url` in secrets or
    configuration, then `CHAOSLLM_PROXY_API_URL`; it must be set, there is
    no default)."""


def toxic_action(build: Callable[..., dict[str, Any]],
                 common: Callable[..., None] = toxic_arguments) -> Any:
    """Publish ``build``, which returns a toxic's ``type`` and ``attributes``,
    as an action that also takes the ``common`` arguments
    (:func:`toxic_arguments` by default), its arguments checked by
    :func:`chaosllm.arguments.strict`. Common arguments that :func:`inject`
    does not take are attributes of the toxic (an HTTP fault's matching)."""
    signature = compose([build], common)
    own = set(inspect.signature(inject).parameters)
    extra = [name for name in inspect.signature(common).parameters if name not in own]

    @functools.wraps(build)
    def action(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for name in extra:
            if not isinstance(bound.arguments[name], str | None):
                raise InvalidArgument(f"{name} must be a string, got {bound.arguments[name]!r}")
        toxic = call_part(build, bound.arguments)
        attributes = {**toxic["attributes"],
                      **{name: bound.arguments[name] or "" for name in extra}}
        return call_part(inject, {"stream": "downstream", **bound.arguments, **toxic,
                                  "attributes": attributes})

    doc = inspect.getdoc(common) or ""
    publish(action, signature, (inspect.getdoc(build) or "") + "\n\n" + doc)
    return strict(action)


def _ends_itself(payload: Any, key: str) -> bool:
    """Whether the server's reply says it ends the fault itself (it honoured ``ttl_ms``)."""
    return isinstance(payload, dict) and payload.get(key) is not None


def inject(
    proxy: str,
    type: str,
    attributes: dict[str, Any],
    stream: str,
    toxicity: float,
    duration: str | None,
    name: str | None,
    allow_unbounded: bool,
    proxy_api_url: str | None,
    configuration: dict[str, Any] | None,
    secrets: dict[str, Any] | None,
) -> dict[str, Any]:
    """Add one toxic to ``proxy`` and record it; the handle of a toxic action."""
    kind = type
    if stream not in STREAMS:
        raise InvalidArgument(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not (
        0.0 <= float(toxicity) <= 1.0
    ):
        raise InvalidArgument(f"toxicity must be a number between 0 and 1, got {toxicity!r}")
    seconds = fault_seconds(duration, allow_unbounded, "proxy fault")
    name = name or (f"{kind}-{proxy}" if stream == "downstream" else f"{kind}-{proxy}-{stream}")
    url = resolve_api_url(proxy_api_url, configuration, secrets)
    planned = Planned(f"proxy-{kind}", name, f"proxy {proxy}", {
        "proxy": proxy, "type": kind, "stream": stream, "attributes": attributes, "duration": duration})
    early = before_fault(f"inject_{kind}", planned, url, (configuration, secrets))
    if early is not None:
        return early
    body: dict[str, Any] = {"name": name, "type": kind, "stream": stream,
                            "toxicity": float(toxicity), "attributes": attributes}
    if seconds is not None:
        body["ttl_ms"] = int(seconds * 1000)
    with proxy_api(f"add {kind} toxic to proxy {proxy}", url) as api:
        api.request("GET", path("proxies", proxy))  # unknown proxy: refused before any change
        # A failed request added no toxic: the entry is dropped, not restored.
        with recording(toxic_entry(url, proxy, name), on_failure="forget") as rec:
            rec.record("proxy.toxic", {"proxy_api_url": url, "proxy": proxy, "name": name},
                       seconds, f"{kind} toxic {name} on proxy {proxy} at {api.shown}", healer=False)
            status, payload = api.request("POST", path("proxies", proxy, "toxics"), body,
                                          expect=(409,))  # fmt: skip
            if status != 409:
                rec.ends_by(backend=_ends_itself(payload, "expires_at"))
    spec = {"proxy": proxy, "type": kind, "stream": stream, "toxicity": float(toxicity),
            "attributes": attributes, "duration": duration, "proxy_api_url": redact_url(url),
            "already_present": status == 409}
    handle = fault_handle(f"proxy-{kind}", name, f"proxy {proxy}", spec, seconds)
    if status == 409:
        return unknown(handle, MEASURED_WHEN_REMOVED)
    return measured(handle, lambda: injected_effect(payload), f"toxic {name} on proxy {proxy}")


def disable(proxy: str, seconds: float | None, url: str) -> bool:
    """Disable ``proxy`` for ``seconds`` and record it; False when it is disabled already."""
    body: dict[str, Any] = {"enabled": False}
    if seconds is not None:
        body["ttl_ms"] = int(seconds * 1000)
    with proxy_api(f"disable proxy {proxy}", url) as api:
        api.request("GET", path("proxies", proxy))
        with recording(disabled_entry(url, proxy), on_failure="forget") as rec:
            if rec.record("proxy.partition", {"proxy_api_url": url, "proxy": proxy}, seconds,
                          f"proxy {proxy} disabled at {api.shown}", healer=False):
                _, payload = api.request("POST", path("proxies", proxy), body)
                rec.ends_by(backend=_ends_itself(payload, "disabled_until"))
    return rec.fresh


def delete_toxic(api: ProxyApi, proxy: str, name: str) -> bool:
    status, _ = api.request("DELETE", path("proxies", proxy, "toxics", name), expect=(404,))
    return status != 404


def enable(api: ProxyApi, proxy: str) -> bool:
    status, payload = api.request("GET", path("proxies", proxy), expect=(404,))
    if status == 404 or payload.get("enabled"):
        return False
    api.request("POST", path("proxies", proxy), {"enabled": True})
    return True
