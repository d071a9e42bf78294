"""The blast-radius control: refuses an experiment whose targets break the policy.

The policy itself (what it may contain, its rules, and how a manifest is
checked) lives in :mod:`chaosllm.chaosmesh.policy`; its names are re-exported
here for experiments and code that import them from this module. The policy
comes from configuration (key ``blast_radius``, or the control's ``policy``
argument, or ``$CHAOSLLM_BLAST_RADIUS`` as JSON)::

    {"blast_radius": {"allowed_namespaces": ["shop", "staging-*"],
                      "forbidden_namespaces": ["payments"],
                      "required_labels": {"chaos-ready": "true"},
                      "max_percent": 50, "max_count": 3}}

The Chaos Mesh actions enforce it on every manifest they are about to create,
and the application actions (Redis, PostgreSQL, RabbitMQ, proxy, process) on
what they touch (:mod:`chaosllm.app_policy`, the policy's ``redis``,
``postgres``, ``rabbitmq``, ``proxy`` and ``process`` sections). As a Chaos
Toolkit control, this module checks every Chaos Mesh and application action
of an experiment, from its static arguments, before the run starts, and
interrupts the run on a violation, so that nothing has changed::

    "controls": [{"name": "blast-radius",
                  "provider": {"type": "python", "module": "chaosllm.controls.blast_radius"}}]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import InterruptExecution

from chaosllm.app_policy import AppPolicy, app_policy_from, check_target
from chaosllm.chaosmesh.actions import RENDERERS
from chaosllm.chaosmesh.policy import (
    ALWAYS_FORBIDDEN,
    Policy,
    enforce,
    policy_from,
    selections,
    violations,
)
from chaosllm.controls._app_activities import MODULES, is_fault, touches_of
from chaosllm.controls._failclosed import protect
from chaosllm.errors import ChaosLLMError, ConfigurationError
from chaosllm.litmus.actions import RENDERERS as LITMUS_RENDERERS

__all__ = [
    "Policy",
    "ALWAYS_FORBIDDEN",
    "policy_from",
    "selections",
    "violations",
    "enforce",
    "configure_control",
    "before_experiment_control",
]

CHAOSMESH_ACTIONS = "chaosllm.chaosmesh.actions"
# The modules whose actions create Kubernetes objects, with their side-effect-free renderers.
KUBERNETES_RENDERERS = {CHAOSMESH_ACTIONS: RENDERERS, "chaosllm.litmus.actions": LITMUS_RENDERERS}


def configure_control(
    policy: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Refuse a malformed policy when the experiment is loaded.

    It also records the experiment's title as ``experiment_title`` in the
    configuration (unless set), which the Chaos Mesh actions write into the
    ``chaosllm.io/experiment`` annotation of every object they create.
    """
    try:
        policy_from(policy, configuration, secrets)
        app_policy_from(policy, configuration, secrets)
    except ConfigurationError as exc:
        raise InterruptExecution(str(exc)) from exc
    if isinstance(configuration, dict) and experiment and experiment.get("title"):
        configuration.setdefault("experiment_title", str(experiment["title"]))


def _activities(experiment: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    for group in (hypothesis.get("probes"), experiment.get("method"), experiment.get("rollbacks")):
        for activity in group or []:
            if isinstance(activity, Mapping) and "provider" in activity:
                yield activity


def before_experiment_control(
    context: dict[str, Any],
    policy: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Check every Chaos Mesh, Litmus and application action's targets; interrupt the run on a violation."""
    try:
        rules = policy_from(policy, configuration, secrets)
        app_rules = app_policy_from(policy, configuration, secrets)
    except ConfigurationError as exc:
        raise InterruptExecution(str(exc)) from exc
    for activity in _activities(context):
        provider = activity["provider"]
        if provider.get("type") == "python" and provider.get("module") in MODULES:
            _check_application(activity, app_rules, configuration, secrets)
            continue
        # Probes and the other chaosmesh and litmus modules create nothing, so only actions are checked.
        renderers = KUBERNETES_RENDERERS.get(str(provider.get("module")))
        if provider.get("type") != "python" or renderers is None:
            continue
        arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets)
        name = activity.get("name", provider.get("func"))
        try:
            render = renderers.get(str(provider.get("func")))
            manifests = render(**arguments, configuration=configuration, secrets=secrets) if render else []
            for manifest in manifests:
                enforce(manifest, rules)
        except ChaosLLMError as exc:
            raise InterruptExecution(f"activity '{name}' refused: {exc}") from exc


def _check_application(
    activity: Mapping[str, Any],
    policy: AppPolicy,
    configuration: dict[str, Any] | None,
    secrets: dict[str, Any] | None,
) -> None:
    """Interrupt the run if one application fault's static arguments break ``policy``."""
    provider = activity["provider"]
    backend, func = MODULES[provider["module"]], str(provider.get("func"))
    if not is_fault(backend, func):
        return
    arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets)
    try:
        target, touches = touches_of(backend, func, arguments, configuration, secrets)
        check_target(backend, func, target, policy=policy, **touches)
    except ChaosLLMError as exc:
        raise InterruptExecution(f"activity '{activity.get('name', func)}' refused: {exc}") from exc


protect(globals(), "chaosllm-blast-radius")
