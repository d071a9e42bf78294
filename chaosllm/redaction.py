"""Hiding secrets in text shown to people: messages, logs and reports.

One set of patterns for every place that shows a setting or a recorded value::

    redact_url("redis://app:hunter2@cache:6379/0")   # 'redis://app:***@cache:6379/0'
    redact_text("host=db password=hunter2")          # 'host=db password=***'
    redact_value({"token": "t-1", "log": "Authorization: Bearer x"})
    # {'token': '***', 'log': 'Authorization: Bearer ***'}
    quote_body(b"...Authorization: Bearer t-1", authorization_secrets("Bearer t-1"))
    # '...Authorization: Bearer ***' (secrets hidden before the quote is cut)

What is hidden: URL passwords, ``key=value`` pairs whose key names a secret
(``password=``, ``sslpassword=``, ``token=``, ``secret=``, ``api_key=``, as in
libpq DSNs, URL queries and logs), ``Authorization:`` header values, bare
``Bearer`` tokens, and, in nested values, everything under a secret-looking key
and any known secret value. Text a server sent back (an error body that may
echo the request's headers) is quoted with :func:`quote_body`, which hides the
credentials that were sent before it shortens the text, so that a cut never
leaves half a token. This module imports nothing of chaosllm, so that
reports can use it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "authorization_secrets",
    "quote_body",
    "redact_text",
    "redact_url",
    "redact_value",
    "secret_key",
    "url_secrets",
]

MASK = "***"

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|auth", re.I)
# Greedy up to the last "@" before a "/" or a space, so that a password holding
# an "@" is hidden whole, as urlsplit reads it.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^/\s]+@", re.I)
# key=value pairs of libpq DSNs, URL queries and logs: password=, sslpassword=, api_key=, ...
# A quoted value may hold spaces; whatever sticks to its closing quote goes with it.
_SECRET_PAIR = re.compile(
    r"(?P<key>[\w.-]*(?:pass(?:word|wd|phrase)|secret(?:[_-]?key)?|token|api[_-]?key|access[_-]?key)"
    r"[ \t]*=[ \t]*)(?:(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\S*|\S+)",
    re.I,
)
# "Authorization: Basic ...", "Authorization: Bearer ..." and a bare "Bearer <token>".
_AUTH_HEADER = re.compile(
    r"(?P<key>\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:bearer|basic|token)[ \t]+)?|\bbearer[ \t]+)"
    r"[^\s\"',;]+",
    re.I,
)


def redact_text(text: str) -> str:
    """``text`` with URL passwords, secret ``key=value`` pairs, authorization
    headers and bearer tokens replaced by ``***``."""
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\g<scheme>:{MASK}@", text)
    if "=" in text:
        text = _SECRET_PAIR.sub(rf"\g<key>{MASK}", text)
    return _AUTH_HEADER.sub(rf"\g<key>{MASK}", text)


def redact_url(url: str) -> str:
    """A URL (or DSN) setting fit for a message: as :func:`redact_text`, with the
    password hidden as ``urlsplit`` reads it, or ``<unparseable url>``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    if password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        url = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))
    return redact_text(url)


@functools.lru_cache(maxsize=4096)
def secret_key(key: str) -> bool:
    """Whether a setting or field named ``key`` holds a secret (``password``, ``token``, ...)."""
    return _SECRET_KEY.search(key) is not None


def redact_value(value: Any, secret_values: frozenset[str] = frozenset(), keys: bool = True) -> Any:
    """``value`` (text, or dicts and lists of them) with secrets hidden: everything
    under a secret-looking key (unless ``keys`` is false), what :func:`redact_text`
    hides, and every one of ``secret_values`` wherever it appears (longest first)."""
    if isinstance(value, str):
        text = value
        if secret_values:
            for secret in sorted(secret_values, key=len, reverse=True):
                text = text.replace(secret, MASK)
        return redact_text(text)
    if isinstance(value, dict):
        return {
            k: MASK if keys and isinstance(k, str) and secret_key(k)
            else redact_value(v, secret_values, keys)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v, secret_values, keys) for v in value]
    return value


def authorization_secrets(authorization: str | None) -> tuple[str, ...]:
    """The credentials inside an ``Authorization`` header value, to keep out of
    messages: the value itself and, for ``Basic``, the password it encodes."""
    if not authorization:
        return ()
    scheme, _, value = authorization.partition(" ")
    hidden = [value]
    if scheme.lower() == "basic":
        try:
            hidden.append(base64.b64decode(value, validate=True).decode(errors="replace").partition(":")[2])
        except (ValueError, binascii.Error):
            pass
    return tuple(h for h in hidden if h)


def url_secrets(url: str) -> tuple[str, ...]:
    """The password of a URL, as written and decoded, to keep out of messages."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return ()
    if not password:
        return ()
    return tuple({password, unquote(password)})


def quote_body(body: bytes | str, hidden: Iterable[str] = (), limit: int = 300) -> str:
    """Up to ``limit`` characters of text a server sent, fit for a message.

    Every one of ``hidden`` (the credentials the request carried) and what
    :func:`redact_text` hides are masked in the whole text first, and only then
    is it shortened: a server that echoes the request's headers in an error
    body never gets part of a token into a message.
    """
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    for secret in sorted({h for h in hidden if h}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = redact_text(text)
    return text if len(text) <= limit else text[:limit]
