"""IOChaos fault actions: delay, errors and overridden attributes of file-system calls.

Every one of them also takes the family's arguments (:func:`_io_arguments`):
the volume, the files, the share of calls and the containers affected.
"""

from __future__ import annotations

from typing import Annotated, Any

from chaosllm.arguments import Range
from chaosllm.chaosmesh._action import fault_action
from chaosllm.chaosmesh._values import check_latency, containers_field
from chaosllm.errors import InvalidArgument

__all__ = ["inject_io_delay", "inject_io_errno", "override_io_attr"]


def _io_arguments(
    volume_path: str,
    path: str | None = None,
    percent: Annotated[int, Range(1, 100)] = 100,
    methods: list[str] | None = None,
    container_names: list[str] | None = None,
) -> dict[str, Any]:
    """IO arguments (every IOChaos action): `volume_path` (the mount point in
    the container, required), `path` (a glob of files under it), `percent`
    of calls affected, `methods` (such as ["READ", "WRITE"]) and
    `container_names`.
    """
    if not str(volume_path).startswith("/"):
        raise InvalidArgument(f"volume_path must be an absolute mount path, got {volume_path!r}")
    part: dict[str, Any] = {"volumePath": volume_path, "percent": percent}
    if path:
        part["path"] = path
    if methods:
        part["methods"] = list(methods)
    return {**part, **containers_field(container_names)}


@fault_action("IOChaos", "io-delay", shared=_io_arguments)
def inject_io_delay(delay: str = "100ms") -> dict[str, Any]:
    """Delay file-system calls under `volume_path` by `delay`.

    ```json
    {"type": "action", "name": "slow-disk",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_io_delay",
                  "arguments": {"label_selectors": "app=postgres", "volume_path": "/var/lib/postgresql",
                                "delay": "50ms", "percent": 50, "duration": "60s"}}}
    ```
    """
    return {"action": "latency", "delay": check_latency(delay, "delay")}


@fault_action("IOChaos", "io-errno", shared=_io_arguments)
def inject_io_errno(errno: Annotated[int, Range(1, 4095)] = 5) -> dict[str, Any]:
    """Make file-system calls under `volume_path` fail with `errno` (5 is EIO).

    ```json
    {"type": "action", "name": "disk-errors",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "inject_io_errno",
                  "arguments": {"label_selectors": "app=postgres", "volume_path": "/var/lib/postgresql",
                                "errno": 28, "percent": 10, "duration": "60s"}}}
    ```
    """
    return {"action": "fault", "errno": errno}


@fault_action("IOChaos", "io-attr", shared=_io_arguments)
def override_io_attr(attr: dict[str, Any]) -> dict[str, Any]:
    """Report overridden file attributes (`perm`, `size`, `uid`, ...) under `volume_path`.

    ```json
    {"type": "action", "name": "read-only-files",
     "provider": {"type": "python", "module": "chaosllm.chaosmesh.actions",
                  "func": "override_io_attr",
                  "arguments": {"label_selectors": "app=catalog", "volume_path": "/data",
                                "attr": {"perm": 292}, "duration": "60s"}}}
    ```
    """
    if not attr:
        raise InvalidArgument("attr must set at least one attribute, such as {'perm': 292}")
    return {"action": "attrOverride", "attr": dict(attr)}
