"""Prometheus HTTP API and ``/metrics`` scrapes: ``prometheus_api(...)`` and error translation.

The server is ``prometheus_base_url``, the key and meaning chaostoolkit-prometheus
uses (the base URL, without ``/api/v1``). Requests go through ``requests``, as
chaostoolkit-prometheus's do, but with what its ``query`` functions lack (see
docs/DESIGN.md): a connect timeout (2 s) and an answer timeout
(``prometheus_timeout``, 5 s) on every call, authentication from secrets (or
configuration, or the environment: ``prometheus_bearer_token``, or
``prometheus_username`` with ``prometheus_password``, or credentials in the
URL), and errors translated into :mod:`chaosllm.errors`. Credentials never
appear in an error message.

    with prometheus_api("read error ratio", configuration=cfg, secrets=sec) as api:
        series = api.query('sum(rate(http_requests_total[1m]))')
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT, check_url
from chaosllm.errors import ConfigurationError, FaultFailed, InvalidArgument, TargetUnreachable
from chaosllm.redaction import authorization_secrets, quote_body
from chaosllm.settings import get_setting, require_setting

__all__ = [
    "PrometheusAPI",
    "prometheus_api",
    "resolve_base_url",
    "auth_header",
    "scrape",
    "DEFAULT_QUERY_TIMEOUT",
]

EXAMPLE_BASE_URL = "http://127.0.0.1:9090"
DEFAULT_QUERY_TIMEOUT = 5.0


def resolve_base_url(
    prometheus_base_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> str:
    """The server's base URL; an unset ``prometheus_base_url`` is refused (there is no default)."""
    url = require_setting("prometheus_base_url", prometheus_base_url, configuration, secrets)
    return check_url("prometheus_base_url", str(url).rstrip("/"), ("http", "https"), EXAMPLE_BASE_URL)


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Return the URL without user info, and the user and password it held."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return clean, urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(
        parts.password or ""
    )


def auth_header(
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
    url_user: str | None = None,
    url_password: str | None = None,
) -> str | None:
    """The ``Authorization`` header value from the settings, or None."""
    token = get_setting("prometheus_bearer_token", None, configuration, secrets)
    if token:
        return f"Bearer {token}"
    user = get_setting("prometheus_username", url_user, configuration, secrets)
    password = get_setting("prometheus_password", url_password, configuration, secrets)
    if user or password:
        raw = f"{user or ''}:{password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()
    return None


def _target(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.hostname or '127.0.0.1'}{port}"


def _root(exc: BaseException) -> BaseException:
    """The innermost exception of a requests error (refused, reset, bad status line...)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _fetch(
    url: str, authorization: str | None, timeout: float, what: str, params: Mapping[str, Any]
) -> bytes:
    """GET ``url`` and return the body; every failure becomes a chaosllm error.

    The connection must open within :data:`DEFAULT_CONNECT_TIMEOUT` (or
    ``timeout`` when shorter) and the server must answer within ``timeout``.
    """
    import requests

    hidden = authorization_secrets(authorization)
    connect = min(DEFAULT_CONNECT_TIMEOUT, timeout)
    headers = {"Accept": "application/json, text/plain"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        # A request of its own, no shared session: guard threads query in parallel.
        resp = requests.get(
            url, params={k: v for k, v in params.items() if v is not None}, headers=headers,
            timeout=(connect, timeout),
        )  # fmt: skip
        body = resp.content
    except requests.ConnectTimeout as exc:
        raise TargetUnreachable(f"could not {what}: no connection after {connect:.1f} s") from exc
    except requests.ReadTimeout as exc:
        raise TargetUnreachable(f"could not {what}: no answer after {timeout:.1f} s") from exc
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise TargetUnreachable(f"could not {what}: broken answer ({type(_root(exc)).__name__})") from exc
    except requests.RequestException as exc:
        root = _root(exc)
        if isinstance(root, OSError) and root.strerror:
            reason = root.strerror.lower()
            raise TargetUnreachable(
                f"could not {what}: {reason} (connect timeout {connect:.1f} s)"
            ) from exc
        # cut off mid-answer, or not HTTP at all
        raise TargetUnreachable(f"could not {what}: broken answer ({type(root).__name__})") from exc
    try:
        resp.raise_for_status()
    except requests.HTTPError as exc:
        text = body.decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            text = str(json.loads(text).get("error", text))
        # Hidden in the whole body before it is cut: a server may echo the headers.
        detail = quote_body(text, hidden)
        code = resp.status_code
        if code in (401, 403):
            raise ConfigurationError(
                f"could not {what}: HTTP {code} (check prometheus_bearer_token or "
                f"prometheus_username/prometheus_password)"
            ) from exc
        if code in (400, 422):
            raise InvalidArgument(f"could not {what}: {detail}") from exc
        raise FaultFailed(f"could not {what}: HTTP {code} {detail}") from exc
    return bytes(body)


class PrometheusAPI:
    """A small client for the Prometheus HTTP API (``/api/v1``)."""

    def __init__(
        self,
        base_url: str,
        action: str,
        authorization: str | None = None,
        timeout: float = DEFAULT_QUERY_TIMEOUT,
    ) -> None:
        self.base_url, user, password = _split_credentials(base_url.rstrip("/"))
        if authorization is None and (user or password):
            authorization = auth_header(None, None, user, password)
        self.target = f"prometheus {_target(self.base_url)}"
        self.action = action
        self.timeout = timeout
        self._authorization = authorization

    def __repr__(self) -> str:
        return f"PrometheusAPI({self.target!r})"

    def get(self, path: str, **params: Any) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data`` member."""
        what = f"{self.action} on {self.target}"
        raw = _fetch(f"{self.base_url}/api/v1/{path}", self._authorization, self.timeout, what, params)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise FaultFailed(f"could not {what}: the answer is not JSON") from exc
        if body.get("status") != "success":
            problem = quote_body(str(body.get("error", body.get("status"))),
                                 authorization_secrets(self._authorization))
            raise FaultFailed(f"could not {what}: {problem}")
        return body.get("data")

    def query(self, promql: str, at: float | None = None) -> dict[str, Any]:
        """Instant query: ``{"resultType": ..., "result": ...}``."""
        if not isinstance(promql, str) or not promql.strip():
            raise InvalidArgument(f"could not {self.action}: the PromQL query is empty")
        limit = f"{max(1, int(self.timeout * 1000))}ms"
        data: dict[str, Any] = self.get("query", query=promql, time=at, timeout=limit)
        return data

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Any]:
        """Range query: a list of ``{"metric": {...}, "values": [[t, "v"], ...]}``."""
        data = self.get("query_range", query=promql, start=start, end=end, step=step)
        return list(data.get("result", []))

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing) as Prometheus reports them."""
        data = self.get("alerts")
        return list(data.get("alerts", []))


@contextlib.contextmanager
def prometheus_api(
    action: str,
    prometheus_base_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> Iterator[PrometheusAPI]:
    """Yield a :class:`PrometheusAPI` for the configured server."""
    base = resolve_base_url(prometheus_base_url, configuration, secrets)
    clean, user, password = _split_credentials(base)
    authorization = auth_header(configuration, secrets, user, password)
    if timeout is None:
        timeout = float(
            get_setting("prometheus_timeout", None, configuration, secrets, DEFAULT_QUERY_TIMEOUT)
        )
    yield PrometheusAPI(clean, action, authorization, timeout)


def scrape(
    url: str, authorization: str | None = None, timeout: float = DEFAULT_CONNECT_TIMEOUT
) -> str:
    """Fetch a Prometheus-format ``/metrics`` page and return its text."""
    clean, user, password = _split_credentials(url)
    if authorization is None and (user or password):
        authorization = auth_header(None, None, user, password)
    what = f"scrape metrics from {_target(clean)}"
    return _fetch(clean, authorization, timeout, what, {}).decode("utf-8", errors="replace")
