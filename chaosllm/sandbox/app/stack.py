"""Start and stop the whole sandbox; what it started is kept in its state file.

``up()`` starts PostgreSQL, Redis and RabbitMQ through the launcher, the
fault proxy in front of each of them and of ml-recs, ml-recs itself, the
order worker, the gateway supervisor (front + replicas) and Prometheus, each
on a free loopback port, and records every PID and port in
``<run dir>/state.json`` as it goes, so that ``down()`` can stop everything
by PID even after an interrupted ``up()`` (see :mod:`chaosllm.sandbox.app.state`).
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chaosllm.errors import TargetNotFound
from chaosllm.sandbox.app import launcher
from chaosllm.sandbox.app.alerting import sandbox_rule_files, start_alertmanager
from chaosllm.sandbox.app.extra import require_extra
from chaosllm.sandbox.app.state import (
    STATE_FILE,
    StateDamaged,
    read_state,
    run_dir,
    service_rows,
    status,
    write_state,
)
from chaosllm.settings import redact

__all__ = ["up", "down", "STOP_ORDER"]

# Every service proxied: name -> what it fronts.
PROXIED = ("postgres", "redis", "rabbitmq", "ml-recs", "llm-primary")
# Proxies that relay HTTP exchanges, so that the HTTP and stream faults apply.
HTTP_MODE = ("llm-primary",)
# The model providers: the primary is reached through the fault proxy, the fallback directly.
PROVIDERS = {"llm-primary": "sandbox-primary", "llm-fallback": "sandbox-fallback"}
MAX_REPLICAS = 4
# The sandbox's SLOs and the guard and metrics the local scenarios share (in a
# source checkout; 'sandbox env' exports it as CHAOSLLM_SLO_FILE when it is there).
SLO_FILE = Path(__file__).resolve().parents[3] / "experiments" / "slo" / "marketplace.yaml"


def _spawn_python(directory: Path, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    env = {"PROMETHEUS_DISABLE_CREATED_SERIES": "True"}
    proc = launcher.spawn([sys.executable, "-m", *args], directory / f"{name}.log", env=env)
    return proc  # type: ignore[no-any-return]


def _wait_http(url: str, timeout: float, what: str, proc: Any) -> None:
    def ok() -> bool:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)

    launcher.wait_until(ok, timeout, what, proc)


def up(directory: Path | None = None, *, replicas: int = 2, memory_limit_mb: int = 1024,
       progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:  # fmt: skip
    """Start the sandbox and return its state; on failure everything started is stopped."""
    require_extra()
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
    write_state(directory, state)

    def record(name: str, pid: int, port: int, url: str, **extra: Any) -> None:
        state["services"][name] = {"pid": pid, "port": port, "url": url, **extra}
        write_state(directory, state)
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

    from chaosllm.sandbox.app._data import declare_queues, seed

    seed(servers["postgres"].url)
    import pika

    with contextlib.closing(pika.BlockingConnection(pika.URLParameters(servers["rabbitmq"].url))) as c:
        declare_queues(c.channel())

    recs_port = launcher.free_port()
    api_port = launcher.free_port()
    provider_ports = {name: launcher.free_port() for name in PROVIDERS}
    listen = {name: launcher.free_port() for name in PROXIED}
    upstream = {**{n: f"127.0.0.1:{s.port}" for n, s in servers.items()},
                "ml-recs": f"127.0.0.1:{recs_port}",
                "llm-primary": f"127.0.0.1:{provider_ports['llm-primary']}"}  # fmt: skip
    config = [{"name": n, "listen": f"127.0.0.1:{listen[n]}", "upstream": upstream[n],
               "mode": "http" if n in HTTP_MODE else "tcp"} for n in PROXIED]  # fmt: skip
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

    proc = _spawn_python(directory, "ml-recs", ["chaosllm.sandbox.app.recs", "--port", str(recs_port)])
    _wait_http(f"http://127.0.0.1:{recs_port}/healthz", 20, "ml-recs", proc)
    record("ml-recs", proc.pid, recs_port, f"http://127.0.0.1:{recs_port}")

    for name, model in PROVIDERS.items():
        port = provider_ports[name]
        proc = _spawn_python(directory, name, ["chaosllm.sandbox.app.provider", "--port", str(port),
                                               "--model", model])  # fmt: skip
        _wait_http(f"http://127.0.0.1:{port}/healthz", 20, f"the model provider {name}", proc)
        record(name, proc.pid, port, f"http://127.0.0.1:{port}")

    tenants_port = launcher.free_port()
    proc = _spawn_python(directory, "tenant-mgmt", [
        "chaosllm.sandbox.app.tenantmgmt", "--port", str(tenants_port), "--postgres-dsn", pg_dsn,
    ])  # fmt: skip
    _wait_http(f"http://127.0.0.1:{tenants_port}/healthz", 20, "tenant-mgmt", proc)
    record("tenant-mgmt", proc.pid, tenants_port, f"http://127.0.0.1:{tenants_port}")

    worker_port = launcher.free_port()
    proc = _spawn_python(directory, "worker", [
        "chaosllm.sandbox.app.worker", "--port", str(worker_port),
        "--postgres-dsn", pg_dsn, "--rabbitmq-url", amqp_url,
    ])  # fmt: skip
    _wait_http(f"http://127.0.0.1:{worker_port}/healthz", 20, "the order worker", proc)
    record("worker", proc.pid, worker_port, f"http://127.0.0.1:{worker_port}")

    front = launcher.free_port()
    replica_ports = [launcher.free_port() for _ in range(MAX_REPLICAS)]
    proc = _spawn_python(directory, "supervisor", [
        "chaosllm.sandbox.app.supervisor", "--dir", str(directory), "--port", str(front),
        "--replica-ports", ",".join(map(str, replica_ports)), "--min", str(replicas),
        "--max", str(MAX_REPLICAS), "--",
        "--postgres-dsn", pg_dsn, "--redis-url", redis_url, "--rabbitmq-url", amqp_url,
        "--recs-url", recs_url,
        "--llm-primary-url", f"http://127.0.0.1:{via['llm-primary']}",
        "--llm-primary-model", PROVIDERS["llm-primary"],
        "--llm-fallback-url", f"http://127.0.0.1:{provider_ports['llm-fallback']}",
        "--llm-fallback-model", PROVIDERS["llm-fallback"],
        "--tenants-url", f"http://127.0.0.1:{tenants_port}",
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
        "tenant-mgmt": [f"127.0.0.1:{tenants_port}"],
        "llm": [f"127.0.0.1:{port}" for port in provider_ports.values()],
    }
    alerts = start_alertmanager(directory / "alertmanager")
    record("alertmanager", alerts.pid, alerts.port, alerts.url)
    prom = launcher.start_prometheus(directory / "prometheus", targets,
                                     rule_files=sandbox_rule_files(directory / "prometheus"),
                                     alertmanager=f"127.0.0.1:{alerts.port}")  # fmt: skip
    record("prometheus", prom.pid, prom.port, prom.url)
    direct = {n: s.url for n, s in servers.items()}
    state["settings"] = {
        "prometheus_base_url": prom.url,
        "alertmanager_url": alerts.url,
        "proxy_api_url": f"http://127.0.0.1:{api_port}",
        "postgres_dsn": direct["postgres"],
        "redis_url": direct["redis"],
        "rabbitmq_url": direct["rabbitmq"],
        "rabbitmq_management_url": servers["rabbitmq"].extra["management_url"],
        "sandbox_dir": str(directory),
        "gateway_url": f"http://127.0.0.1:{front}",
        # What stress scenarios allocate: 85 % of the sandbox's memory limit.
        "sandbox_memory_stress": f"{int(state['memory_limit_mb'] * 0.85)}MB",
        **({"slo_file": str(SLO_FILE)} if SLO_FILE.is_file() else {}),
    }
    state["ready_at"] = time.time()
    write_state(directory, state)


def _stop_group(pid: int, grace: float) -> None:
    """SIGTERM the process group we created (start_new_session), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGCONT)
        os.killpg(pid, signal.SIGTERM)
    launcher.stop_pid(pid, grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# Stopped in this order: load and clients first, data stores last.
STOP_ORDER = ("prometheus", "alertmanager", "gateway", "worker", "tenant-mgmt", "ml-recs",
              "llm-primary", "llm-fallback", "proxy", "redis", "rabbitmq", "postgres")


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
        write_state(directory, state)
    running = [r for r in service_rows(services) if r["running"]]
    return {"dir": str(directory), "found": True, "stopped": stopped, "running": running,
            "damaged": damaged}  # fmt: skip


