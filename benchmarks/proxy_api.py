"""The fault proxy's hand-written HTTP API server next to aiohttp's, in one run.

Both serve the same routing (``chaosllm.proxy._api.handle``) on the same
event loop as the proxies, through ``chaosllm proxy serve``; only the HTTP
transport differs. The aiohttp variant swaps ``serve_api`` for a catch-all
aiohttp route that reads the JSON body and calls ``handle`` (no access log,
as the shipped server keeps none). The two are measured alternately, so
that machine noise hits both alike:

- cycle: what an experiment asks of the API, with the project's own client
  (``ProxyApi``): create a proxy, add a latency toxic, remove it, delete the
  proxy. Per request, p50 and p99 over every round, on one keep-alive
  connection and with a new connection per request (each action opens its
  own);
- toxic change: through a proxy to a loopback echo server on a live
  connection, the delay of the first byte sent after the "add latency"
  reply beyond that latency, and the time from sending "remove" until the
  byte the toxic held arrives;
- start: spawn to the first ``/version`` answer, and VmRSS then; VmRSS and
  VmHWM once the rounds are done; the time ``import aiohttp.web`` takes
  after what ``chaosllm proxy serve`` loads.

::

    .venv/bin/python benchmarks/proxy_api.py [--rounds 5] [--cycles 200] [--starts 5]

aiohttp is no dependency of chaosllm's own: the Kubernetes client that
chaostoolkit-kubernetes requires brings it.
"""

from __future__ import annotations

# The served aiohttp process runs this file too. For its start time and
# memory to be comparable, it must load what ``chaosllm proxy serve`` loads
# and aiohttp, nothing more: so the top imports only modules the proxy
# already loads, and the client side imports chaosllm's client, the launcher
# helpers and benchmarks/proxy.py inside its functions.
import argparse
import asyncio
import contextlib
import functools
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    import socket

    from chaosllm._clients.proxy import ProxyApi
    from chaosllm.proxy._server import Collection

SERVERS = ("chaosllm", "aiohttp")
T = TypeVar("T")


# -- the served process with aiohttp ---------------------------------------------
def serve_aiohttp(port: int) -> int:
    """``chaosllm proxy serve --port PORT`` with the API served by aiohttp."""
    from aiohttp import web

    from chaosllm import cli
    from chaosllm.proxy import _api
    from chaosllm.proxy._server import ApiError

    async def serve_api(collection: Collection, host: str, port: int) -> asyncio.AbstractServer:
        async def route(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else {}
                status, payload = _api.handle(collection, request.method, request.raw_path, body)
            except json.JSONDecodeError as exc:
                status, payload = 400, {"error": f"bad request body: {exc}", "status": 400}
            except ApiError as exc:
                status, payload = exc.status, {"error": str(exc), "status": exc.status}
            if payload is None:
                return web.Response(status=status)
            return web.json_response(payload, status=status)

        app = web.Application()  # its default body limit is 1 MiB, as the shipped server's
        app.router.add_route("*", "/{tail:.*}", route)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        assert runner.server is not None
        # What aiohttp's TCPSite does, keeping the asyncio.Server that serve() expects.
        return await asyncio.get_running_loop().create_server(runner.server, host, port,
                                                              reuse_address=True)

    _api.serve_api = serve_api  # type: ignore[assignment]
    return cli.main(["proxy", "serve", "--port", str(port)])


# -- client side -------------------------------------------------------------------
class Served:
    """One running API server and its figures."""

    def __init__(self, kind: str, proc: subprocess.Popen[bytes], url: str, started: float,
                 rss: float) -> None:
        self.kind = kind
        self.proc = proc
        self.url = url
        self.started = started  # seconds from spawn to the first /version answer
        self.rss = rss  # MB, just after that answer
        self.samples: dict[str, list[float]] = {}

    def add(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)


def in_turn(items: list[T], turn: int) -> list[T]:
    """``items`` forwards on even turns and backwards on odd ones."""
    return items if turn % 2 == 0 else items[::-1]


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def start(kind: str) -> Served:
    from chaosllm.sandbox.launcher import free_port, stop_pid

    from chaosllm._clients.proxy import ProxyApi

    port = free_port()
    cmd = ([sys.executable, "-m", "chaosllm.cli", "proxy", "serve", "--port", str(port)]
           if kind == "chaosllm" else [sys.executable, __file__, "--serve-aiohttp", str(port)])
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        if not select.select([proc.stdout], [], [], 30)[0]:
            raise TimeoutError(f"{kind} API server printed nothing in 30 s")
        line = proc.stdout.readline()  # printed once the API listens
        if b"listening" not in line:
            raise RuntimeError(f"{kind} API server exited with code {proc.wait(5)} before it listened")
        url = f"http://127.0.0.1:{port}"
        api = ProxyApi(url, "read the version")
        try:
            _, payload = api.request("GET", "/version")
        finally:
            api.close()
        started = time.perf_counter() - began
        assert str(payload["version"]).startswith("chaosllm-")
        return Served(kind, proc, url, started, memory(proc.pid)["VmRSS"])
    except BaseException:
        stop_pid(proc.pid, 5, proc)
        raise


@contextlib.contextmanager
def running(kind: str) -> Iterator[Served]:
    from chaosllm.sandbox.launcher import stop_pid

    served = start(kind)
    try:
        yield served
    finally:
        stop_pid(served.proc.pid, 5, served.proc)


def same_answers(servers: list[Served], echo: str) -> None:
    """Both transports must give the same statuses and bodies, errors included."""
    from chaosllm._clients.proxy import ProxyApi

    calls: list[tuple[str, str, Any]] = [
        ("GET", "/version", None), ("GET", "/nowhere", None), ("POST", "/proxies", {"name": "x"}),
        ("POST", "/proxies", {"name": "same", "upstream": echo, "enabled": False}),
        ("GET", "/proxies/same", None), ("PUT", "/proxies/same", {}), ("DELETE", "/proxies/same", None),
    ]
    answers = []
    for served in servers:
        api = ProxyApi(served.url, "compare answers")
        try:
            answers.append([api.request(method, route, body, expect=(400, 404, 405))
                            for method, route, body in calls])
        finally:
            api.close()
    if answers[0] != answers[1]:
        raise SystemExit(f"the two servers answer differently: {answers}")


def cycle(api: Callable[[], ProxyApi], echo: str, served: Served, count: int, label: str) -> None:
    """``count`` create / add toxic / remove toxic / delete cycles; each request's time
    goes to ``served`` in microseconds, under ``label``."""
    from chaosllm._clients.proxy import path

    steps: list[tuple[str, str, str, Any]] = [
        ("create proxy", "POST", "/proxies", {"name": "cycle", "listen": "127.0.0.1:0",
                                              "upstream": echo}),
        ("add latency toxic", "POST", path("proxies", "cycle", "toxics"),
         {"type": "latency", "stream": "downstream", "attributes": {"latency": 100}}),
        ("remove toxic", "DELETE", path("proxies", "cycle", "toxics", "latency_downstream"), None),
        ("delete proxy", "DELETE", path("proxies", "cycle"), None),
    ]
    client = api()
    try:
        for _ in range(count):
            for name, method, route, body in steps:
                begin = time.perf_counter_ns()
                client.request(method, route, body)
                served.add(f"{label}: {name}", (time.perf_counter_ns() - begin) / 1000)
                if label != "keep-alive":
                    client.close()  # the next request opens a new connection
    finally:
        client.close()


def toxic_change(api: ProxyApi, sock: socket.socket, served: Served, latency_ms: int) -> None:
    """One add and one remove of a latency toxic on the live connection ``sock``."""
    from chaosllm._clients.proxy import path

    arrivals: list[int] = []

    def arrival() -> None:  # a thread, so that the arrival is timed even during the API call
        sock.recv(1)
        arrivals.append(time.perf_counter_ns())

    reader = threading.Thread(target=arrival)
    reader.start()
    api.request("POST", path("proxies", "live", "toxics"),
                {"type": "latency", "stream": "downstream", "attributes": {"latency": latency_ms}})
    replied = time.perf_counter_ns()
    sock.sendall(b"a")
    reader.join(5)
    served.add("add: first byte's delay beyond the latency",
               (arrivals.pop() - replied) / 1000 - latency_ms * 1000)

    reader = threading.Thread(target=arrival)
    reader.start()
    sock.sendall(b"r")  # the toxic holds it for latency_ms
    time.sleep(0.001)
    asked = time.perf_counter_ns()
    api.request("DELETE", path("proxies", "live", "toxics", "latency_downstream"))
    reader.join(5)
    served.add("remove: held byte arrives after the call", (arrivals.pop() - asked) / 1000)


def import_cost(module: str, repeat: int) -> tuple[float, int]:
    """Median ms and module count of importing ``module`` after what the proxy loads."""
    import statistics

    code = ("import sys, time, chaosllm.cli, chaosllm.proxy.command, chaosllm.proxy._api, uvloop; "
            "chaosllm.cli.build_parser(); n = len(sys.modules); t = time.perf_counter(); "
            f"import {module}; print((time.perf_counter() - t) * 1000, len(sys.modules) - n)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(repeat)]
    return statistics.median(float(ms) for ms, _ in runs), int(runs[0][1])


def main() -> None:
    import multiprocessing
    import statistics

    from chaosllm.sandbox.launcher import free_port, wait_until
    from proxy import connect, serve  # benchmarks/proxy.py

    from chaosllm._clients.proxy import ProxyApi

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=200,
                        help="keep-alive cycles per server per round (a tenth with new connections)")
    parser.add_argument("--changes", type=int, default=10, help="toxic changes per server per round")
    parser.add_argument("--latency-ms", type=int, default=20, help="the latency toxic of the live test")
    parser.add_argument("--starts", type=int, default=5, help="cold starts of each server")
    args = parser.parse_args()

    echo_port = free_port()
    echo = multiprocessing.Process(target=serve, args=("echo", echo_port), daemon=True)
    echo.start()
    echo_address = f"127.0.0.1:{echo_port}"
    try:
        def echo_up() -> bool:
            connect(echo_port).close()
            return True

        wait_until(echo_up, 10, "echo server")

        starts: dict[str, list[Served]] = {kind: [] for kind in SERVERS}
        for turn in range(args.starts):
            for kind in in_turn(list(SERVERS), turn):
                with running(kind) as served:
                    starts[kind].append(served)
        aiohttp_ms, aiohttp_modules = import_cost("aiohttp.web", args.starts)

        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(running(kind)) for kind in SERVERS]
            same_answers(servers, echo_address)
            apis = {s.kind: stack.enter_context(contextlib.closing(ProxyApi(s.url, "bench")))
                    for s in servers}
            socks = {}
            for served in servers:
                _, created = apis[served.kind].request(
                    "POST", "/proxies", {"name": "live", "upstream": echo_address})
                socks[served.kind] = stack.enter_context(
                    connect(int(created["listen"].rsplit(":", 1)[1])))
                socks[served.kind].sendall(b"w")  # the link is up before any toxic
                assert socks[served.kind].recv(1) == b"w"
            for round_no in range(args.rounds):
                # Small blocks alternated, each server first in turn, so that a
                # burst of load on the shared machine lands on both alike.
                for label, count in (("keep-alive", args.cycles),
                                     ("new connection", max(1, args.cycles // 10))):
                    block = max(1, count // 10)
                    for turn in range(0, count, block):
                        for served in in_turn(servers, turn // block):
                            cycle(functools.partial(ProxyApi, served.url, "bench"), echo_address,
                                  served, block, label)
                for turn in range(args.changes):
                    for served in in_turn(servers, turn):
                        toxic_change(apis[served.kind], socks[served.kind], served, args.latency_ms)
                print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            after = {s.kind: memory(s.proc.pid) for s in servers}

    finally:
        echo.terminate()
        echo.join(5)

    def quantile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    ours, peer = servers
    print(f"\n{args.rounds} rounds, servers alternated; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print(f"{'request (us)':<48} {'chaosllm':>17} {'aiohttp':>17} {'chaosllm/aiohttp':>17}")
    print(f"{'':<48} {'p50':>8} {'p99':>8} {'p50':>8} {'p99':>8} {'p50':>8} {'p99':>8}")
    for key in ours.samples:
        a, b = ours.samples[key], peer.samples[key]
        cells = [quantile(a, 0.5), quantile(a, 0.99), quantile(b, 0.5), quantile(b, 0.99)]
        label = f"{key} (n={len(a)})"
        print(f"{label:<48} {cells[0]:>8.0f} {cells[1]:>8.0f} {cells[2]:>8.0f} {cells[3]:>8.0f} "
              f"{cells[0] / cells[2]:>7.2f}x {cells[1] / cells[3]:>7.2f}x")

    print(f"\n{'process (median of ' + str(args.starts) + ' starts)':<48} {'chaosllm':>17} "
          f"{'aiohttp':>17} {'chaosllm/aiohttp':>17}")
    rows = [
        ("spawn to first /version (ms)", [statistics.median(s.started for s in starts[k]) * 1000
                                          for k in SERVERS]),
        ("VmRSS then (MB)", [statistics.median(s.rss for s in starts[k]) for k in SERVERS]),
        ("VmRSS after the rounds (MB)", [after[k]["VmRSS"] for k in SERVERS]),
        ("VmHWM after the rounds (MB)", [after[k]["VmHWM"] for k in SERVERS]),
    ]
    for label, (mine, theirs) in rows:
        print(f"{label:<48} {mine:>17.1f} {theirs:>17.1f} {mine / theirs:>16.2f}x")
    print(f"import aiohttp.web after what the proxy loads: {aiohttp_ms:.0f} ms (median), "
          f"{aiohttp_modules} more modules")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-aiohttp"]:  # the served process that start() spawns
        sys.exit(serve_aiohttp(int(sys.argv[2])))
    main()
