"""A run whose SLO file declares guard conditions must have a guard control.

The Kubernetes scenarios declare only the blast-radius control; their guard,
metrics, rollbacks and redact controls come from a control file
(``chaos run --control-file experiments/settings/k8s-controls.yaml``). Run
without it, their faults would run with no abort guard. So the blast-radius
control, before the first activity, refuses a run when:

- the run's SLO file (the setting ``slo_file`` as :mod:`chaosllm.slo.refs`
  resolves it for the guard: secrets, configuration key ``slo_file``,
  ``$CHAOSLLM_SLO_FILE``) declares a non-empty ``guard`` list, and
- no guard control (:mod:`chaosllm.controls.guard`) is part of the run: neither
  declared by the experiment nor among Chaos Toolkit's global controls.

With a guard in the run, the SLO file is the guard's business (it refuses a
file it cannot read). With none, an SLO file that cannot be read refuses the
run too: whether it asks for a guard cannot be told, and nothing else reports
it before the first activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosllm.controls._experiment import flat_secrets
from chaosllm.controls._global import runs_control
from chaosllm.errors import ConfigurationError

__all__ = ["GUARD_MODULE", "CONTROL_FILE", "check_guarded"]

GUARD_MODULE = "chaosllm.controls.guard"
# The control file of the Kubernetes scenarios, the usual fix.
CONTROL_FILE = "experiments/settings/k8s-controls.yaml"
_FIX = (f"add --control-file {CONTROL_FILE} (or declare {GUARD_MODULE} in the experiment)")


def check_guarded(experiment: Any, configuration: Any = None, secrets: Any = None) -> None:
    """Raise ``InterruptExecution`` when the run's SLO file declares guard
    conditions and no guard control is part of the run."""
    from chaosllm.settings import find_setting
    from chaosllm.slo.refs import SETTING, slo_file_setting

    flat = flat_secrets(secrets)
    slo_file = slo_file_setting({}, configuration, flat)
    if not slo_file or runs_control(experiment, GUARD_MODULE):
        return
    title = experiment.get("title") if isinstance(experiment, Mapping) else None
    who = f"experiment {title!r}" if title else "the experiment"
    from chaosllm.slo.spec import load_slo_file

    try:
        guard = load_slo_file(str(slo_file)).guard
    except ConfigurationError as exc:
        place = find_setting(SETTING, None, configuration, flat)[1]
        raise InterruptExecution(
            f"{who}: no guard control runs, and whether its SLO file ({place}) declares guard "
            f"conditions cannot be told: {exc}; fix the setting or the file, or {_FIX}") from None
    if guard:
        raise InterruptExecution(f"{who}: its SLO file {slo_file} declares guard conditions, but no "
                                 f"guard control runs: {_FIX}")  # fmt: skip
