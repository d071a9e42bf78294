"""The blast-radius policy on its own: parsing and each rule."""

from __future__ import annotations

from typing import Any

import pytest

from chaosllm.chaosmesh import actions
from chaosllm.chaosmesh.policy import ALWAYS_FORBIDDEN, Selection, check, policy_from, violations
from chaosllm.errors import ConfigurationError


def _pods(**kwargs: Any) -> dict[str, Any]:
    return actions.kill_pods.render(namespace="shop", duration="10s", **kwargs)


def test_policy_sources_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert policy_from().forbidden_namespaces == ALWAYS_FORBIDDEN
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", '{"max_count": 1, "forbidden_namespaces": ["pay*"]}')
    policy = policy_from()
    assert policy.max_count == 1 and policy.forbidden_namespaces == ("kube-system", "pay*")
    assert policy_from({"max_percent": 25}).max_percent == 25.0  # the argument wins
    with pytest.raises(ConfigurationError, match="unknown field"):
        policy_from({"max_pod": 1})
    with pytest.raises(ConfigurationError, match=r"field 'max_count' must be .*, got 'many' \(rule: type"):
        policy_from({"max_count": "many"})


@pytest.mark.parametrize(("where", "expected"), [
    ({"policy": {"max_pod": 1}},
     r"blast_radius from the control's policy argument breaks blast_radius.schema.json: unknown field\(s\) "
     r"'max_pod' \(allowed: allowed_namespaces, forbidden_namespaces, required_labels, max_percent, "
     r"max_count, redis, postgres, rabbitmq, proxy, process, stress\) \(rule: additionalProperties\)"),
    ({"configuration": {"blast_radius": {"max_percent": "half"}}},
     r"from configuration key blast_radius .*: field 'max_percent' must be the largest share .*, "
     r"got 'half' \(rule: type\)"),
    ({"secrets": {"blast_radius": {"max_count": -1}}},
     r"from secrets key blast_radius .*: field 'max_count' must be .*, got -1 \(rule: minimum\)"),
    ({"configuration": {"blast_radius": {"allowed_namespaces": "shop"}}},
     r"field 'allowed_namespaces' must be a list of namespace glob patterns.*, got 'shop' \(rule: type\)"),
    ({"configuration": {"blast_radius": {"forbidden_namespaces": ["ok", 7]}}},
     r"field 'forbidden_namespaces.1': 7 is not of type 'string' \(rule: type\)"),
    ({"configuration": {"blast_radius": {"required_labels": {"chaos-ready": True}}}},
     r"field 'required_labels.chaos-ready': True is not of type 'string', 'number'"),
    ({"configuration": {"blast_radius": "{not json"}},
     r"blast_radius from configuration key blast_radius is not valid JSON"),
    ({"configuration": {"blast_radius": ["shop"]}},
     r"breaks blast_radius.schema.json: \['shop'\] is not of type 'object' \(rule: type\)"),
    ({"configuration": {"blast_radius": {"required_labels": "chaos-ready"}}},
     r"blast_radius from configuration key blast_radius: blast_radius.required_labels 'chaos-ready'"),
])
def test_policy_errors_name_the_source_the_key_and_the_rule(where: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        policy_from(**where)


def test_every_error_is_listed_and_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_BLAST_RADIUS", '{"max_count": 1.5, "max_percent": true}')
    with pytest.raises(ConfigurationError) as raised:
        policy_from()
    message = str(raised.value)
    assert message.startswith("blast_radius from $CHAOSLLM_BLAST_RADIUS breaks blast_radius.schema.json: ")
    assert "field 'max_count' must be the most pods a fault may reach, a whole number such as 3, got 1.5" in (
        message)
    assert ("; field 'max_percent' must be the largest share of the selected pods a fault may reach, "
            "a number from 0 to 100 such as 50, got True (rule: type)") in message


def test_null_keys_mean_no_limit() -> None:
    policy = policy_from({"allowed_namespaces": None, "forbidden_namespaces": None,
                          "required_labels": None, "max_percent": None, "max_count": None})
    assert policy == policy_from({})


def test_the_control_module_re_exports_the_policy() -> None:
    from chaosllm.chaosmesh import policy
    from chaosllm.controls import blast_radius

    for name in ("Policy", "ALWAYS_FORBIDDEN", "policy_from", "selections", "violations", "enforce"):
        assert getattr(blast_radius, name) is getattr(policy, name)


def test_the_rules_take_any_list_of_selections() -> None:
    targets = [Selection("engine a", ("shop",), {"chaos-ready": "true"}, mode="fixed-percent", value="60"),
               Selection("engine b", ("payments",), mode="one")]
    found = check(targets, policy_from({"forbidden_namespaces": ["payments"], "max_percent": 50,
                                        "required_labels": "chaos-ready=true", "max_count": 4}),
                  {"engine a": 10})
    assert found == [
        "engine a: mode fixed-percent reaches 60% of the selected pods, more than max_percent 50%",
        "engine a: mode fixed-percent reaches 6 pod(s), more than max_count 4",
        "engine b: namespace payments is forbidden",
        "engine b: selector does not require the opt-in label chaos-ready=true",
    ]


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


def test_submitting_a_fault_never_reaches_the_controls() -> None:
    from tests.contract.test_imports import graph

    edges = graph()
    reached, todo = set(), ["chaosllm.chaosmesh.actions", "chaosllm.chaosmesh.probes"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(edge.target for edge in edges[module])
    assert "chaosllm.chaosmesh.policy" in reached
    assert not [m for m in reached if m.startswith("chaosllm.controls")]
