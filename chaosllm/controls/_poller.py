"""The guard's poller: one thread per source, each sample judged as it arrives.

:class:`Guard` holds one run's conditions and what they observed. Its
threads read Prometheus or a ``/metrics`` page every ``interval``, judge
each value against its condition, and on a confirmed breach call the
interrupter (:mod:`chaosllm.controls._interrupt`) while the method runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from chaosllm._clients.prometheus import prometheus_api, scrape
from chaosllm.controls._conditions import Condition, ScrapeState, parse_conditions
from chaosllm.controls._interrupt import RESIGNAL_EVERY, signal_self
from chaosllm.errors import ChaosLLMError, InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.journal_keys import GUARD_EXTENSION
from chaosllm.settings import redact
from chaosllm.slo.exposition import parse_exposition
from chaosllm.slo.promql import single_value

__all__ = ["Guard"]

logger = logging.getLogger("chaostoolkit")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


class Guard:
    """Background evaluation of abort conditions for one experiment run."""

    def __init__(
        self,
        conditions: list[Any],
        interval: Any = "1s",
        min_samples: int = 1,
        for_: Any = "0s",
        on_no_data: str = "ignore",
        prometheus_base_url: str | None = None,
        configuration: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        interrupt: Callable[[], None] | None = None,
    ) -> None:
        self.interval = parse_duration(interval, "guard: 'interval'")
        if self.interval <= 0:
            raise InvalidArgument("guard: 'interval' must be above zero")
        if on_no_data not in ("ignore", "breach"):
            raise InvalidArgument("guard: 'on_no_data' must be 'ignore' or 'breach'")
        self.raw_conditions = list(conditions or [])
        self.conditions = parse_conditions(
            conditions, parse_duration(for_, "guard: 'for'"), min_samples
        )
        self.on_no_data = on_no_data
        self.prometheus_base_url = prometheus_base_url
        self.configuration = configuration
        self.secrets = secrets
        self._interrupt = interrupt or signal_self
        self.can_interrupt = interrupt is not None
        self.restore_handler: Callable[[], Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.in_method = False
        self.aborted = False
        self.breaches: list[dict[str, Any]] = []
        self.samples = 0
        self.errors = 0
        self.resignals = 0
        self.rollbacks_seen = False
        self.rollbacks_run_by: str | None = None
        self.rollback_runs: list[Any] | None = None
        self.rollback_strategy = "default"
        self.reported = False
        self.started = False

    # lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Start watching (once): the method is starting."""
        with self._lock:
            if self.started:
                return
            self.started = True
            self.in_method = True
        groups: dict[str, list[Condition]] = {}
        for condition in self.conditions:
            key = condition.scrape_url or f"prometheus#{condition.index}"
            groups.setdefault(key, []).append(condition)
        for key, members in groups.items():
            self._spawn(f"chaosllm-guard {key}", self._poll, members)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def method_ended(self) -> None:
        # a plain store: the signal handler may run while this thread holds _lock
        self.in_method = False

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=max(2.0, self.interval * 2))
        self._threads.clear()

    # evaluation ----------------------------------------------------------
    def _poll(self, members: list[Condition]) -> None:
        fetch = self._scraper(members) if members[0].scrape_url else self._querier(members[0])
        while not self._stop.is_set():
            tick = time.monotonic()
            try:
                values = fetch()
            except Exception as exc:  # whatever the source does, the guard keeps watching
                self.errors += 1
                shown = exc if isinstance(exc, ChaosLLMError) else f"{type(exc).__name__}: {exc}"
                logger.warning(f"chaosllm guard: {shown}")
                values = [None] * len(members)
            for condition, value in zip(members, values, strict=True):
                self.judge(condition, value)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - tick)))

    def _querier(self, condition: Condition) -> Callable[[], list[float | None]]:
        assert condition.query is not None
        query = condition.query

        def fetch() -> list[float | None]:
            with prometheus_api(
                f"evaluate guard condition {condition.text!r}", self.prometheus_base_url,
                self.configuration, self.secrets, timeout=max(1.0, 2 * self.interval),
            ) as api:  # fmt: skip
                return [single_value(api, query)]

        return fetch

    def _scraper(self, members: list[Condition]) -> Callable[[], list[float | None]]:
        url = members[0].scrape_url
        assert url is not None
        state = ScrapeState()

        def fetch() -> list[float | None]:
            samples = parse_exposition(scrape(url, timeout=max(1.0, 2 * self.interval)))
            return [state.value(condition, samples) for condition in members]

        return fetch

    def judge(self, condition: Condition, value: float | None) -> None:
        """Judge one sample the moment it arrives; interrupt on a confirmed breach."""
        now = time.time()
        self.samples += 1
        breaching = condition.breaching(value) or (value is None and self.on_no_data == "breach")
        if not condition.observe(breaching, time.monotonic()):
            return
        with self._lock:
            condition.triggered = True
            self.breaches.append(
                {
                    "condition": condition.text,
                    "observed": value,
                    "threshold": condition.threshold,
                    "at": _iso(now),
                    "source": condition.source,
                }
            )
            first = not self.aborted
            self.aborted = True
            interrupt = first and self.in_method and self.can_interrupt
        shown = "no data" if value is None else f"{value:g}"
        logger.critical(f"chaosllm guard: {condition.text} (observed {shown})")
        if interrupt:
            logger.critical("chaosllm guard: interrupting the method; rollbacks will run")
            self._interrupt()
            self._spawn("chaosllm-guard interrupter", self.keep_interrupting)

    def keep_interrupting(self) -> None:
        """Signal the main thread until the method has really stopped.

        One signal is not always enough: chaoslib sleeps an activity's
        ``pauses.after`` in a ``finally`` block, so an interruption raised
        during the activity still waits out the whole pause.
        """
        while not self._stop.wait(RESIGNAL_EVERY):
            with self._lock:
                if not self.in_method:
                    return
                self.resignals += 1
                self._interrupt()

    # journal -------------------------------------------------------------
    def extension(self) -> dict[str, Any]:
        return {
            "name": GUARD_EXTENSION,
            "aborted": self.aborted,
            "conditions": [_shown(c) for c in self.raw_conditions],
            "breaches": list(self.breaches),
            "rollbacks_run_by": self.rollbacks_run_by,
            "samples": self.samples,
            "errors": self.errors,
        }


def _shown(condition: Any) -> Any:
    """A condition as configured, with any password in its scrape URL hidden."""
    if isinstance(condition, dict) and isinstance(condition.get("scrape"), str):
        return {**condition, "scrape": redact(condition["scrape"])}
    return condition
