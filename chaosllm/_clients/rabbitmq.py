"""RabbitMQ connections: AMQP through pika and the management HTTP API.

``amqp_channel(...)`` yields a pika channel; ``management(...)`` yields a
small client for the management API (queues, connections, consumers).
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT
from chaosllm.errors import ChaosLLMError, FaultFailed, TargetNotFound, TargetUnreachable
from chaosllm.settings import get_setting

__all__ = ["amqp_channel", "management", "Management", "rabbitmq_target", "resolve_urls"]

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"


def resolve_urls(
    rabbitmq_url: str | None,
    rabbitmq_management_url: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> tuple[str, str]:
    amqp = get_setting("rabbitmq_url", rabbitmq_url, configuration, secrets, default=DEFAULT_URL)
    mgmt = get_setting(
        "rabbitmq_management_url",
        rabbitmq_management_url,
        configuration,
        secrets,
        default=DEFAULT_MANAGEMENT_URL,
    )
    return str(amqp), str(mgmt).rstrip("/")


def rabbitmq_target(url: str) -> str:
    """A printable name: ``rabbitmq 127.0.0.1:5673``, never the password."""
    parts = urlsplit(url)
    return f"rabbitmq {parts.hostname or '127.0.0.1'}:{parts.port or 5672}"


def vhost_of(amqp_url: str) -> str:
    from urllib.parse import unquote

    path = urlsplit(amqp_url).path.lstrip("/")
    return unquote(path) if path else "/"


@contextlib.contextmanager
def amqp_channel(
    action: str,
    rabbitmq_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """Yield a pika ``BlockingChannel``; errors name ``action`` and the broker."""
    import pika
    import pika.exceptions as pex

    url, _ = resolve_urls(rabbitmq_url, None, configuration, secrets)
    target = rabbitmq_target(url)
    params = pika.URLParameters(url)
    params.socket_timeout = timeout
    params.blocked_connection_timeout = max(timeout, 5.0)
    params.connection_attempts = 1
    params.retry_delay = 0
    try:
        connection = pika.BlockingConnection(params)
    except pex.AMQPError as exc:
        raise TargetUnreachable(
            f"could not {action} on {target}: {exc!r} (connect timeout {timeout:.1f} s)"
        ) from exc
    except OSError as exc:
        raise TargetUnreachable(f"could not {action} on {target}: {exc}") from exc
    try:
        yield connection.channel()
    except ChaosLLMError:
        raise
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            raise TargetNotFound(f"could not {action} on {target}: {exc.reply_text}") from exc
        raise FaultFailed(f"could not {action} on {target}: {exc.reply_text}") from exc
    except pex.AMQPError as exc:
        raise FaultFailed(f"could not {action} on {target}: {exc!r}") from exc
    finally:
        with contextlib.suppress(Exception):
            connection.close()


class Management:
    """A minimal client for the RabbitMQ management HTTP API."""

    def __init__(self, base_url: str, action: str, timeout: float = DEFAULT_CONNECT_TIMEOUT):
        parts = urlsplit(base_url)
        self.target = f"rabbitmq management {parts.hostname}:{parts.port or 15672}"
        netloc = parts.hostname or "127.0.0.1"
        if parts.port:
            netloc += f":{parts.port}"
        self.base = f"{parts.scheme or 'http'}://{netloc}{parts.path.rstrip('/')}"
        user, password = parts.username or "guest", parts.password or "guest"
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"
        self.action = action
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + "/api" + path, data=data, method=method)
        req.add_header("Authorization", self._auth)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=max(self.timeout, 5.0)) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if exc.code == 404:
                raise TargetNotFound(
                    f"could not {self.action} on {self.target}: {path} not found"
                ) from exc
            raise FaultFailed(
                f"could not {self.action} on {self.target}: HTTP {exc.code} {detail}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise TargetUnreachable(f"could not {self.action} on {self.target}: {exc}") from exc
        return json.loads(raw) if raw else None

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}")
        return result


@contextlib.contextmanager
def management(
    action: str,
    rabbitmq_management_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Management]:
    """Yield a :class:`Management` client for the configured broker."""
    _, url = resolve_urls(None, rabbitmq_management_url, configuration, secrets)
    yield Management(url, action, timeout)
