"""The decorator that publishes a thin spec builder as a Chaos Mesh fault action.

A fault action is a function that declares only its own arguments and
returns its part of the spec; :func:`fault_action` appends the parameters of
:func:`~chaosllm.chaosmesh._spec.common_arguments` to its published signature
(so discovery and Chaos Toolkit's argument check see every parameter
explicitly), checks them (:func:`chaosllm.arguments.strict`), builds the
selector and shared spec fields, and hands the manifest to the submitter::

    @fault_action("NetworkChaos", "network-loss", shared=network_arguments)
    def inject_network_loss(loss: str = "10", correlation: str = "0") -> dict[str, Any]:
        return {"action": "loss", "loss": {"loss": loss, "correlation": correlation}}
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from chaosllm._signature import call_part, compose, publish
from chaosllm.arguments import strict
from chaosllm.chaosmesh._kinds import KINDS
from chaosllm.chaosmesh._spec import COMMON_DOC, Common, common_arguments, render_fault
from chaosllm.chaosmesh._submit import submit_fault

__all__ = ["SpecPart", "fault_action"]

SpecPart = Callable[..., dict[str, Any]]


def fault_action(kind: str, fault: str, shared: SpecPart | None = None) -> Callable[[SpecPart], Any]:
    """Publish ``build`` as a fault action of ``kind`` (see the module docstring).

    The published function takes ``build``'s own parameters, then those of
    ``shared`` (a family's common spec part, such as NetworkChaos direction
    and target), then :func:`common_arguments`. It has ``.render(**args)``,
    which builds the manifest without touching the cluster.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind}")

    def decorate(build: SpecPart) -> Any:
        parts = [build] + ([shared] if shared else [])
        signature = compose(parts, common_arguments)

        def render(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], Common]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = bound.arguments
            part: dict[str, Any] = {}
            for func in parts:
                part.update(call_part(func, values))
            return render_fault(kind, fault, part, values)

        @functools.wraps(build)
        def action(*args: Any, **kwargs: Any) -> dict[str, Any]:
            manifest, common = render(*args, **kwargs)
            return submit_fault(manifest, common)

        family = "\n\n" + (inspect.getdoc(shared) or "") if shared else ""
        publish(action, signature, (inspect.getdoc(build) or "") + family + "\n" + COMMON_DOC)
        action.render = lambda *a, **k: render(*a, **k)[0]  # type: ignore[attr-defined]
        action.kind = kind  # type: ignore[attr-defined]
        return strict(action)

    return decorate
