"""PostgreSQL connections: ``postgres_connection(...)`` and error translation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT
from chaosllm.errors import ChaosLLMError, FaultFailed, TargetNotFound, TargetUnreachable
from chaosllm.settings import get_setting

__all__ = ["postgres_connection", "postgres_target", "resolve_dsn", "connect"]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def resolve_dsn(
    postgres_dsn: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> str:
    return str(get_setting("postgres_dsn", postgres_dsn, configuration, secrets, default=DEFAULT_DSN))


def postgres_target(dsn: str) -> str:
    """A printable name: ``postgres 127.0.0.1:5433/app``, never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except Exception:
        return "postgres <unparseable dsn>"
    return f"postgres {info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def connect(dsn: str, timeout: float = DEFAULT_CONNECT_TIMEOUT, **kwargs: Any) -> Any:
    """Open a raw autocommit connection (no translation; callers translate)."""
    import psycopg

    kwargs.setdefault("autocommit", True)
    return psycopg.connect(dsn, connect_timeout=max(1, int(round(timeout))), **kwargs)


@contextlib.contextmanager
def postgres_connection(
    action: str,
    postgres_dsn: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    connection: Any = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """Yield an autocommit ``psycopg.Connection``; errors name ``action`` and the server."""
    import psycopg
    from psycopg import errors as pgerrors

    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    target = postgres_target(dsn)
    own = connection is None
    if own:
        try:
            connection = connect(dsn, timeout)
        except psycopg.Error as exc:
            raise TargetUnreachable(
                f"could not {action} on {target}: {str(exc).strip()} "
                f"(connect timeout {timeout:.1f} s)"
            ) from exc
    try:
        yield connection
    except ChaosLLMError:
        raise
    except (pgerrors.UndefinedTable, pgerrors.UndefinedObject, pgerrors.UndefinedColumn) as exc:
        raise TargetNotFound(f"could not {action} on {target}: {str(exc).strip()}") from exc
    except psycopg.Error as exc:
        raise FaultFailed(f"could not {action} on {target}: {str(exc).strip()}") from exc
    finally:
        if own and connection is not None:
            connection.close()
