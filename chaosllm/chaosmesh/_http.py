"""HTTPChaos fault action: abort, delay, replace or patch HTTP traffic of the selected pods."""

from __future__ import annotations

from typing import Annotated, Any

from chaosllm.arguments import Range
from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._values import check_latency
from chaosllm.errors import InvalidArgument

__all__ = ["inject_http_fault"]


def _http_fault(
    abort: bool, delay: str | None, replace: dict[str, Any] | None, patch: dict[str, Any] | None
) -> dict[str, Any]:
    fault: dict[str, Any] = {}
    if abort:
        fault["abort"] = True
    if delay:
        fault["delay"] = check_latency(delay, "delay")
    if replace:
        fault["replace"] = dict(replace)
    if patch:
        fault["patch"] = dict(patch)
    if not fault:
        raise InvalidArgument("inject_http_fault needs abort, delay, replace or patch")
    return fault


@fault_action("HTTPChaos", "http-fault")
def inject_http_fault(
    target: str = "Request",
    port: Annotated[int, Range(1, 65535)] = 80,
    path: str = "*",
    method: str | None = None,
    abort: bool = False,
    delay: str | None = None,
    replace: dict[str, Any] | None = None,
    patch: dict[str, Any] | None = None,
    request_headers: dict[str, str] | None = None,
    code: Annotated[int, Range(100, 599)] | None = None,
) -> dict[str, Any]:
    """Abort, delay, replace or patch HTTP requests or responses served on `port`.

    ```json
    {"type": "action", "name": "gateway-aborts",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_http_fault",
                  "arguments": {"label_selectors": "app=gateway", "port": 8080, "path": "/graphql",
                                "abort": true, "duration": "30s"}}}
    ```
    """
    if target not in ("Request", "Response"):
        raise InvalidArgument(f"target must be 'Request' or 'Response', got {target!r}")
    part: dict[str, Any] = {"target": target, "port": port, "path": path,
                            **_http_fault(abort, delay, replace, patch)}
    if method:
        part["method"] = method.upper()
    if request_headers:
        part["request_headers"] = dict(request_headers)
    if code is not None:
        part["code"] = code
    return part
