"""A tolerance for Litmus results: the verdict is Pass and enough probes passed.

Give it the result of ``chaosllm.litmus.probes.litmus_result`` (or of
``run_litmus_fault``)::

    "tolerance": {"type": "probe", "name": "litmus-passed",
                  "provider": {"type": "python", "module": "chaosllm.litmus.tolerances",
                               "func": "litmus_passed", "arguments": {"min_probe_success": 75}}}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.litmus._result import probe_success

__all__ = ["litmus_passed"]

logger = logging.getLogger("chaostoolkit")


def litmus_passed(value: Any = None, min_probe_success: float = 100.0, allow_absent: bool = False) -> bool:
    """True when the Litmus verdict is Pass and the probe success percentage is at least `min_probe_success`.

    A result with no probe success percentage (no probes) passes on its
    verdict alone. An absent result (`phase` "absent": the fault has not run)
    fails unless `allow_absent` is true.

    ```json
    {"type": "probe", "name": "litmus-passed",
     "provider": {"type": "python", "module": "chaosllm.litmus.tolerances",
                  "func": "litmus_passed", "arguments": {"min_probe_success": 75}}}
    ```
    """
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"litmus_passed needs a Litmus result (an object), got {value!r}")
    minimum = float(min_probe_success)
    if not 0 <= minimum <= 100:
        raise InvalidArgument(f"min_probe_success must be 0..100, got {min_probe_success!r}")
    if value.get("phase") == "absent":
        logger.info("tolerance litmus_passed: no ChaosResult %s", value.get("name"))
        return bool(allow_absent)
    percent = probe_success(value.get("probe_success_percentage"))
    passed = value.get("verdict") == "Pass" and (percent is None or percent >= minimum)
    if not passed:
        logger.info("tolerance litmus_passed: verdict %s, probe success %s%% (minimum %g%%)",
                    value.get("verdict") or "none", "none" if percent is None else f"{percent:g}", minimum)
    return passed
