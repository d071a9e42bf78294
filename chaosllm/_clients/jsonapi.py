"""A small JSON-over-HTTP client shared by the HTTP APIs chaosllm drives.

HTTP and socket failures are translated here, once, into chaosllm's errors,
and credentials never appear in a message.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT
from chaosllm.errors import (
    ConfigurationError,
    FaultFailed,
    InvalidArgument,
    TargetNotFound,
    TargetUnreachable,
)
from chaosllm.redaction import authorization_secrets, quote_body, redact_url, url_secrets

__all__ = ["JsonApi", "open_api"]


class JsonApi:
    """JSON requests to one HTTP API; ``request`` returns ``(status, payload)``.

    Credentials in the URL (``http://user:password@host:8474``, for an API
    behind an authenticating proxy) are sent as HTTP Basic authentication and
    never shown: messages name the API as ``shown``, with the password masked.
    ``service`` names the API in messages and ``setting`` the setting that
    holds its URL.
    """

    service = "the proxy API"
    setting = "proxy_api_url"

    def __init__(self, url: str, action: str, timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 token: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.shown = redact_url(url)
        self.action = action
        self.timeout = timeout
        parts = urlsplit(url)
        self._authorization: str | None = None
        if parts.username is not None or parts.password is not None:
            raw = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
            self._authorization = "Basic " + base64.b64encode(raw).decode()
        if token:
            self._authorization = f"Bearer {token}"
        self._headers = dict(headers or {})
        self._hidden = (*authorization_secrets(self._authorization), *url_secrets(url))
        conn_class = (http.client.HTTPSConnection if parts.scheme == "https"
                      else http.client.HTTPConnection)
        self._prefix = parts.path.rstrip("/")
        self._conn = conn_class(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def request(
        self, method: str, route: str, body: Any = None, expect: tuple[int, ...] = ()
    ) -> tuple[int, Any]:
        """Send one request. Statuses in ``expect`` are returned as they are;
        other errors raise the matching :mod:`chaosllm.errors` exception."""
        data = None if body is None else json.dumps(body).encode()
        headers = {**self._headers, **({"Content-Type": "application/json"} if data is not None else {})}
        if self._authorization:
            headers["Authorization"] = self._authorization
        try:
            self._conn.request(method, self._prefix + route, body=data, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            reason = "timed out" if isinstance(exc, socket.timeout) else str(exc) or type(exc).__name__
            raise TargetUnreachable(
                f"could not {self.action} through {self.service} {self.shown}: {reason} "
                f"(timeout {self.timeout:.1f} s)"
            ) from exc
        payload: Any = None
        if raw.strip():
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode("utf-8", "replace").strip()
        status = response.status
        if status < 300 or status in expect:
            return status, payload
        message = payload.get("error") if isinstance(payload, dict) else payload
        message = quote_body(str(message), self._hidden)
        detail = f"could not {self.action} through {self.service} {self.shown}: {message} (HTTP {status})"
        if status in (401, 403):
            raise ConfigurationError(detail + f" (check the credentials in {self.setting})")
        if status == 404:
            raise TargetNotFound(detail)
        if status == 400:
            raise InvalidArgument(detail)
        raise FaultFailed(detail)

    def close(self) -> None:
        self._conn.close()


@contextlib.contextmanager
def open_api(api: type[JsonApi], action: str, url: str | None,
             configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None,
             example: str, **options: Any) -> Iterator[JsonApi]:  # fmt: skip
    """An ``api`` client for the URL in its setting (argument, secrets,
    configuration, then ``CHAOSLLM_<SETTING>``; no default); closed afterwards."""
    from chaosllm._clients import check_url
    from chaosllm.settings import require_setting

    found = str(require_setting(api.setting, url, configuration, secrets)).rstrip("/")
    client = api(check_url(api.setting, found, ("http", "https"), example), action, **options)
    try:
        yield client
    finally:
        client.close()
