"""Hiding secrets in text shown to people: messages, logs and reports.

One set of patterns for every place that shows a setting or a recorded value::

    redact_url("redis://app:hunter2@cache:6379/0")   # 'redis://app:***@cache:6379/0'
    redact_text("host=db password=hunter2")          # 'host=db password=***'
    redact_value({"token": "t-1", "log": "Authorization: Bearer x"})
    # {'token': '***', 'log': 'Authorization: Bearer ***'}

What is hidden: URL passwords, ``key=value`` pairs whose key names a secret
(``password=``, ``sslpassword=``, ``token=``, ``secret=``, ``api_key=``, as in
libpq DSNs, URL queries and logs), ``Authorization:`` header values, bare
``Bearer`` tokens, and, in nested values, everything under a secret-looking key
and any known secret value. This module imports nothing of chaosllm, so that
reports can use it.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "redact_text", "redact_url", "redact_value"]

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
def _secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def redact_value(value: Any, secret_values: frozenset[str] = frozenset()) -> Any:
    """``value`` (text, or dicts and lists of them) with secrets hidden: everything
    under a secret-looking key, what :func:`redact_text` hides, and every one of
    ``secret_values`` wherever it appears."""
    if isinstance(value, str):
        text = redact_text(value)
        for secret in secret_values:
            text = text.replace(secret, MASK)
        return text
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and _secret_key(k) else redact_value(v, secret_values)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v, secret_values) for v in value]
    return value
