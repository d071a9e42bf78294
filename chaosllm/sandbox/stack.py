"""Start, inspect and stop the whole sandbox; its state lives in one JSON file.

``up()`` starts PostgreSQL, Redis and RabbitMQ through the launcher, the
fault proxy in front of each of them and of ml-recs, ml-recs itself, the
order worker, the gateway supervisor (front + replicas) and Prometheus, each
on a free loopback port, and records every PID and port in
``<run dir>/state.json`` as it goes, so that ``down()`` can stop everything
by PID even after an interrupted ``up()``. The run dir is
``$CHAOSLLM_STATE_DIR/sandbox`` unless ``sandbox_dir`` is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError, TargetNotFound
from chaosllm.faults import state_dir
from chaosllm.sandbox import launcher
from chaosllm.settings import env_name, get_setting, redact

__all__ = ["run_dir", "read_state", "up", "down", "status", "settings_env", "STATE_FILE", "StateDamaged"]

STATE_FILE = "state.json"
# Every service proxied: name -> what it fronts.
PROXIED = ("postgres", "redis", "rabbitmq", "ml-recs")
MAX_REPLICAS = 4


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


def _write_state(directory: Path, state: dict[str, Any]) -> None:
    tmp = directory / (STATE_FILE + ".tmp")
    # It holds the sandbox's connection URLs: readable by its owner only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(state, indent=2))
    os.replace(tmp, directory / STATE_FILE)


def _alive(pid: int) -> bool:
    return launcher._alive(pid)


def _port_open(port: int) -> bool:
    return launcher._port_open(port)


def _spawn_python(directory: Path, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    env = {"PROMETHEUS_DISABLE_CREATED_SERIES": "True"}
    proc = launcher._spawn([sys.executable, "-m", *args], directory / f"{name}.log", env=env)
    return proc  # type: ignore[no-any-return]


def _wait_http(url: str, timeout: float, what: str, proc: Any) -> None:
    def ok() -> bool:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)

    launcher.wait_until(ok, timeout, what, proc)


def settings_env(state: Mapping[str, Any]) -> dict[str, str]:
    """The CHAOSLLM_* variables that point activities at this sandbox."""
    return {env_name(k): str(v) for k, v in state.get("settings", {}).items()}


def up(directory: Path | None = None, *, replicas: int = 2, memory_limit_mb: int = 1024,
       progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:  # fmt: skip
    """Start the sandbox and return its state; on failure everything started is stopped."""
    directory = directory or run_dir()
    if (directory / STATE_FILE).exists():
        running = [s for s in status(directory)["services"] if s["running"]]
        if running:
            raise RuntimeError(
                f"the sandbox in {directory} is already running "
                f"({', '.join(s['name'] for s in running)}): run 'chaosllm sandbox down' first"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "dir": str(directory), "started_at": time.time(), "services": {}, "settings": {},
        "memory_limit_mb": memory_limit_mb, "cpu_limit": os.cpu_count() or 1,
    }  # fmt: skip
    _write_state(directory, state)

    def record(name: str, pid: int, port: int, url: str, **extra: Any) -> None:
        state["services"][name] = {"pid": pid, "port": port, "url": url, **extra}
        _write_state(directory, state)
        progress(f"{name:<10} pid {pid:<7} {url}")

    try:
        _start_all(directory, state, record, replicas)
    except BaseException:
        down(directory)
        raise
    return state


def _postgres_dir(directory: Path, state: dict[str, Any]) -> Path:
    """PostgreSQL runs as the postgres user when we are root, and that user must
    reach its data directory; the state dir is private (0700), so then the data
    goes to a world-traversable temporary directory, removed by ``down()``."""
    if os.geteuid() != 0:
        return directory / "postgres"
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="chaosllm-sandbox-pg-"))
    outside.chmod(0o755)
    state["remove_dirs"] = [str(outside)]
    return outside / "postgres"


def _start_all(directory: Path, state: dict[str, Any], record: Callable[..., None],
               replicas: int) -> None:  # fmt: skip
    with ThreadPoolExecutor(3) as pool:
        # RabbitMQ takes longest; the three start together.
        futures = {
            "rabbitmq": pool.submit(launcher.start_rabbitmq, directory / "rabbitmq"),
            "postgres": pool.submit(launcher.start_postgres, _postgres_dir(directory, state)),
            "redis": pool.submit(launcher.start_redis, directory / "redis"),
        }
        servers: dict[str, launcher.Server] = {}
        errors: list[BaseException] = []
        for name, future in futures.items():
            try:
                servers[name] = future.result()
            except BaseException as exc:
                errors.append(exc)
                continue
            server = servers[name]
            extra: dict[str, Any] = {}
            if name == "postgres":
                data = server.workdir / "data"
                extra["postmaster_pid"] = launcher._postmaster_pid(data, server.pid)
            if name == "rabbitmq":
                extra["pids"] = [server.extra["epmd_pid"]]
                extra["management_url"] = server.extra["management_url"]
                extra["management_port"] = server.extra["management_port"]
            record(name, server.pid, server.port, redact(server.url), **extra)
        if errors:
            raise errors[0]

    from chaosllm.sandbox._data import declare_queues, seed

    seed(servers["postgres"].url)
    import pika

    with contextlib.closing(pika.BlockingConnection(pika.URLParameters(servers["rabbitmq"].url))) as c:
        declare_queues(c.channel())

    recs_port = launcher.free_port()
    api_port = launcher.free_port()
    listen = {name: launcher.free_port() for name in PROXIED}
    upstream = {**{n: f"127.0.0.1:{s.port}" for n, s in servers.items()},
                "ml-recs": f"127.0.0.1:{recs_port}"}  # fmt: skip
    config = [{"name": n, "listen": f"127.0.0.1:{listen[n]}", "upstream": upstream[n]}
              for n in PROXIED]  # fmt: skip
    (directory / "proxies.json").write_text(json.dumps(config, indent=2))
    proc = _spawn_python(directory, "proxy", [
        "chaosllm.cli", "proxy", "serve", "--port", str(api_port),
        "--config", str(directory / "proxies.json"),
    ])  # fmt: skip
    _wait_http(f"http://127.0.0.1:{api_port}/version", 20, "the fault proxy", proc)
    record("proxy", proc.pid, api_port, f"http://127.0.0.1:{api_port}",
           ports=sorted(listen.values()), proxies={n: f"127.0.0.1:{listen[n]}" for n in PROXIED})

    via = {n: listen[n] for n in PROXIED}
    pg_dsn = f"postgresql://postgres@127.0.0.1:{via['postgres']}/postgres"
    redis_url = f"redis://127.0.0.1:{via['redis']}/0"
    amqp_url = f"amqp://guest:guest@127.0.0.1:{via['rabbitmq']}/%2F"
    recs_url = f"http://127.0.0.1:{via['ml-recs']}"

    proc = _spawn_python(directory, "ml-recs", ["chaosllm.sandbox.recs", "--port", str(recs_port)])
    _wait_http(f"http://127.0.0.1:{recs_port}/healthz", 20, "ml-recs", proc)
    record("ml-recs", proc.pid, recs_port, f"http://127.0.0.1:{recs_port}")

    worker_port = launcher.free_port()
    proc = _spawn_python(directory, "worker", [
        "chaosllm.sandbox.worker", "--port", str(worker_port),
        "--postgres-dsn", pg_dsn, "--rabbitmq-url", amqp_url,
    ])  # fmt: skip
    _wait_http(f"http://127.0.0.1:{worker_port}/healthz", 20, "the order worker", proc)
    record("worker", proc.pid, worker_port, f"http://127.0.0.1:{worker_port}")

    front = launcher.free_port()
    replica_ports = [launcher.free_port() for _ in range(MAX_REPLICAS)]
    proc = _spawn_python(directory, "supervisor", [
        "chaosllm.sandbox.supervisor", "--dir", str(directory), "--port", str(front),
        "--replica-ports", ",".join(map(str, replica_ports)), "--min", str(replicas),
        "--max", str(MAX_REPLICAS), "--",
        "--postgres-dsn", pg_dsn, "--redis-url", redis_url, "--rabbitmq-url", amqp_url,
        "--recs-url", recs_url,
    ])  # fmt: skip

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{front}/healthz", timeout=1) as resp:
            return int(json.load(resp)["ready_replicas"]) >= replicas

    launcher.wait_until(ready, 30, "the gateway replicas", proc)
    record("gateway", proc.pid, front, f"http://127.0.0.1:{front}", ports=replica_ports)

    targets = {
        "gateway": [f"127.0.0.1:{p}" for p in replica_ports],
        "front": [f"127.0.0.1:{front}"],
        "ml-recs": [f"127.0.0.1:{recs_port}"],
        "worker": [f"127.0.0.1:{worker_port}"],
    }
    prom = launcher.start_prometheus(directory / "prometheus", targets)
    record("prometheus", prom.pid, prom.port, prom.url)
    direct = {n: s.url for n, s in servers.items()}
    state["settings"] = {
        "prometheus_base_url": prom.url,
        "proxy_api_url": f"http://127.0.0.1:{api_port}",
        "postgres_dsn": direct["postgres"],
        "redis_url": direct["redis"],
        "rabbitmq_url": direct["rabbitmq"],
        "rabbitmq_management_url": servers["rabbitmq"].extra["management_url"],
        "sandbox_dir": str(directory),
        "gateway_url": f"http://127.0.0.1:{front}",
        # What stress scenarios allocate: 85 % of the sandbox's memory limit.
        "sandbox_memory_stress": f"{int(state['memory_limit_mb'] * 0.85)}MB",
    }
    state["ready_at"] = time.time()
    _write_state(directory, state)


def _stop_group(pid: int, grace: float) -> None:
    """SIGTERM the process group we created (start_new_session), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGCONT)
        os.killpg(pid, signal.SIGTERM)
    launcher.stop_pid(pid, grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# Stopped in this order: load and clients first, data stores last.
STOP_ORDER = ("prometheus", "gateway", "worker", "ml-recs", "proxy", "redis", "rabbitmq", "postgres")


def down(directory: Path | None = None,
         progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:  # fmt: skip
    """Stop every process of the sandbox by PID; the state file is kept as a record.

    With no state file, ``found`` is false. With a damaged one, only its
    well-formed services are stopped, ``damaged`` says what is wrong and the
    file is left as it is."""
    directory = directory or run_dir()
    damaged = None
    try:
        state = read_state(directory)
    except TargetNotFound:
        return {"dir": str(directory), "found": False, "stopped": [], "running": [], "damaged": None}
    except StateDamaged as exc:
        state, damaged = exc.usable, str(exc)
    services = state["services"]
    for load in (directory / "load").glob("*.pid") if (directory / "load").exists() else ():
        with contextlib.suppress(ValueError, OSError):
            _stop_group(int(load.read_text()), 5)
    stopped = []
    for name in STOP_ORDER:
        info = services.get(name)
        if not info:
            continue
        if name == "postgres":
            # A fast shutdown: SIGINT to the postmaster, then the runuser wrapper.
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.get("postmaster_pid", info["pid"]), signal.SIGINT)
            launcher.stop_pid(info.get("postmaster_pid", info["pid"]), 15)
        _stop_group(info["pid"], 20 if name in ("rabbitmq", "postgres") else 10)
        for pid in info.get("pids", []):
            _stop_group(pid, 5)
        stopped.append(name)
        progress(f"stopped {name}")
    if damaged is None:
        for extra_dir in state.get("remove_dirs", []):
            shutil.rmtree(extra_dir, ignore_errors=True)
        state["stopped_at"] = time.time()
        _write_state(directory, state)
    running = [r for r in _service_rows(services) if r["running"]]
    return {"dir": str(directory), "found": True, "stopped": stopped, "running": running,
            "damaged": damaged}  # fmt: skip


def _ports(info: Mapping[str, Any]) -> list[int]:
    ports = [int(info["port"])] + [int(p) for p in info.get("ports", [])]
    if info.get("management_port"):
        ports.append(int(info["management_port"]))
    return ports


def _service_rows(services: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, info in services.items():
        pids = [int(info["pid"]), *map(int, info.get("pids", []))]
        if info.get("postmaster_pid"):
            pids.append(int(info["postmaster_pid"]))
        alive = [p for p in pids if _alive(p)]
        open_ports = [p for p in _ports(info) if _port_open(p)]
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
    rows = _service_rows(state["services"])
    return {"dir": str(directory), "found": True, "running": any(r["running"] for r in rows),
            "services": rows}  # fmt: skip
