"""Redis connections: ``redis_client(...)`` and error translation."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT, check_url
from chaosllm.errors import ChaosLLMError, ConfigurationError, FaultFailed, TargetUnreachable
from chaosllm.settings import require_setting

__all__ = ["redis_client", "redis_client_for_holder", "redis_target", "resolve_url"]


def resolve_url(
    redis_url: str | None, configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None
) -> str:
    """The server's URL; an unset ``redis_url`` is refused (there is no default server)."""
    url = str(require_setting("redis_url", redis_url, configuration, secrets))
    return check_url("redis_url", url, ("redis", "rediss", "unix"), "redis://127.0.0.1:6379/0")


def redis_target(url: str) -> str:
    """A printable name for the server, never the password: ``redis 127.0.0.1:6390``
    or ``redis unix:/run/redis.sock``. It names the server in fault ids, so one
    server reached as ``localhost`` or ``127.0.0.1`` has one name."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"redis unix:{parts.path}"
    host = (parts.hostname or "127.0.0.1").lower()
    return f"redis {'127.0.0.1' if host == 'localhost' else host}:{parts.port or 6379}"


@functools.cache
def _no_setinfo() -> dict[str, Any]:
    """Client options that skip CLIENT SETINFO: during CLIENT PAUSE it would block.
    redis-py 7+ names the option ``driver_info``; older versions take lib_name/lib_version."""
    if importlib.util.find_spec("redis.driver_info"):
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


def _new_client(url: str, timeout: float, read_timeout: float) -> Any:
    import redis

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=read_timeout,
        retry_on_timeout=False,
        protocol=2,
        **_no_setinfo(),
    )


def redis_client_for_holder(url: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Any:
    """A client for a long-lived holder thread: its commands may wait for a pause."""
    return _new_client(url, timeout, read_timeout=30.0)


@contextlib.contextmanager
def redis_client(
    action: str,
    redis_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    client: Any = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """Yield a connected ``redis.Redis``; errors name ``action`` and the server."""
    import redis

    url = resolve_url(redis_url, configuration, secrets)
    target = redis_target(url)
    own = client is None
    read_timeout = max(timeout, 5.0)
    try:
        if own:
            client = _new_client(url, timeout, read_timeout=read_timeout)
        yield client
    except ChaosLLMError:
        raise
    except redis.AuthenticationError as exc:
        raise ConfigurationError(
            f"could not {action} on {target}: the server refused the credentials of redis_url ({exc})"
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # A server that accepts the connection but never answers runs out
        # the read timeout, not the connect timeout: name the one that ran out.
        if isinstance(exc, redis.TimeoutError) and "reading" in str(exc) and own:
            limit = f"read timeout {read_timeout:.1f} s"
        else:
            limit = f"connect timeout {timeout:.1f} s"
        raise TargetUnreachable(f"could not {action} on {target}: {exc} ({limit})") from exc
    except redis.RedisError as exc:
        raise FaultFailed(f"could not {action} on {target}: {exc}") from exc
    finally:
        if own and client is not None:
            client.close()
