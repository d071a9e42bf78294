"""The blast-radius control checks Litmus faults before the run starts, from their arguments alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm.controls import _failclosed
from chaosllm.controls.blast_radius import before_experiment_control
from chaosllm.litmus import actions


@pytest.fixture(autouse=True)
def _forget_refusals() -> Iterator[None]:
    """The fail-closed wrapper keeps this process's refusals for the run's journal: drop them."""
    yield
    _failclosed._new_run({})


def _experiment(**arguments: Any) -> dict[str, Any]:
    provider = {"type": "python", "module": "chaosllm.litmus.actions", "func": "run_litmus_fault",
                "arguments": {"fault": "pod-delete", "app_label": "app=web", "duration": "30s",
                              "namespace": "shop", **arguments}}
    return {"title": "t", "method": [{"type": "action", "name": "kill-web", "provider": provider}]}


def test_a_litmus_fault_outside_the_policy_interrupts_the_run_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOSLLM_BLAST_RADIUS", raising=False)
    policy = {"allowed_namespaces": ["shop"], "max_percent": 50}
    before_experiment_control(_experiment(env={"PODS_AFFECTED_PERC": "50"}), policy=policy)
    with pytest.raises(InterruptExecution, match="activity 'kill-web' refused: .*namespace payments is not"):
        before_experiment_control(_experiment(app_namespace="payments"), policy=policy)
    with pytest.raises(InterruptExecution, match="reaches 80% of the selected pods"):
        before_experiment_control(_experiment(env={"PODS_AFFECTED_PERC": "80"}), policy=policy)


def test_the_renderer_builds_the_engine_without_a_cluster() -> None:
    [engine] = actions.RENDERERS["run_litmus_fault"](fault="pod-delete", app_label={"app": "web"},
                                                     duration="1m", namespace="shop")
    assert engine["kind"] == "ChaosEngine" and engine["metadata"]["name"] == "pod-delete-web"
    assert engine["spec"]["experiments"][0]["spec"]["components"]["env"] == [
        {"name": "TOTAL_CHAOS_DURATION", "value": "60"}]
