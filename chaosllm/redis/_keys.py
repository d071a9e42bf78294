"""Key patterns and key iteration shared by the Redis actions and probes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chaosllm.errors import InvalidArgument

BATCH = 1000
# Only stars and question marks, with a star: the pattern matches every key.
_EVERY_KEY = re.compile(r"[*?]*\*[*?]*")


def check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgument(f"pattern must be a non-empty glob such as 'catalog:*', got {pattern!r}")
    return pattern


def check_key_pattern(pattern: Any, allow_all_keys: Any, action: str) -> str:
    """A fault's key pattern: explicit, and the whole keyspace only with ``allow_all_keys: true``."""
    if not isinstance(allow_all_keys, bool):
        raise InvalidArgument(f"allow_all_keys must be true or false, got {allow_all_keys!r}")
    check_pattern(pattern)
    if _EVERY_KEY.fullmatch(pattern) and not allow_all_keys:
        raise InvalidArgument(
            f"{action} with pattern {pattern!r} would touch every key of the database; "
            "name the keys (such as 'catalog:*') or set allow_all_keys: true"
        )
    return pattern


def scan_batches(client: Any, pattern: str) -> Iterator[list[bytes]]:
    """Yield matching keys in batches, without blocking the server like KEYS."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=BATCH):
        batch.append(key)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
