"""RabbitMQ connections: AMQP through pika and the management HTTP API.

``amqp_channel(...)`` yields a pika channel; ``management(...)`` yields a
small client for the management API (queues, policies, consumers,
connections). Both translate their backend's failures into
:mod:`chaosllm.errors` here, once, and name the broker without its password.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT, check_url
from chaosllm.errors import (
    ChaosLLMError,
    ConfigurationError,
    FaultFailed,
    TargetNotFound,
    TargetUnreachable,
)
from chaosllm.redaction import authorization_secrets, quote_body
from chaosllm.settings import require_setting

__all__ = [
    "amqp_channel",
    "management",
    "Management",
    "rabbitmq_target",
    "resolve_urls",
    "resolve_amqp_url",
    "resolve_management_url",
    "vhost_of",
]
# Management calls such as listing consumers can take a while on a big broker,
# so only the connect is held to the short timeout.
MANAGEMENT_READ_TIMEOUT = 5.0


def resolve_amqp_url(
    rabbitmq_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> str:
    """The AMQP URL; an unset ``rabbitmq_url`` is refused (there is no default broker)."""
    amqp = require_setting("rabbitmq_url", rabbitmq_url, configuration, secrets)
    return check_url("rabbitmq_url", str(amqp), ("amqp", "amqps"), "amqp://guest:guest@127.0.0.1:5672/%2F")


def resolve_management_url(
    rabbitmq_management_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> str:
    """The management API's base URL; an unset ``rabbitmq_management_url`` is refused."""
    mgmt = require_setting("rabbitmq_management_url", rabbitmq_management_url, configuration, secrets)
    return check_url(
        "rabbitmq_management_url", str(mgmt).rstrip("/"), ("http", "https"), "http://127.0.0.1:15672"
    )


def resolve_urls(
    rabbitmq_url: str | None,
    rabbitmq_management_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> tuple[str, str]:
    """The AMQP URL and the management base URL; both must be set."""
    return (
        resolve_amqp_url(rabbitmq_url, configuration, secrets),
        resolve_management_url(rabbitmq_management_url, configuration, secrets),
    )


def rabbitmq_target(url: str) -> str:
    """A printable name: ``rabbitmq 127.0.0.1:5673``, never the password."""
    parts = urlsplit(url)
    default_port = 5671 if parts.scheme == "amqps" else 5672
    return f"rabbitmq {parts.hostname or '127.0.0.1'}:{parts.port or default_port}"


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names ("/" when it names none)."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _cause(exc: BaseException) -> str:
    """A short reason for a pika failure; pika nests the socket error deep inside."""
    inner: BaseException | None = exc
    while inner is not None:
        nested = getattr(inner, "exceptions", None)  # AMQPConnectionWorkflowFailed
        if nested:
            inner = nested[-1]
            continue
        phase_error = getattr(inner, "exception", None)  # AMQPConnectorSocketConnectError
        if isinstance(phase_error, BaseException):
            inner = phase_error
            continue
        if inner.args and isinstance(inner.args[0], BaseException):
            inner = inner.args[0]
            continue
        break
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused"
    if isinstance(inner, TimeoutError):
        return "timed out"
    if type(inner).__name__ == "AMQPConnectorStackTimeout":
        return "no AMQP handshake"
    text = str(inner) if inner is not None else ""
    name = type(inner).__name__
    return f"{name}: {text}" if text else name


def _quiet_pika() -> None:
    # pika logs every failed connection attempt at ERROR, tracebacks included, into
    # the chaos console; the error raised here already says what failed and why.
    logging.getLogger("pika").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def amqp_channel(
    action: str,
    rabbitmq_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """Yield a pika ``BlockingChannel``; errors name ``action`` and the broker.

    The whole connection set-up (TCP, AMQP handshake, login) is bounded by
    ``timeout``, so a silent or absent broker fails fast and is not retried.
    """
    import pika
    import pika.exceptions as pex
    from pika.adapters.utils.connection_workflow import AMQPConnectorException

    _quiet_pika()
    url = resolve_amqp_url(rabbitmq_url, configuration, secrets)
    target = rabbitmq_target(url)
    try:
        params = pika.URLParameters(url)
    except Exception as exc:  # pika raises ValueError and friends for bad URLs
        raise ConfigurationError(f"rabbitmq_url for {target} is malformed: {type(exc).__name__}") from exc
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = max(timeout, 5.0)
    params.connection_attempts = 1
    params.retry_delay = 0
    try:
        connection = pika.BlockingConnection(params)
    except pex.ProbableAuthenticationError as exc:
        raise ConfigurationError(
            f"could not {action} on {target}: the broker refused the credentials of user "
            f"{params.credentials.username!r}"  # type: ignore[attr-defined]
        ) from exc
    except pex.ProbableAccessDeniedError as exc:
        raise ConfigurationError(
            f"could not {action} on {target}: access to vhost {vhost_of(url)!r} refused"
        ) from exc
    except (pex.AMQPError, AMQPConnectorException, OSError) as exc:
        raise TargetUnreachable(
            f"could not {action} on {target}: {_cause(exc)} (connect timeout {timeout:.1f} s)"
        ) from exc
    try:
        yield connection.channel()
    except ChaosLLMError:
        raise
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            raise TargetNotFound(f"could not {action} on {target}: {exc.reply_text}") from exc
        raise FaultFailed(f"could not {action} on {target}: {exc.reply_text}") from exc
    except pex.ConnectionBlockedTimeout as exc:
        raise FaultFailed(
            f"could not {action} on {target}: the broker blocked publishing "
            f"(memory or disk alarm) for more than {params.blocked_connection_timeout:.0f} s"
        ) from exc
    except (pex.AMQPConnectionError, pex.StreamLostError) as exc:
        raise TargetUnreachable(f"could not {action} on {target}: connection lost ({_cause(exc)})") from exc
    except pex.AMQPError as exc:
        raise FaultFailed(f"could not {action} on {target}: {_cause(exc)}") from exc
    finally:
        with contextlib.suppress(Exception):
            if connection.is_open:
                connection.close()


class Management:
    """A minimal client for the RabbitMQ management HTTP API.

    ``missing`` on a request names what a 404 means ("queue 'orders' in vhost
    '/'"), so that the error says what was absent rather than which URL.
    """

    def __init__(
        self,
        base_url: str,
        action: str,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = MANAGEMENT_READ_TIMEOUT,
    ) -> None:
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 15672)
        self.prefix = parts.path.rstrip("/")
        self.target = f"rabbitmq management {self.host}:{self.port}"
        self.user = unquote(parts.username or "guest")
        password = unquote(parts.password or "guest")
        self._auth = "Basic " + base64.b64encode(f"{self.user}:{password}".encode()).decode()
        self.action = action
        self.timeout = timeout
        self.read_timeout = max(read_timeout, timeout)

    def _fail(self, cls: type[ChaosLLMError], why: str) -> ChaosLLMError:
        return cls(f"could not {self.action} on {self.target}: {why}")

    def request(self, method: str, path: str, body: Any = None, missing: str | None = None) -> Any:
        conn_cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = conn_cls(self.host, self.port, timeout=self.timeout)
        headers = {"Authorization": self._auth, "Content-Type": "application/json"}
        if method == "DELETE":
            headers["X-Reason"] = f"chaosllm: {self.action}"
        data = json.dumps(body).encode() if body is not None else None
        try:
            try:
                conn.connect()
            except TimeoutError as exc:
                raise self._fail(TargetUnreachable, f"timed out after {self.timeout:.1f} s") from exc
            except OSError as exc:
                why = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
                raise self._fail(TargetUnreachable, why) from exc
            if conn.sock is not None:
                conn.sock.settimeout(self.read_timeout)
            try:
                conn.request(method, self.prefix + "/api" + path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except TimeoutError as exc:
                raise self._fail(TargetUnreachable, f"no answer within {self.read_timeout:.1f} s") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise self._fail(TargetUnreachable, f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        if resp.status == 404:
            raise self._fail(TargetNotFound, f"{missing or path} not found")
        if resp.status == 401:
            raise self._fail(ConfigurationError, f"the credentials of user {self.user!r} were refused")
        if resp.status >= 400:
            detail = quote_body(raw, authorization_secrets(self._auth))
            raise self._fail(FaultFailed, f"HTTP {resp.status} {detail}")
        return json.loads(raw) if raw else None

    # The few resources chaosllm needs, named as the API names them.

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        path = f"/queues/{_q(vhost)}/{_q(name)}"
        result: dict[str, Any] = self.request("GET", path, missing=f"queue {name!r} in vhost {vhost!r}")
        return result

    def policies(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", f"/policies/{_q(vhost)}")
        return result

    def policy(self, vhost: str, name: str) -> dict[str, Any] | None:
        with contextlib.suppress(TargetNotFound):
            found: dict[str, Any] = self.request("GET", f"/policies/{_q(vhost)}/{_q(name)}")
            return found
        return None

    def put_policy(self, vhost: str, name: str, body: dict[str, Any]) -> None:
        self.request("PUT", f"/policies/{_q(vhost)}/{_q(name)}", body)

    def delete_policy(self, vhost: str, name: str) -> bool:
        """Delete a policy; False when it was already gone."""
        try:
            self.request("DELETE", f"/policies/{_q(vhost)}/{_q(name)}")
        except TargetNotFound:
            return False
        return True

    def consumers(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", f"/consumers/{_q(vhost)}")
        return result

    def close_connection(self, name: str) -> bool:
        """Close a client connection; False when it was already gone."""
        try:
            self.request("DELETE", f"/connections/{_q(name)}")
        except TargetNotFound:
            return False
        return True

    def exchange(self, vhost: str, name: str) -> dict[str, Any]:
        path = f"/exchanges/{_q(vhost)}/{_q(name)}"
        result: dict[str, Any] = self.request("GET", path, missing=f"exchange {name!r} in vhost {vhost!r}")
        return result

    def exchange_bindings(self, vhost: str, exchange: str) -> list[dict[str, Any]]:
        path = f"/exchanges/{_q(vhost)}/{_q(exchange)}/bindings/source"
        result: list[dict[str, Any]] = self.request(
            "GET", path, missing=f"exchange {exchange!r} in vhost {vhost!r}"
        )
        return result


def _q(segment: str) -> str:
    return quote(segment, safe="")


@contextlib.contextmanager
def management(
    action: str,
    rabbitmq_management_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Management]:
    """Yield a :class:`Management` client for the configured broker."""
    yield Management(resolve_management_url(rabbitmq_management_url, configuration, secrets), action, timeout)
