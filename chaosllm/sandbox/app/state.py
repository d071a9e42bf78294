"""The sandbox's state file: where the run dir is, what ``up()`` recorded, what still runs.

``<run dir>/state.json`` holds every PID, port and URL the stack started and
the settings that point activities at it. It is written as services start,
so that a stop after an interrupted start still finds everything; a damaged
file is refused with :class:`StateDamaged`, which keeps its well-formed
services. The run dir is ``$CHAOSLLM_STATE_DIR/sandbox`` unless
``sandbox_dir`` is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError, TargetNotFound
from chaosllm.faults import state_dir
from chaosllm.sandbox.app import launcher
from chaosllm.settings import env_name, get_setting

__all__ = ["STATE_FILE", "StateDamaged", "run_dir", "read_state", "write_state", "status",
           "service_rows", "settings_env"]

STATE_FILE = "state.json"


def run_dir(configuration: Mapping[str, Any] | None = None,
            secrets: Mapping[str, Any] | None = None) -> Path:  # fmt: skip
    found = get_setting("sandbox_dir", None, configuration, secrets)
    return Path(found) if found else state_dir() / "sandbox"


class StateDamaged(ConfigurationError):
    """The state file exists but cannot be trusted; ``usable`` keeps its well-formed services."""

    def __init__(self, path: Path, problems: list[str], usable: dict[str, Any]) -> None:
        super().__init__(
            f"sandbox state file {path} is damaged: {'; '.join(problems)}; remove it after "
            "checking that nothing from it is still running"
        )
        self.path = path
        self.problems = problems
        self.usable = usable


def _is_id(value: Any) -> bool:
    """A PID or port the sandbox could have recorded (never 0 or 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 1


def _service_problem(name: str, info: Any) -> str | None:
    if not isinstance(info, dict):
        return f"service {name!r} is not an object"
    for key in ("pid", "port"):
        if not _is_id(info.get(key)):
            return f"service {name!r} has no valid {key!r}"
    for key in ("postmaster_pid", "management_port"):
        if key in info and not _is_id(info[key]):
            return f"service {name!r} has an invalid {key!r}"
    for key in ("pids", "ports"):
        if key in info and not (isinstance(info[key], list) and all(map(_is_id, info[key]))):
            return f"service {name!r} has an invalid {key!r}"
    if not isinstance(info.get("url", ""), str):
        return f"service {name!r} has an invalid 'url'"
    return None


def _parse_state(text: str) -> tuple[dict[str, Any], list[str]]:
    """The state in ``text`` and what is wrong with it; with problems, only its
    well-formed services are kept."""
    if not text.strip():
        return {"services": {}}, ["it is empty"]
    try:
        state = json.loads(text)
    except ValueError as exc:
        return {"services": {}}, [f"it is not JSON ({exc})"]
    if not isinstance(state, dict):
        return {"services": {}}, [f"it holds a JSON {type(state).__name__}, not an object"]
    problems = []
    services = state.get("services")
    if not isinstance(services, dict):
        problems.append("'services' is missing or not an object")
        services = {}
    usable = {}
    for name, info in services.items():
        problem = _service_problem(name, info)
        if problem:
            problems.append(problem)
        else:
            usable[name] = info
    settings = state.get("settings")
    if not (isinstance(settings, dict) and all(isinstance(v, str) for v in settings.values())):
        problems.append("'settings' is missing or not an object of strings")
    remove_dirs = state.get("remove_dirs", [])
    if not (isinstance(remove_dirs, list) and all(isinstance(d, str) for d in remove_dirs)):
        problems.append("'remove_dirs' is not a list of paths")
    if problems:
        return {"services": usable}, problems
    return state, []


def read_state(directory: Path | None = None) -> dict[str, Any]:
    """The sandbox state; ``TargetNotFound`` without a state file, ``StateDamaged``
    when it is not what ``up()`` writes."""
    path = (directory or run_dir()) / STATE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TargetNotFound(
            f"could not find the sandbox: no state file at {path} (run 'chaosllm sandbox up')"
        ) from None
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise StateDamaged(path, [f"it is not text ({exc})"], {"services": {}}) from None
    state, problems = _parse_state(text)
    if problems:
        raise StateDamaged(path, problems, state)
    return state


def write_state(directory: Path, state: dict[str, Any]) -> None:
    tmp = directory / (STATE_FILE + ".tmp")
    # It holds the sandbox's connection URLs: readable by its owner only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(state, indent=2))
    os.replace(tmp, directory / STATE_FILE)


def settings_env(state: Mapping[str, Any]) -> dict[str, str]:
    """The CHAOSLLM_* variables that point activities at this sandbox."""
    return {env_name(k): str(v) for k, v in state.get("settings", {}).items()}


def _ports(info: Mapping[str, Any]) -> list[int]:
    ports = [int(info["port"])] + [int(p) for p in info.get("ports", [])]
    if info.get("management_port"):
        ports.append(int(info["management_port"]))
    return ports


def service_rows(services: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, info in services.items():
        pids = [int(info["pid"]), *map(int, info.get("pids", []))]
        if info.get("postmaster_pid"):
            pids.append(int(info["postmaster_pid"]))
        alive = [p for p in pids if launcher.alive(p)]
        open_ports = [p for p in _ports(info) if launcher.port_open(p)]
        rows.append({"name": name, "pid": info["pid"], "url": info.get("url", ""),
                     "running": bool(alive or open_ports), "alive_pids": alive,
                     "open_ports": open_ports})  # fmt: skip
    return rows


def status(directory: Path | None = None) -> dict[str, Any]:
    """Which sandbox processes are alive and which of their ports are open;
    ``StateDamaged`` when the state file cannot be trusted."""
    directory = directory or run_dir()
    try:
        state = read_state(directory)
    except TargetNotFound:
        return {"dir": str(directory), "found": False, "running": False, "services": []}
    rows = service_rows(state["services"])
    return {"dir": str(directory), "found": True, "running": any(r["running"] for r in rows),
            "services": rows}  # fmt: skip
