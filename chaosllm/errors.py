"""The one exception tree of chaosllm.

Every error an activity raises derives from chaoslib's ``ActivityFailed`` so
that Chaos Toolkit records it as a failed activity::

    ActivityFailed (chaoslib)
     └── ChaosLLMError
          ├── InvalidArgument     bad input, refused before anything changed
          ├── ConfigurationError  a setting is missing or malformed
          ├── TargetUnreachable   could not connect within the timeout
          ├── TargetNotFound      the queue, table, role, proxy or object is absent
          ├── FaultFailed         the backend refused or failed the fault
          ├── NotInjected         a fault was created but never confirmed
          ├── PolicyViolation     a safety policy refused the activity
          └── CriterionNotMet     a method probe's criterion did not hold

Backend exceptions are translated once, in ``chaosllm._clients``, with
``raise ... from``.
"""

from __future__ import annotations

from chaoslib.exceptions import ActivityFailed

__all__ = [
    "ChaosLLMError",
    "InvalidArgument",
    "ConfigurationError",
    "TargetUnreachable",
    "TargetNotFound",
    "FaultFailed",
    "NotInjected",
    "PolicyViolation",
    "CriterionNotMet",
]


class ChaosLLMError(ActivityFailed):
    """Base of every chaosllm error."""


class InvalidArgument(ChaosLLMError):
    """An argument is malformed or out of range; nothing was changed."""


class ConfigurationError(ChaosLLMError):
    """A required setting is missing or malformed."""


class TargetUnreachable(ChaosLLMError):
    """The target could not be reached within its connect timeout."""


class TargetNotFound(ChaosLLMError):
    """The named queue, table, role, proxy or object does not exist."""


class FaultFailed(ChaosLLMError):
    """The backend refused the fault, or failed while applying it."""


class NotInjected(ChaosLLMError):
    """A fault was requested but its injection was never confirmed."""


class PolicyViolation(ChaosLLMError):
    """A safety policy (blast radius, approval) refused the activity."""


class CriterionNotMet(ChaosLLMError):
    """A probe's criterion did not hold (a method probe fails the run with it)."""
