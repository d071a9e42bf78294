"""Start private server processes on free loopback ports and stop them by PID.

Used by the sandbox and by the test suite, so that no fault ever touches a
shared service on a default port::

    with start_redis(workdir) as redis:
        print(redis.url)          # redis://127.0.0.1:40123/0

Each ``start_*`` returns a :class:`Server` whose ``stop()`` sends SIGTERM to
the PID it started (then SIGKILL after a grace period). PostgreSQL runs as
the ``postgres`` user when the caller is root, because ``initdb`` refuses root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Server",
    "MissingBinary",
    "free_port",
    "find_binary",
    "start_redis",
    "start_postgres",
    "start_rabbitmq",
    "start_prometheus",
    "wait_until",
    "stop_pid",
    "alive",
    "port_open",
    "spawn",
]


class MissingBinary(RuntimeError):
    """A server binary is not installed."""


@dataclass
class Server:
    """A running private server."""

    name: str
    pid: int
    port: int
    url: str
    workdir: Path
    extra: dict[str, Any] = field(default_factory=dict)
    _stop: Callable[[], None] | None = None

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str, extra_globs: Iterable[str] = ()) -> str:
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    raise MissingBinary(f"{name} is not installed (install it, or run 'make test' as root on Debian)")


def wait_until(check: Callable[[], bool], timeout: float, what: str, proc: Any = None) -> None:
    """Poll ``check`` every 50 ms until it is true, or raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} was not ready after {timeout:.0f} s")


def _ready_or_stopped(check: Callable[[], bool], timeout: float, what: str, proc: Any,
                      stop: Callable[[], None]) -> None:  # fmt: skip
    """``wait_until`` for a server just started; one that never gets ready is stopped."""
    try:
        wait_until(check, timeout, what, proc)
    except Exception:
        stop()
        raise


def stop_pid(pid: int, grace: float = 10.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """SIGTERM ``pid``, wait up to ``grace`` seconds, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(5)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    return True


def port_open(port: int) -> bool:
    """True when something accepts connections on loopback ``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, **kw: Any) -> Any:
    """Start ``cmd`` in its own session (so that its group can be stopped), output to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            **kw,
        )


def start_redis(
    workdir: Path, port: int | None = None, maxmemory: str = "0", password: str | None = None
) -> Server:
    binary = find_binary("redis-server")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(workdir), "--daemonize", "no", "--maxmemory", maxmemory,
    ]  # fmt: skip
    if password is not None:
        # From a config file, so that the password is not on the command line.
        conf = workdir / "auth.conf"
        conf.touch(mode=0o600)
        conf.write_text(f"requirepass {password}\n")
        cmd.insert(1, str(conf))
    proc = spawn(cmd, workdir / "redis.log")

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))

    _ready_or_stopped(ping, 15, "redis-server", proc, lambda: stop_pid(proc.pid, 2, proc))
    return Server(
        "redis", proc.pid, port,
        f"redis://{':' + password + '@' if password else ''}127.0.0.1:{port}/0", workdir,
        _stop=lambda: stop_pid(proc.pid, 5, proc),
    )  # fmt: skip


def _as_postgres() -> tuple[list[str], Callable[[Path], None]]:
    """Command prefix and chown helper so that PostgreSQL never runs as root."""
    if os.geteuid() != 0:
        return [], lambda path: None
    user = pwd.getpwnam("postgres")

    def chown(path: Path) -> None:
        os.chown(path, user.pw_uid, user.pw_gid)

    return ["runuser", "-u", "postgres", "--"], chown


def _postgres_binary(name: str) -> str:
    # Debian keeps the server binaries off PATH, in a versioned folder.
    matches = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return matches[-1] if matches else find_binary(name)


def start_postgres(workdir: Path, port: int | None = None, max_connections: int = 40) -> Server:
    initdb = _postgres_binary("initdb")
    postgres = _postgres_binary("postgres")
    port = port or free_port()
    prefix, chown = _as_postgres()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)
    chown(workdir)
    data = workdir / "data"
    if not data.exists():
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
             "-E", "UTF8", "--locale", "C"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    cmd = [
        *prefix, postgres, "-D", str(data), "-p", str(port), "-k", str(workdir),
        "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off", "-c", f"max_connections={max_connections}",
        "-c", "superuser_reserved_connections=3",
    ]  # fmt: skip
    proc = spawn(cmd, workdir / "postgres.log")
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def ready() -> bool:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=1) as conn:
            conn.execute("select 1")
        return True

    def stop() -> None:
        # The postmaster's PID is the one we started; SIGINT is a fast shutdown.
        with contextlib.suppress(ProcessLookupError):
            os.kill(_postmaster_pid(data, proc.pid), signal.SIGINT)
        stop_pid(proc.pid, 15, proc)

    _ready_or_stopped(ready, 30, "postgres", proc, stop)
    return Server("postgres", proc.pid, port, dsn, workdir, _stop=stop)


def _postmaster_pid(data: Path, fallback: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    return fallback


def _rabbitmq_script() -> str:
    scripts = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    if scripts:
        return scripts[-1]
    return find_binary("rabbitmq-server")


def start_rabbitmq(workdir: Path) -> Server:
    """A private broker with its own epmd, node name, ports and state."""
    script = _rabbitmq_script()
    epmd = find_binary("epmd", ["/usr/lib/erlang/erts-*/bin/epmd"])
    amqp, mgmt, dist, epmd_port = free_port(), free_port(), free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "home").mkdir(exist_ok=True)
    (workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (workdir / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
        f"management.tcp.port = {mgmt}\n"
        "management.tcp.ip = 127.0.0.1\n"
        "loopback_users = none\n"
        "log.console = true\nlog.file = false\n"
    )
    node = f"chaosllm{amqp}@localhost"
    env = {
        "HOME": str(workdir / "home"),
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
    }
    epmd_proc = spawn([epmd, "-port", str(epmd_port), "-address", "127.0.0.1"], workdir / "epmd.log")
    proc = spawn([script], workdir / "rabbitmq.log", env=env)
    mgmt_url = f"http://guest:guest@127.0.0.1:{mgmt}"

    def ready() -> bool:
        req = urllib.request.Request(f"http://127.0.0.1:{mgmt}/api/overview")
        req.add_header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q=")
        with urllib.request.urlopen(req, timeout=1) as resp:
            return resp.status == 200 and port_open(amqp)

    def stop() -> None:
        stop_pid(proc.pid, 20, proc)
        stop_pid(epmd_proc.pid, 5, epmd_proc)

    _ready_or_stopped(ready, 90, "rabbitmq-server", proc, stop)
    return Server(
        "rabbitmq", proc.pid, amqp, f"amqp://guest:guest@127.0.0.1:{amqp}/%2F", workdir,
        extra={"management_url": mgmt_url, "management_port": mgmt, "epmd_pid": epmd_proc.pid},
        _stop=stop,
    )  # fmt: skip


def start_prometheus(
    workdir: Path,
    targets: dict[str, list[str]] | None = None,
    scrape_interval: str = "1s",
    rule_files: Iterable[str] = (),
    alertmanager: str | None = None,
) -> Server:
    """Prometheus scraping ``targets`` (job name -> ["host:port", ...]), sending
    the alerts of ``rule_files`` to ``alertmanager`` ("host:port") if given."""
    binary = find_binary("prometheus")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "global:",
        f"  scrape_interval: {scrape_interval}",
        f"  evaluation_interval: {scrape_interval}",
    ]
    if alertmanager:
        lines += ["alerting:", "  alertmanagers:", "    - static_configs:",
                  f"        - targets: [{alertmanager!r}]"]  # fmt: skip
    rules = list(rule_files)
    if rules:
        lines.append("rule_files:")
        lines.extend(f"  - {path}" for path in rules)
    lines.append("scrape_configs:")
    for job, addresses in (targets or {}).items():
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: {addresses!r}"]
    config = workdir / "prometheus.yml"
    config.write_text("\n".join(lines) + "\n")
    cmd = [
        binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=1d",
    ]  # fmt: skip
    proc = spawn(cmd, workdir / "prometheus.log")

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as resp:
            return resp.status == 200

    _ready_or_stopped(ready, 30, "prometheus", proc, lambda: stop_pid(proc.pid, 5, proc))
    return Server(
        "prometheus", proc.pid, port, f"http://127.0.0.1:{port}", workdir,
        extra={"config": str(config)}, _stop=lambda: stop_pid(proc.pid, 10, proc),
    )  # fmt: skip


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()
