"""The blast-radius policy on its own: parsing and each rule."""

from __future__ import annotations

from typing import Any

import pytest

from chaosllm.chaosmesh import actions
from chaosllm.controls.blast_radius import ALWAYS_FORBIDDEN, policy_from, violations
from chaosllm.errors import ConfigurationError


def _pods(**kwargs: Any) -> dict[str, Any]:
    return actions.kill_pods.render(namespace="shop", duration="10s", **kwargs)


def test_policy_sources_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert policy_from().forbidden_namespaces == ALWAYS_FORBIDDEN
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", '{"max_count": 1, "forbidden_namespaces": ["pay*"]}')
    policy = policy_from()
    assert policy.max_count == 1 and policy.forbidden_namespaces == ("kube-system", "pay*")
    assert policy_from({"max_percent": "25"}).max_percent == 25.0  # the argument wins
    with pytest.raises(ConfigurationError, match="unknown key"):
        policy_from({"max_pod": 1})
    with pytest.raises(ConfigurationError, match="must be numbers"):
        policy_from({"max_count": "many"})


@pytest.mark.parametrize(("policy", "kwargs", "expected"), [
    ({}, {"namespaces": ["kube-system"]}, ["namespace kube-system is forbidden"]),
    ({"forbidden_namespaces": ["pay*"]}, {"namespaces": ["payments"]}, ["namespace payments is forbidden"]),
    ({"allowed_namespaces": ["shop", "stage-*"]}, {"namespaces": ["stage-1", "prod"]},
     ["namespace prod is not in allowed namespaces shop, stage-*"]),
    ({"required_labels": "chaos-ready=true"}, {"label_selectors": "app=web"},
     ["does not require the opt-in label chaos-ready=true"]),
    ({"required_labels": {"chaos-ready": "true"}},
     {"label_selectors": "chaos-ready=true", "selector": {"pods": {"shop": ["web-1"]}}},
     ["names pods explicitly"]),
    ({"max_percent": 30}, {"mode": "all"}, ["reaches 100% of the selected pods"]),
    ({"max_percent": 30}, {"mode": "fixed-percent", "value": "40"}, ["reaches 40%"]),
    ({"max_percent": 30}, {"mode": "random-max-percent", "value": "30"}, []),
    ({"max_count": 2}, {"mode": "fixed", "value": "3"}, ["reaches 3 pod(s), more than max_count 2"]),
    ({"max_count": 1}, {"mode": "one"}, []),
    ({"max_count": 1}, {"mode": "all"}, []),  # unknown without a pod count
])
def test_rules(policy: dict[str, Any], kwargs: dict[str, Any], expected: list[str]) -> None:
    found = violations(_pods(**kwargs), policy_from(policy))
    assert len(found) == len(expected), found
    for fragment, message in zip(expected, found, strict=True):
        assert fragment in message


def test_pod_counts_apply_per_selection() -> None:
    manifest = _pods(mode="fixed-percent", value="50")
    policy = policy_from({"max_count": 2})
    where = "PodChaos pod-kill-shop"
    assert violations(manifest, policy, {where: 4}) == []
    assert "reaches 3 pod(s)" in violations(manifest, policy, {where: 5})[0]
