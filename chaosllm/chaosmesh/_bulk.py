"""Removing or pausing every chaosllm-managed Chaos Mesh object, at the speed of the API server.

Requests go out concurrently, at most ``CONCURRENCY`` in flight, and the
removals are then awaited together: one list and one watch per kind, not
a read and a watch per object. Schedules and Workflows are deleted before
the faults, and the faults are listed only afterwards, so that nothing a
Schedule starts meanwhile is missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chaosllm._clients.k8s import CONCURRENCY, ChaosMeshApi
from chaosllm.chaosmesh._kinds import KINDS, Kind
from chaosllm.chaosmesh._ledger import forget_objects
from chaosllm.chaosmesh._spec import MANAGED_BY
from chaosllm.chaosmesh._status import PAUSE_ANNOTATION, force_patch, forced_how
from chaosllm.errors import ChaosLLMError
from chaosllm.faults import format_duration, utcnow_iso

__all__ = ["Ref", "MANAGED_LABEL", "managed", "concurrently", "pause_managed", "remove_managed"]

MANAGED_LABEL = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
# Kinds a pause annotation stops (a Workflow has no pause; it is removed).
_PAUSABLE = tuple(k for k in KINDS.values() if k.is_chaos or k.kind == "Schedule")
# Schedules and Workflows first, so that they start nothing new.
_GROUPS = (tuple(k for k in KINDS.values() if not k.is_chaos),
           tuple(k for k in KINDS.values() if k.is_chaos))

Ref = tuple[Kind, str, str]  # kind, namespace, name
T = TypeVar("T")
R = TypeVar("R")


def managed(api: ChaosMeshApi, namespace: str | None, kinds: Iterable[Kind]) -> list[Ref]:
    """Every object of ``kinds`` with the managed-by label, in one namespace or all."""
    found = []
    for kind in kinds:
        for obj in api.list(kind.plural, namespace, MANAGED_LABEL):
            found.append((kind, str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"])))
    return found


def concurrently(func: Callable[[T], R], items: list[T]) -> list[tuple[T, R | None, str | None]]:
    """``func`` over ``items`` with at most CONCURRENCY in flight: ``(item, result, error)``."""

    def attempt(item: T) -> tuple[T, R | None, str | None]:
        try:
            return item, func(item), None
        except ChaosLLMError as exc:  # try the others, then report
            return item, None, str(exc)

    if len(items) <= 1:
        return [attempt(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(items))) as pool:
        return list(pool.map(attempt, items))


def pause_managed(api: ChaosMeshApi, namespace: str | None) -> tuple[list[Ref], list[str]]:
    """Pause every managed fault and Schedule, one merge patch each, concurrently."""
    patch = {"metadata": {"annotations": {PAUSE_ANNOTATION: "true"}}}
    outcomes = concurrently(lambda ref: api.merge_patch(ref[0].plural, ref[1], ref[2], patch),
                            managed(api, namespace, _PAUSABLE))
    paused = [ref for ref, result, error in outcomes if error is None and result is not None]
    return paused, [error for _, _, error in outcomes if error]


def _wait_gone(api: ChaosMeshApi, kind: Kind, namespace: str | None, pending: set[tuple[str, str]],
               deadline: float) -> set[tuple[str, str]]:
    """Follow one list and watch of ``kind`` until none of ``pending`` is left; what is left."""
    while pending:
        items, version = api.list_versioned(kind.plural, namespace, MANAGED_LABEL)
        pending &= {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items}
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        for event, obj in api.watch_all(kind.plural, namespace, MANAGED_LABEL, version, remaining):
            if event == "ERROR":  # an expired resourceVersion: list again
                break
            if event == "DELETED":
                pending.discard((obj["metadata"]["namespace"], obj["metadata"]["name"]))
            if not pending or time.monotonic() >= deadline:
                break
    return pending


def _await_removal(api: ChaosMeshApi, namespace: str | None, refs: list[Ref],
                   timeout: float) -> list[Ref]:
    """Wait for every deleted object together; the ones still present after ``timeout``."""
    deadline = time.monotonic() + timeout
    stuck: list[Ref] = []
    for kind in KINDS.values():
        pending = {(ns, name) for k, ns, name in refs if k is kind}
        if pending:
            stuck += [(kind, ns, name) for ns, name in _wait_gone(api, kind, namespace, pending, deadline)]
    return stuck


def _result(ref: Ref, removed: bool, forced: bool = False) -> dict[str, Any]:
    kind, namespace, name = ref
    result: dict[str, Any] = {"kind": kind.kind, "name": name, "namespace": namespace,
                              "removed": removed}
    if removed:
        result.update(forced=forced, ended_at=utcnow_iso())
    return result


def remove_managed(
    api: ChaosMeshApi, namespace: str | None, force: bool, timeout: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Delete every managed object concurrently, then wait for all of them together.

    Returns one result per object (as ``remove_chaos`` gives) and the
    errors. An object still deleting after ``timeout`` is an error, unless
    ``force``: then all such objects get the clean-finalizer annotation
    (concurrently) and are awaited once more.
    """
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    deleted: list[Ref] = []
    for group in _GROUPS:
        outcomes = concurrently(lambda ref: api.delete(ref[0].plural, ref[1], ref[2]),
                                managed(api, namespace, group))
        for ref, answer, error in outcomes:
            if error:
                failed.append(error)
            elif answer is None:  # gone between the list and the delete
                results.append(_result(ref, False))
            else:
                deleted.append(ref)
    stuck = _await_removal(api, namespace, deleted, timeout)
    forced: list[Ref] = []
    if stuck and force:
        concurrently(lambda ref: api.merge_patch(ref[0].plural, ref[1], ref[2], force_patch(ref[0])),
                     stuck)
        forced, stuck = stuck, _await_removal(api, namespace, stuck, timeout)
    for ref in stuck:
        failed.append(f"could not remove {ref[0].kind} {ref[1]}/{ref[2]}: still present "
                      f"{format_duration(timeout)} after its deletion"
                      + (f" and after {forced_how(ref[0])}" if force else
                         "; retry with force=true to drop the finalizer"))
    left, was_forced = set(stuck), set(forced)
    gone = [ref for ref in deleted if ref not in left]
    results += [_result(ref, True, ref in was_forced) for ref in gone]
    forget_objects((k.kind, ns, name) for k, ns, name in gone)
    return results, failed
