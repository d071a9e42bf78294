"""One run under the rollbacks control: its signals, its halt watcher and its ending.

:class:`RollbackRun` follows the run through its phases, turns Ctrl-C,
SIGTERM and a halt into an interruption of the method, shields the
rollbacks from further signals, and at the end plays the rollbacks that the
rollback strategy skipped (through the guard's machinery, so that each is
played once), restores the run's own faults left in the ledger, and says what
is still in force.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosllm.controls._interrupt import (
    RESIGNAL_EVERY,
    before_method,
    forget_rollbacks,
    in_method_activity,
    install_interrupter,
    note_rollbacks_played,
    rollbacks_played_by,
    run_rollbacks_once,
    signal_self,
)
from chaosllm.faults.halt import halt_message, halt_state, is_halted
from chaosllm.faults.ledger import Ledger, cleanup
from chaosllm.faults.runs import register_run, unregister_run
from chaosllm.journal_keys import ROLLBACKS_EXTENSION

__all__ = ["RollbackRun", "INTERRUPTIBLE_PHASES", "PREFIX"]

logger = logging.getLogger("chaostoolkit")
PREFIX = "chaosllm rollbacks:"
# A first Ctrl-C or SIGTERM interrupts in these phases; later, it waits for the rollbacks.
INTERRUPTIBLE_PHASES = ("configured", "started", "method", "after-method")


class RollbackRun:
    """The state of one experiment run that uses the rollbacks control."""

    def __init__(self, experiment: dict[str, Any], configuration: Any, secrets: Any) -> None:
        self.experiment = experiment
        self.configuration = configuration
        self.secrets = secrets
        self.journal: dict[str, Any] | None = None
        self.strategy = "default"
        self.phase = "configured"
        self.method_started = False
        self.interruption: str | None = None  # "SIGINT", "SIGTERM", "halt", "exception: ..."
        self.skip_rollbacks = False  # chaoslib's SIGUSR2: leave without rollbacks
        self.deferred = 0
        self.forced = False
        self.run_id: str | None = None
        self.played_by: str | None = None
        self.rollback_runs: list[Any] | None = None
        self.restored: list[dict[str, Any]] = []
        self.left: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.finished = False
        self.closed = False
        self.stopped = False
        self.observed = False
        # what install_interrupter reads and sets (see _interrupt.Interruptible); in_method
        # stays False: _stop_now decides where a halt stops the run
        self.aborted = False
        self.in_method = False
        self.can_interrupt = False
        self.restore_handler: Callable[[], Any] | None = None
        self._restores: list[Callable[[], Any]] = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # start ---------------------------------------------------------------
    def start(self) -> None:
        """Register the run, take over the signals and watch for a halt (main thread)."""
        record = register_run(str(self.experiment.get("title", "")))
        self.run_id = str(record["run"])
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._wrap(signum)
            install_interrupter(self, self._stop_now)
        self._watcher = threading.Thread(target=self._watch, name="chaosllm-rollbacks halt watcher",
                                         daemon=True)  # fmt: skip
        self._watcher.start()

    def _wrap(self, signum: int) -> None:
        previous = signal.getsignal(signum)

        def handler(number: int, frame: Any) -> None:
            self.on_signal(number, frame, previous)

        signal.signal(signum, handler)
        self._restores.append(lambda: signal.signal(signum, previous))

    def on_signal(self, signum: int, frame: Any, previous: Any) -> None:
        """A first Ctrl-C or SIGTERM interrupts the run; while rolling back, the
        first is noted and the next one leaves at once."""
        name = signal.Signals(signum).name
        if previous == signal.SIG_IGN:
            return
        if self.interruption is None and self.phase in INTERRUPTIBLE_PHASES:
            self.interruption = name
            self.aborted = True  # the watcher interrupts again if this one is swallowed
            logger.warning(f"{PREFIX} {name} received: interrupting the run; its rollbacks will run")
            # Not chaoslib's InterruptExecution for SIGTERM: an Exception, which any
            # `except Exception` on the way (logging's emit among them) swallows.
            raise KeyboardInterrupt
        self.interruption = self.interruption or name
        self.deferred += 1
        if self.deferred == 1:
            logger.warning(f"{PREFIX} {name} received while rolling back: the rollbacks finish first "
                           f"(send it again to leave now, then run 'chaosllm cleanup')")  # fmt: skip
            return
        self.forced = True
        logger.error(f"{PREFIX} {name} received again: leaving now, without finishing the rollbacks")
        raise KeyboardInterrupt

    def _stop_now(self, frame: Any) -> bool:
        """Where a halt stops the run at once: before the method, or in one of its activities."""
        stop = (self.phase == "started" and before_method(frame)) or (
            self.phase == "method" and in_method_activity(frame))  # fmt: skip
        self.stopped = self.stopped or stop
        return stop

    def _watch(self) -> None:
        """Abort the run within a tick of a halt, the way the guard aborts it, and
        signal again until the method has really stopped."""
        while not self._stop.wait(RESIGNAL_EVERY):
            if not self.aborted:
                if self.phase not in ("started", "method") or not is_halted():
                    continue
                self.aborted = True
                self.interruption = self.interruption or "halt"
                logger.critical(f"{PREFIX} {halt_message(halt_state() or {}, 'this run')}: "
                                f"aborting it; its rollbacks will run")  # fmt: skip
            if self.stopped or self.phase not in ("started", "method"):
                return
            signal_self()

    # phases ----------------------------------------------------------------
    def method_starts(self) -> None:
        self.method_started = True
        self.phase = "method"

    def method_ends(self, exc: BaseException | None) -> None:
        """The method has stopped; ``exc`` is what stopped it, if anything."""
        if self.phase == "method":
            self.phase = "after-method"
        if isinstance(exc, SystemExit) and exc.code == 30:
            self.skip_rollbacks = True  # chaoslib's SIGUSR2: "without rollbacks", as asked
        elif isinstance(exc, Exception) and not isinstance(exc, InterruptExecution):
            self.interruption = self.interruption or f"exception: {type(exc).__name__}: {exc}"
        elif exc is not None:
            self.interruption = self.interruption or _name(exc)

    def chaoslib_rolls_back(self) -> None:
        self.phase = "rollbacks"
        note_rollbacks_played(self.experiment, "chaoslib")

    # ending ----------------------------------------------------------------
    def finish(self, journal: dict[str, Any] | None, crash: BaseException | None = None) -> None:
        """Play what was skipped, restore this run's faults, write the journal extension. Once."""
        if self.finished:
            return
        self.finished = True
        self.phase = "finishing"
        self._stop.set()
        journal = self.journal = journal if isinstance(journal, dict) else self.journal
        status = journal.get("status") if journal else None
        if crash is not None:
            self.interruption = self.interruption or _name(crash)
        if status == "aborted" and self.interruption is None:
            self.interruption = "exception in the method"
        elif status == "interrupted" and self.interruption is None:
            self.interruption = "interrupted"
        try:
            self._roll_back_and_restore()
        except BaseException as exc:  # a forced exit, or a failure: say what is left
            if not isinstance(exc, KeyboardInterrupt):
                self.errors.append(f"{type(exc).__name__}: {exc}")
                logger.error(f"{PREFIX} failed: {exc}")
        self.left = self._left()
        if journal is not None:
            if self.rollback_runs and not journal.get("rollbacks"):
                journal["rollbacks"] = self.rollback_runs
            journal.setdefault("extensions", []).append(self.extension())

    def _roll_back_and_restore(self) -> None:
        self.played_by = rollbacks_played_by(self.experiment)
        if not self.method_started:
            return
        interrupted = self.interruption is not None
        if interrupted and not self.skip_rollbacks and self.played_by is None:
            if self.experiment.get("rollbacks"):
                logger.warning(f"{PREFIX} the run was interrupted ({self.interruption}) and the "
                               f"rollback strategy '{self.strategy}' skips rollbacks: "
                               f"playing them now")  # fmt: skip
                self.played_by, self.rollback_runs = run_rollbacks_once(
                    self.experiment, self.configuration, self.secrets, ROLLBACKS_EXTENSION)  # fmt: skip
        if interrupted or self.played_by is not None:
            self._say_rolled_back()
        if self.skip_rollbacks or (not interrupted and self.played_by is None):
            return  # the run asked to keep its faults: say what is left, restore nothing
        if self.forced:
            return
        for item in cleanup(Ledger(), run=self.run_id):
            if item.get("removed"):
                self.restored.append(item)
                logger.warning(f"{PREFIX} restored from the ledger: {item.get('description') or item['id']}")
            elif item.get("error"):
                self.errors.append(f"{item['id']}: {item['error']}")
                logger.error(f"{PREFIX} could not restore {item['id']}: {item['error']}")

    def _say_rolled_back(self) -> None:
        runs = self.rollback_runs if self.rollback_runs is not None else (
            (self.journal or {}).get("rollbacks") or [])  # fmt: skip
        done = [f"{r.get('activity', {}).get('name')} ({r.get('status')})" for r in runs
                if isinstance(r, dict)]  # fmt: skip
        if not self.interruption:
            return
        if not self.experiment.get("rollbacks"):
            logger.warning(f"{PREFIX} run interrupted ({self.interruption}); "
                           f"the experiment declares no rollbacks")  # fmt: skip
            return
        logger.warning(f"{PREFIX} run interrupted ({self.interruption}); rolled back by "
                       f"{self.played_by or 'nobody'}: {', '.join(done) or 'nothing'}")  # fmt: skip

    def _left(self) -> list[dict[str, Any]]:
        try:
            entries = Ledger().entries()
        except Exception as exc:  # a damaged ledger: nothing can be said to be restored
            return [{"id": "ledger", "description": str(exc)}]
        return [{"id": key, "description": e.get("description", "")} for key, e in entries.items()
                if isinstance(e, dict) and e.get("run") == self.run_id]  # fmt: skip

    def message(self) -> str:
        if self.left or self.errors or self.forced:
            what = "; ".join(e["description"] or e["id"] for e in self.left) or "unknown"
            return (f"{len(self.left)} fault(s) of this run may still be in force ({what}): "
                    f"run 'chaosllm cleanup' to restore them")  # fmt: skip
        return "nothing left in force"

    def extension(self) -> dict[str, Any]:
        return {
            "name": ROLLBACKS_EXTENSION,
            "run": self.run_id,
            "interrupted_by": self.interruption,
            "rollback_strategy": self.strategy,
            "rollbacks_run_by": self.played_by,
            "restored_from_ledger": [i.get("description") or i["id"] for i in self.restored],
            "left": self.left,
            "errors": self.errors,
            "message": self.message(),
        }

    def close(self, journal: dict[str, Any] | None) -> None:
        """The very end: unregister, hand the signals back, and say last what is left."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        if self.run_id is not None:
            unregister_run(self.run_id)
        forget_rollbacks(self.experiment)
        if threading.current_thread() is threading.main_thread():
            for restore in reversed(self._restores):
                restore()
            if self.restore_handler is not None:
                self.restore_handler()
        extensions = journal.get("extensions") if isinstance(journal, dict) else None
        if isinstance(extensions, list):  # ours last, so that its message ends the journal
            ours = [e for e in extensions if isinstance(e, dict) and e.get("name") == ROLLBACKS_EXTENSION]
            extensions[:] = [e for e in extensions if e not in ours] + ours[-1:]
        if self.left or self.errors or self.forced:
            logger.error(f"{PREFIX} {self.message()}")
        elif self.interruption or self.restored:
            logger.warning(f"{PREFIX} {self.message()}")


def _name(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "SIGINT"
    if isinstance(exc, InterruptExecution):
        return f"interrupted: {exc}"
    if isinstance(exc, SystemExit):
        return f"exit signal {exc.code}"
    return f"{type(exc).__name__}: {exc}"
