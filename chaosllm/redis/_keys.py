"""Key iteration shared by the Redis actions and probes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chaosllm.errors import InvalidArgument

BATCH = 1000


def check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgument(f"pattern must be a non-empty glob such as 'catalog:*', got {pattern!r}")
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
