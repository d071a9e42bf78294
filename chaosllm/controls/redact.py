"""Secrets out of the journal: the redacting control.

Chaos Toolkit writes into the journal a copy of the experiment as it was
loaded (``journal["experiment"]``), with the inline values of its
``secrets`` block, the credentials of URLs given inline in its
``configuration`` or activity arguments, and a title that may have had a
secret substituted into it. This control rewrites that copy, and masks known
secrets in the rest of the journal, at the end of the run, before Chaos
Toolkit writes the journal file. Declare it as the last entry of an
experiment's ``controls`` block (every shipped experiment does), or under
``controls`` in the Chaos Toolkit settings file to cover every run (it takes no
arguments)::

    {"name": "chaosllm-redact",
     "provider": {"type": "python", "module": "chaosllm.controls.redact"}}

In ``journal["experiment"]`` it masks (with ``***``):

- every inline value of the ``secrets`` block; references (``{"type": "env",
  "key": "PROM_TOKEN"}``, Vault) are kept, as they hold no secret;
- everything under a secret-looking key (``password``, ``token``,
  ``api_key``, ``auth``, ...) anywhere in the experiment, the password of every
  URL and DSN, ``key=value`` secrets, ``Authorization`` headers and bearer
  tokens (:mod:`chaosllm.redaction`).

In the whole journal (the copy of the experiment, activity outputs and errors
and the steady-state probes, rollbacks and extensions) it masks every known
secret value of 6 characters or more wherever it appears: the run's resolved
secrets, and configuration values under a secret-looking key. URL passwords
and the other patterns above are masked in activity outputs and errors too.
The experiment itself, which the rest of the run uses, is never changed: the
journal gets a redacted copy.

It redacts the journal at the end of the experiment, and once more at the
run's last event, after every control's end of the experiment, so that what
the other controls add to the journal is covered too, wherever they are
declared (the settings file's controls come before the experiment's).

From its set-up (before the steady-state check) to the end of the run, it
also filters Chaos Toolkit's console and log (``chaostoolkit.log``): every
record is written with the known secrets and the patterns above masked, in
its message and its traceback. chaosllm's own activities put no secret in
what they return or raise; this covers the others (an exception of another
extension that quotes its argument, a result logged at DEBUG).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from chaoslib.exceptions import InvalidActivity

from chaosllm.controls._failclosed import protect
from chaosllm.redaction import MASK, redact_value, secret_key

__all__ = ["MIN_KNOWN_SECRET", "SecretFilter", "validate_control", "configure_control",
           "after_experiment_control", "cleanup_control", "known_secrets", "redact_journal"]

logger = logging.getLogger("chaostoolkit")
# Shorter values are not searched for everywhere (they would mask ordinary
# words); they are still masked where they are declared, and in URLs.
MIN_KNOWN_SECRET = 6
# References to a secret kept elsewhere: they hold no secret themselves.
_REFERENCES = ("env", "vault")
# The parts of a journal that record what ran.
_RUN_PARTS = ("run", "rollbacks", "steady_states", "extensions")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def known_secrets(
    secrets: Mapping[str, Any] | None, configuration: Mapping[str, Any] | None = None,
    declared: Any = None,
) -> frozenset[str]:
    """The secret values to mask wherever they appear: the resolved secrets,
    configuration values under a secret-looking key, and the inline values of
    an experiment's ``secrets`` block (``declared``)."""
    found = set(_strings(secrets or {}))
    for key, value in (configuration or {}).items():
        if isinstance(key, str) and secret_key(key):
            found.update(_strings(value))
    found.update(_strings(_inline_secrets(declared)))
    return frozenset(s for s in found if len(s) >= MIN_KNOWN_SECRET)


def _is_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") in _REFERENCES


def _inline_secrets(declared: Any) -> Any:
    """The inline values of a ``secrets`` block (scope -> key -> value)."""
    if not isinstance(declared, Mapping):
        return declared
    return [value for scope in declared.values() if isinstance(scope, Mapping)
            for value in scope.values() if not _is_reference(value)]


def _mask_secrets_block(declared: Any) -> Any:
    if not isinstance(declared, Mapping):
        return MASK if declared is not None else None
    masked: dict[str, Any] = {}
    for scope, keys in declared.items():
        if not isinstance(keys, Mapping):
            masked[scope] = MASK
            continue
        masked[scope] = {key: (redact_value(value) if _is_reference(value) else MASK)
                         for key, value in keys.items()}
    return masked


def redact_journal(
    journal: dict[str, Any],
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> None:
    """Replace, in ``journal``, the copy of the experiment and the record of the
    run by redacted copies (the objects they shared with the run are not touched)."""
    experiment = journal.get("experiment")
    known = known_secrets(secrets, configuration,
                          experiment.get("secrets") if isinstance(experiment, Mapping) else None)
    if isinstance(experiment, Mapping):
        copy = redact_value({k: v for k, v in experiment.items() if k != "secrets"}, known)
        if "secrets" in experiment:  # its references are kept: not under a blanket mask
            copy["secrets"] = _mask_secrets_block(experiment["secrets"])
        journal["experiment"] = copy
    for part in _RUN_PARTS:
        if part in journal:
            journal[part] = redact_value(journal[part], known, keys=False)


class SecretFilter(logging.Filter):
    """Masks the known secrets, and what :mod:`chaosllm.redaction` hides, in every
    record a log handler writes: messages and tracebacks."""

    def __init__(self, known: frozenset[str]) -> None:
        super().__init__("chaosllm-redact")
        self.known = known

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = redact_value(message, self.known, keys=False)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_value(record.exc_text, self.known, keys=False)
        return True


# The filter in place for this run, and the handlers that carry it.
_installed: dict[str, Any] = {"filter": None, "handlers": []}


def _log_handlers() -> list[logging.Handler]:
    handlers = [*logging.getLogger("chaostoolkit").handlers, *logging.getLogger().handlers]
    return list(dict.fromkeys(handlers))


def _observer(configuration: Any, secrets: Any) -> Any:
    """Redacts the journal once more at the run's last event, after every control's
    end of the experiment: what controls declared after this one added is covered
    too (a control of the settings file runs before the experiment's)."""
    from chaoslib.run import RunEventHandler

    class Observer(RunEventHandler):  # type: ignore[misc]
        def finish(self, journal: Any) -> None:
            if isinstance(journal, dict):
                try:
                    _redact(journal, secrets, configuration)
                except Exception as exc:  # noqa: BLE001 - the journal is masked; say why
                    logger.error(f"chaosllm-redact could not redact the journal: {type(exc).__name__}")

    return Observer()


def configure_control(
    experiment: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    event_registry: Any = None,
    **kwargs: Any,
) -> None:
    """Mask this run's known secrets in Chaos Toolkit's console and log from now on."""
    _remove_filter()
    if event_registry is not None:
        event_registry.register(_observer(configuration, secrets))
    declared = experiment.get("secrets") if isinstance(experiment, Mapping) else None
    log_filter = SecretFilter(known_secrets(secrets, configuration, declared))
    handlers = _log_handlers()
    for handler in handlers:
        handler.addFilter(log_filter)
    _installed.update(filter=log_filter, handlers=handlers)


def _remove_filter() -> None:
    for handler in _installed["handlers"]:
        handler.removeFilter(_installed["filter"])
    _installed.update(filter=None, handlers=[])


def cleanup_control() -> None:
    """The run is over: its log filter goes."""
    _remove_filter()


def validate_control(control: dict[str, Any]) -> None:
    """The control takes no arguments: refuse any, so that a typo is not ignored."""
    arguments = control.get("provider", {}).get("arguments") or {}
    if arguments:
        raise InvalidActivity(f"chaosllm redact takes no arguments, got {sorted(arguments)}")


def after_experiment_control(
    context: Any,
    state: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Redact the journal (``state``) before Chaos Toolkit writes it.

    Should redaction fail (a journal nested too deep to walk, say), the parts
    it could not redact are replaced by a note rather than written as they
    are, and the failure is reported as every control failure is (the run is
    marked interrupted, see :mod:`chaosllm.controls._failclosed`).
    """
    if isinstance(state, dict):
        _redact(state, secrets, configuration)


def _redact(journal: dict[str, Any], secrets: Any, configuration: Any) -> None:
    try:
        redact_journal(journal, secrets, configuration)
    except Exception as exc:  # write nothing unredacted
        note = f"{MASK} (chaosllm-redact could not redact this part: {type(exc).__name__})"
        journal["experiment"] = {"title": MASK, "redacted": note}
        for part in _RUN_PARTS:
            if part in journal:
                journal[part] = note
        raise


protect(globals(), "chaosllm-redact", one_per_run=True)
