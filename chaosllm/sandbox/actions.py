"""Sandbox actions: start and stop the open-loop load generator.

The sandbox is found through ``sandbox_dir`` (argument, secrets,
configuration or ``CHAOSLLM_SANDBOX_DIR``), by default
``$CHAOSLLM_STATE_DIR/sandbox``. A load an experiment starts is a fault
of the run (scenario 5 floods ml-recs with one): ``start_load`` returns a
fault handle (kind ``sandbox-load``) and ``stop_load`` says when it ended,
so that a report shows its real window and the time to recover from it.
"""

from __future__ import annotations

from typing import Any

from chaosllm.arguments import strict
from chaosllm.errors import InvalidArgument
from chaosllm.faults import fault_handle, parse_duration
from chaosllm.faults.effects import counted, ended, unknown
from chaosllm.sandbox.app import loadrun
from chaosllm.sandbox.app.state import read_state, run_dir

__all__ = ["start_load", "stop_load"]

ROLLBACKS = {"start_load": "stop_load"}


@strict
def start_load(
    rate: float = 20.0,
    duration: str = "60s",
    target: str = "gateway",
    mix: str | None = None,
    name: str = "load",
    max_requests: int | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start open-loop load at `rate` requests/s for at most `duration`.

    `target` is "gateway" (the GraphQL front, with the operation `mix`, e.g.
    "catalog=45,tenants=15,recommendations=20,order=20") or "recs" (ml-recs
    directly, to overload it). A run with the same `name` is stopped first;
    its results are replaced. Stop it early with `stop_load`. Its `effect`
    is "unknown" until then: `stop_load` counts the requests it sent.

    ```json
    {"type": "action", "name": "overload-recommendations",
     "provider": {"type": "python", "module": "chaosllm.sandbox.actions",
                  "func": "start_load",
                  "arguments": {"rate": 150, "duration": "25s", "target": "recs",
                                "name": "flood"}}}
    ```
    """
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 2000:
        raise InvalidArgument(f"rate must be between 0 and 2000 requests/s, got {rate!r}")
    seconds = parse_duration(duration)
    if target not in ("gateway", "recs"):
        raise InvalidArgument(f"target must be 'gateway' or 'recs', got {target!r}")
    directory = run_dir(configuration, secrets)
    state = read_state(directory)
    service = state["services"]["gateway" if target == "gateway" else "ml-recs"]
    stop_load(name, configuration, secrets)
    pid = loadrun.start(directory, name, service["url"], rate, seconds, target, mix, max_requests)
    handle = fault_handle("sandbox-load", name, target, {"rate": rate, "duration": duration, "mix": mix},
                          seconds)
    handle.update(pid=pid, rate=rate, duration=duration,
                  results=str(loadrun.results_path(directory, name)))
    return unknown(handle, "requests are counted when the load stops (stop_load)")


@strict
def stop_load(
    name: str = "load",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stop load run `name` (requests in flight finish) and summarise it.

    Stopping a run that already ended returns its summary with
    `"stopped": false`. Its `effect` is "observed" when the run sent at
    least one request, "none" when it sent none (the `evidence` holds
    `requests_sent` and `requests_failed`, read from the run's results).

    ```json
    {"type": "action", "name": "stop-flood",
     "provider": {"type": "python", "module": "chaosllm.sandbox.actions",
                  "func": "stop_load", "arguments": {"name": "flood"}}}
    ```
    """
    directory = run_dir(configuration, secrets)
    summary: dict[str, Any] = {"name": name, "stopped": loadrun.stop(directory, name)}
    if loadrun.results_path(directory, name).exists():
        summary.update(loadrun.summarise(loadrun.read_results(directory, name)))
    sent = int(summary.get("requests") or 0)
    evidence: dict[str, Any] = {"requests_sent": sent, "requests_failed": int(summary.get("failed") or 0)}
    if sent == 0:
        evidence["reason"] = f"load run {name!r} sent no request"
    return ended(counted(summary, sent, evidence), "sandbox-load", name, summary["stopped"])
