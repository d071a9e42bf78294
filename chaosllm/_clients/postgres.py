"""PostgreSQL connections: ``postgres_connection(...)`` and error translation.

Every connection chaosllm opens goes through :func:`connect`, so every one has
the same connect timeout and ``application_name``, and every backend error is
translated here, once, into :mod:`chaosllm.errors`. Messages name the server
(``postgres 127.0.0.1:5433/app``) and never the password.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT
from chaosllm.errors import (
    ChaosLLMError,
    ConfigurationError,
    FaultFailed,
    InvalidArgument,
    TargetNotFound,
    TargetUnreachable,
)
from chaosllm.faults import format_duration
from chaosllm.settings import require_setting

__all__ = [
    "postgres_connection",
    "postgres_target",
    "postgres_server",
    "postgres_database",
    "resolve_dsn",
    "connect",
    "open_connection",
    "describe_error",
    "is_slot_refusal",
    "APPLICATION_NAME",
    "DEFAULT_STATEMENT_TIMEOUT",
]

APPLICATION_NAME = "chaosllm"
# Our own statements must never hang behind a lock or inherit a role's
# injected statement_timeout, so each session sets its own.
DEFAULT_STATEMENT_TIMEOUT = 30.0

# The server refuses a connection with these when no slot is free; libpq
# gives no SQLSTATE for a refused startup, only the text.
_SLOT_REFUSALS = ("too many clients", "remaining connection slots are reserved")


def resolve_dsn(
    postgres_dsn: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> str:
    """The DSN; an unset ``postgres_dsn`` is refused rather than left to libpq,
    which would fall back to a local server and the ``PG*`` variables."""
    return str(require_setting("postgres_dsn", postgres_dsn, configuration, secrets))


def _conninfo(dsn: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return dict(conninfo_to_dict(dsn))
    except Exception as exc:
        # The parser's message quotes the string, password included.
        raise ConfigurationError(
            "setting 'postgres_dsn' is not a valid PostgreSQL connection string "
            "(value not shown because it may hold a password)"
        ) from exc


def postgres_server(dsn: str) -> str:
    """``host:port`` of the server, the scope of server-wide faults."""
    info = _conninfo(dsn)
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"


def postgres_database(dsn: str) -> str:
    """The database the DSN connects to (libpq's default: the user's name)."""
    info = _conninfo(dsn)
    return str(info.get("dbname") or info.get("user") or "")


def postgres_target(dsn: str) -> str:
    """A printable name: ``postgres 127.0.0.1:5433/app``, never the password."""
    try:
        info = _conninfo(dsn)
    except ConfigurationError:
        return "postgres <unparseable dsn>"
    host = info.get("host") or "localhost"
    return f"postgres {host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''}"


def describe_error(exc: BaseException, dsn: str) -> str:
    """The backend's message on one line, with the DSN and password masked."""
    text = " ".join(str(exc).split())
    if dsn and dsn in text:
        text = text.replace(dsn, "<dsn>")
    with contextlib.suppress(ConfigurationError):
        password = _conninfo(dsn).get("password")
        if password:
            text = text.replace(str(password), "***")
    return text


def is_slot_refusal(exc: BaseException) -> bool:
    """True when the server refused a connection because no slot was free."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(marker in str(seen) for marker in _SLOT_REFUSALS):
            return True
        seen = seen.__cause__
    return False


def connect(
    dsn: str,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = None,
    application_name: str = APPLICATION_NAME,
    **kwargs: Any,
) -> Any:
    """Open a raw autocommit connection; psycopg errors are left to the caller.

    ``statement_timeout`` (seconds; None keeps what the server and role say)
    is set for the session, so that a locked table or an injected role
    timeout does not hang or break chaosllm's own statements.
    """
    import psycopg

    if not str(dsn).strip():
        require_setting("postgres_dsn", None)  # an empty DSN is libpq's "localhost": refuse it
    _conninfo(dsn)
    kwargs.setdefault("autocommit", True)
    conn = psycopg.connect(
        dsn,
        connect_timeout=max(1, int(round(timeout))),
        application_name=application_name,
        **kwargs,
    )
    if statement_timeout is not None:
        try:
            conn.execute("select set_config('statement_timeout', %s, false)",
                         (f"{int(statement_timeout * 1000)}ms",))
        except BaseException:
            conn.close()
            raise
    return conn


def open_connection(
    action: str,
    dsn: str,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
    application_name: str = APPLICATION_NAME,
) -> Any:
    """Connect, or raise ``TargetUnreachable`` naming ``action`` and the server."""
    import psycopg

    try:
        return connect(dsn, timeout, statement_timeout, application_name)
    except psycopg.Error as exc:
        raise TargetUnreachable(
            f"could not {action} on {postgres_target(dsn)}: {describe_error(exc, dsn)} "
            f"(connect timeout {timeout:.1f} s)"
        ) from exc


@contextlib.contextmanager
def postgres_connection(
    action: str,
    postgres_dsn: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    connection: Any = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
) -> Iterator[Any]:
    """Yield an autocommit ``psycopg.Connection``; errors name ``action`` and the server.

    An injected ``connection`` is used as is and left open.
    """
    import psycopg
    from psycopg import errors as pgerrors

    dsn = resolve_dsn(postgres_dsn, configuration, secrets)
    target = postgres_target(dsn)
    own = connection is None
    if own:
        connection = open_connection(action, dsn, timeout, statement_timeout)
    try:
        yield connection
    except ChaosLLMError:
        raise
    except (pgerrors.UndefinedTable, pgerrors.UndefinedObject, pgerrors.UndefinedColumn) as exc:
        raise TargetNotFound(f"could not {action} on {target}: {describe_error(exc, dsn)}") from exc
    except (pgerrors.InvalidParameterValue, pgerrors.InvalidTextRepresentation) as exc:
        raise InvalidArgument(f"could not {action} on {target}: {describe_error(exc, dsn)}") from exc
    except pgerrors.QueryCanceled as exc:
        # Only a session opened here is known to have this timeout.
        limit = f" after {format_duration(statement_timeout)}" if own and statement_timeout else ""
        raise FaultFailed(f"could not {action} on {target}: {describe_error(exc, dsn)}{limit}") from exc
    except psycopg.Error as exc:
        raise FaultFailed(f"could not {action} on {target}: {describe_error(exc, dsn)}") from exc
    finally:
        if own and connection is not None:
            connection.close()
