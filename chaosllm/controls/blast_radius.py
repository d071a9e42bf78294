"""The blast-radius control: refuses an experiment whose targets break the policy.

The policy is the one :func:`chaosllm.blast_radius.blast_radius_from` finds:
the control's own ``policy`` argument first, then a blast-radius control
declared in the settings file, secrets, configuration (key
``blast_radius``) and ``$CHAOSLLM_BLAST_RADIUS`` as JSON. Its Chaos Mesh rules live in
:mod:`chaosllm.chaosmesh.policy` (re-exported here), its application rules in
:mod:`chaosllm.app_policy`::

    {"blast_radius": {"allowed_namespaces": ["shop", "staging-*"],
                      "forbidden_namespaces": ["payments"],
                      "required_labels": {"chaos-ready": "true"},
                      "max_percent": 50, "max_count": 3,
                      "redis": {"key_patterns": ["sandbox:*"]}}}

Every action checks the policy itself before its first change. When the
control is given a ``policy`` argument, ``configure_control`` hands it to
every action of the run (configuration key ``chaosllm_blast_radius_control``),
so that the actions enforce the same policy as the control. Before the run
starts, the control checks every activity that resolves to a Chaos Mesh, Litmus or
application fault, whatever module path names it, from its static arguments,
and interrupts the run on a violation, so that nothing has changed::

    "controls": [{"name": "blast-radius",
                  "provider": {"type": "python", "module": "chaosllm.controls.blast_radius",
                               "arguments": {"policy": {"max_count": 3}}}}]

Before the run starts it also refuses a run whose SLO file (the setting
``slo_file``) declares ``guard`` conditions when no guard control is part of
the run (:mod:`chaosllm.controls._guard_required`): the Kubernetes scenarios
get their guard from ``--control-file experiments/settings/k8s-controls.yaml``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import InterruptExecution

from chaosllm.app_policy import AppPolicy, app_policy_from, check_target
from chaosllm.blast_radius import run_scoped
from chaosllm.chaosmesh import actions as chaosmesh_actions
from chaosllm.chaosmesh.actions import RENDERERS
from chaosllm.chaosmesh.policy import (
    ALWAYS_FORBIDDEN,
    Policy,
    enforce,
    policy_from,
    selections,
    violations,
)
from chaosllm.controls._app_activities import MODULES, covered, touches_of
from chaosllm.controls._failclosed import protect
from chaosllm.controls._guard_required import check_guarded
from chaosllm.errors import ChaosLLMError, ConfigurationError
from chaosllm.litmus import actions as litmus_actions

__all__ = [
    "Policy",
    "ALWAYS_FORBIDDEN",
    "policy_from",
    "selections",
    "violations",
    "enforce",
    "configure_control",
    "before_experiment_control",
    "check_experiment",
]

# The actions that create Kubernetes objects, with their side-effect-free renderers.
KUBERNETES_RENDERERS = {"chaosmesh": (chaosmesh_actions, RENDERERS),
                        "litmus": (litmus_actions, litmus_actions.RENDERERS)}  # fmt: skip
# The covered actions by the function object they are: (backend, action name).
_INDEX: dict[int, tuple[str, str]] = {}


def configure_control(
    policy: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Refuse a malformed policy when the experiment is loaded, and hand the
    control's ``policy`` argument to every action of the run.

    It also records the experiment's title as ``experiment_title`` in the
    configuration (unless set), which the Chaos Mesh actions write into the
    ``chaosllm.io/experiment`` annotation of every object they create.
    """
    try:
        run_scoped(policy, configuration)
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


def _index() -> dict[int, tuple[str, str]]:
    if not _INDEX:
        for backend, (actions, renderers) in KUBERNETES_RENDERERS.items():
            for name in renderers:
                _INDEX[id(getattr(actions, name))] = (backend, name)
        for path, backend in MODULES.items():
            loaded = importlib.import_module(path)
            for name in covered(backend, list(loaded.__all__)):
                _INDEX[id(getattr(loaded, name))] = (backend, name)
    return _INDEX


def resolve(provider: Mapping[str, Any]) -> tuple[str, str] | None:
    """The covered action a Python provider calls, by the function it resolves to:
    ``(backend, action)``, or None. ``chaosllm.chaosmesh._pod.kill_pods`` is
    ``("chaosmesh", "kill_pods")`` as much as ``chaosllm.chaosmesh.actions.kill_pods``;
    ``chaosllm.litmus.actions.run_litmus_fault`` is ``("litmus", "run_litmus_fault")``."""
    if provider.get("type") != "python":
        return None
    try:
        func: Callable[..., Any] = getattr(importlib.import_module(str(provider.get("module"))),
                                           str(provider.get("func")))
    except (ImportError, AttributeError, ValueError, TypeError):
        return None  # Chaos Toolkit refuses the activity itself
    if not str(getattr(func, "__module__", "")).startswith("chaosllm."):
        return None
    return _index().get(id(func))


def before_experiment_control(
    context: dict[str, Any],
    policy: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Check every Chaos Mesh, Litmus and application action's targets, and that the
    guard the SLO file asks for runs; interrupt the run on a violation."""
    check_experiment(context, policy, configuration, secrets)
    check_guarded(context, configuration, secrets)


def check_experiment(
    experiment: Mapping[str, Any],
    policy: Mapping[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> None:
    """Raise ``InterruptExecution`` naming the first activity of ``experiment`` that breaks the policy.

    The policy check the control runs before an experiment (not the guard check of
    :func:`before_experiment_control`); ``chaosllm workflow`` runs it
    on every experiment of a pipeline before rendering it.
    """
    try:
        policy_from(policy, configuration, secrets)
        app_policy_from(policy, configuration, secrets)
    except ConfigurationError as exc:
        raise InterruptExecution(str(exc)) from exc
    for activity in _activities(experiment):
        found = resolve(activity["provider"])
        if found is None:
            continue  # probes, rollbacks and other code create nothing the policy covers
        backend, func = found
        provider = activity["provider"]
        name = activity.get("name", func)
        # The policy as the action will find it: with the secrets Chaos Toolkit hands it.
        own = _activity_secrets(secrets, provider)
        try:
            rules = policy_from(policy, configuration, own)
            app_rules = app_policy_from(policy, configuration, own)
        except ConfigurationError as exc:
            raise InterruptExecution(f"activity '{name}' refused: {exc}") from exc
        if backend not in KUBERNETES_RENDERERS:
            _check_application(activity, backend, func, app_rules, configuration, secrets, own)
            continue
        arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets)
        try:
            render = KUBERNETES_RENDERERS[backend][1][func]
            manifests = render(**arguments, configuration=configuration, secrets=secrets)
            for manifest in manifests:
                enforce(manifest, rules)
        except ChaosLLMError as exc:
            raise InterruptExecution(f"activity '{name}' refused: {exc}") from exc


def _activity_secrets(secrets: Any, provider: Mapping[str, Any]) -> dict[str, Any] | None:
    """The secrets Chaos Toolkit passes a Python activity: its declared scopes merged, else none."""
    scopes = provider.get("secrets")
    if not isinstance(secrets, Mapping) or not isinstance(scopes, list):
        return None
    merged: dict[str, Any] = {}
    for scope in scopes:
        found = secrets.get(scope)
        merged.update(found if isinstance(found, Mapping) else {})
    return merged


def _check_application(
    activity: Mapping[str, Any],
    backend: str,
    func: str,
    policy: AppPolicy,
    configuration: dict[str, Any] | None,
    secrets: dict[str, Any] | None,
    own: dict[str, Any] | None,
) -> None:
    """Interrupt the run if one application fault's static arguments break ``policy``.

    ``own`` are the activity's own secrets, where the action looks for its target.
    """
    provider = activity["provider"]
    arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets)
    try:
        target, touches = touches_of(backend, func, arguments, configuration, own)
        check_target(backend, func, target, policy=policy, **touches)
    except ChaosLLMError as exc:
        raise InterruptExecution(f"activity '{activity.get('name', func)}' refused: {exc}") from exc


protect(globals(), "chaosllm-blast-radius", arguments=("policy",))
