"""Probes of the gateway's route to the model providers: failover and recovery.

They read the gateway's counters (``sandbox_llm_gateway_attempts_total`` by
provider and outcome, ``sandbox_llm_failovers_total``) and are applicable only
once the fault proxy in front of the primary provider had a fault in the
current load run, so that a criterion about the fault is never a pass before
it. :mod:`chaosllm.sandbox.probes` re-exports them.
"""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.errors import InvalidArgument
from chaosllm.faults import parse_duration
from chaosllm.sandbox.app import counters
from chaosllm.sandbox.app.state import run_dir
from chaosllm.slo._criterion import criterion

__all__ = ["llm_failover", "primary_answering"]

ATTEMPTS = "sandbox_llm_gateway_attempts_total"
FAILOVERS = "sandbox_llm_failovers_total"
OUTCOMES = ("retry", "stalled", "failed", "first_token_timeout")


def _not_yet(proxy: str) -> dict[str, Any]:
    return criterion(True, applicable=False, reason=f"no fault on proxy {proxy} in this run yet")


@strict
def llm_failover(
    outcome: str = "stalled",
    proxy: str = "llm-primary",
    window: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Whether the primary provider's attempts ended with `outcome` ("retry",
    "stalled", "failed" or "first_token_timeout") in `window` (default: the
    current load run) and the fallback answered (`met`), with the counts of
    every outcome. Not applicable (and `met`) before a fault on `proxy`.

    ```json
    {"type": "probe", "name": "stalled-streams-failed-over",
     "tolerance": {"type": "probe", "name": "met",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "slo_met", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "llm_failover", "arguments": {"outcome": "stalled"}}}
    ```
    """
    if outcome not in OUTCOMES:
        raise InvalidArgument(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    directory = run_dir(configuration, secrets)
    if not counters.proxy_fault_since(proxy, directory, configuration, secrets):
        return _not_yet(proxy)
    span = counters.promql_range(directory, window)
    seen = {name: round(counters.increase(ATTEMPTS, f'provider="primary",outcome="{name}"', span,
                                          configuration, secrets)) for name in OUTCOMES}
    failovers = round(counters.increase(FAILOVERS, "", span, configuration, secrets))
    return criterion(seen[outcome] > 0 and failovers > 0, window=span, primary=seen,
                     failovers=failovers)


@strict
def primary_answering(
    within: str = "30s",
    proxy: str = "llm-primary",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Whether the primary provider answered again in the last `within`
    (`met`), for "the primary is used again within 30 s of its recovery".
    Not applicable (and `met`) before a fault on `proxy`.

    ```json
    {"type": "probe", "name": "primary-used-again",
     "tolerance": {"type": "probe", "name": "met",
                   "provider": {"type": "python", "module": "chaosllm.slo.tolerances",
                                "func": "slo_met", "arguments": {}}},
     "provider": {"type": "python", "module": "chaosllm.sandbox.probes",
                  "func": "primary_answering", "arguments": {"within": "30s"}}}
    ```
    """
    seconds = parse_duration(within, "within")
    directory = run_dir(configuration, secrets)
    if not counters.proxy_fault_since(proxy, directory, configuration, secrets):
        return _not_yet(proxy)
    answers = counters.increase(ATTEMPTS, 'provider="primary",outcome="ok"',
                                f"{max(1, int(seconds))}s", configuration, secrets)
    return criterion(answers > 0, within=within, primary_answers=round(answers))
