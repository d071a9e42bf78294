"""Chaos Mesh fault actions: one thin function per fault, plus manifests, schedules and workflows.

This is the public module experiments name (``"module": "chaosllm.chaosmesh.actions"``).
The actions live in one private module per fault family (``_network``,
``_pod``, ``_stress``, ``_io``, ``_time``, ``_http``, ``_dns``) and one for
the object lifecycle (``_lifecycle``: manifests, schedules, workflows, pause,
resume, remove); each fault function declares only its own arguments, and
the selector, the shared spec fields, the safety checks and confirmed
injection come from :mod:`chaosllm.chaosmesh._action`. Every object carries
the label ``app.kubernetes.io/managed-by=chaosllm``; ``remove_chaos`` is the
rollback of every fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaosllm.arguments import bind_checked
from chaosllm.chaosmesh._dns import inject_dns_fault
from chaosllm.chaosmesh._http import inject_http_fault
from chaosllm.chaosmesh._io import inject_io_delay, inject_io_errno, override_io_attr
from chaosllm.chaosmesh._lifecycle import (
    apply_manifest,
    create_workflow,
    pause_chaos,
    remove_all_chaos,
    remove_chaos,
    resume_chaos,
    schedule_chaos,
)
from chaosllm.chaosmesh._manifests import render_manifests, render_schedule, render_workflow
from chaosllm.chaosmesh._network import (
    inject_network_bandwidth,
    inject_network_corrupt,
    inject_network_delay,
    inject_network_duplicate,
    inject_network_loss,
    inject_network_partition,
)
from chaosllm.chaosmesh._pod import fail_pods, kill_containers, kill_pods
from chaosllm.chaosmesh._stress import stress_cpu, stress_memory
from chaosllm.chaosmesh._time import shift_time

__all__ = [
    "inject_network_delay",
    "inject_network_loss",
    "inject_network_duplicate",
    "inject_network_corrupt",
    "inject_network_bandwidth",
    "inject_network_partition",
    "kill_pods",
    "fail_pods",
    "kill_containers",
    "stress_cpu",
    "stress_memory",
    "inject_io_delay",
    "inject_io_errno",
    "override_io_attr",
    "shift_time",
    "inject_http_fault",
    "inject_dns_fault",
    "apply_manifest",
    "schedule_chaos",
    "create_workflow",
    "pause_chaos",
    "resume_chaos",
    "remove_chaos",
    "remove_all_chaos",
]


def _bound(func: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """An action's arguments as its body sees them: checked, defaults included."""
    return dict(bind_checked(func, **arguments).arguments)


Render = Callable[[Mapping[str, Any]], list[dict[str, Any]]]


def _renderer(func: Any, render: Render | None = None) -> Callable[..., list[dict[str, Any]]]:
    """Render ``func``'s manifests from activity arguments, creating nothing."""
    if render is not None:
        return lambda **arguments: render(_bound(func, arguments))
    return lambda **arguments: [func.render(**arguments)]


# The side-effect-free manifest builders, by action name: the blast-radius control
# renders an experiment's activities with them before anything runs.
RENDERERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    **{name: _renderer(globals()[name]) for name in __all__ if hasattr(globals()[name], "render")},
    "apply_manifest": _renderer(apply_manifest, render_manifests),
    "schedule_chaos": _renderer(schedule_chaos, render_schedule),
    "create_workflow": _renderer(create_workflow, render_workflow),
}
ROLLBACKS = {
    **{name: "remove_chaos" for name in RENDERERS},
    "pause_chaos": "resume_chaos",
}
