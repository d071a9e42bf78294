"""The fault proxy's cost with no toxic, next to a direct connection and socat.

Paths, measured alternately in one run so that machine noise hits all alike:

- direct: client -> server on loopback;
- socat: ``socat -b 262144`` between them, the reference relay in C;
- chaosllm: ``chaosllm proxy serve`` with one proxy and no toxic, on uvloop
  and on the standard asyncio loop.

Prints the round-trip latency each relay adds for small messages (p50 and
p99 over all rounds) and the single-stream throughput of 1 GiB (median)::

    .venv/bin/python benchmarks/proxy.py [--rounds 5] [--pings 2000] [--gib 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaosllm.sandbox.app.launcher import free_port, stop_pid, wait_until  # noqa: E402

MESSAGE = 64
CHUNK = 1 << 20


def _echo(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _sink(conn: socket.socket) -> None:
    buf = bytearray(CHUNK)
    with conn:
        while conn.recv_into(buf):
            pass
        conn.sendall(b"k")  # everything arrived


def serve(kind: str, port: int) -> None:
    """Accept on loopback ``port`` until killed: ``echo`` echoes, ``sink`` swallows and acks."""
    handler = _echo if kind == "echo" else _sink
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def connect(port: int) -> socket.socket:
    """A loopback client socket with Nagle off, so that small messages leave at once."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def ping(port: int, count: int) -> list[float]:
    """Round trips of a MESSAGE-byte message, in microseconds."""
    payload = b"x" * MESSAGE
    samples = []
    with connect(port) as sock:
        for _ in range(20):  # warm up
            sock.sendall(payload)
            sock.recv(MESSAGE)
        for _ in range(count):
            start = time.perf_counter_ns()
            sock.sendall(payload)
            got = 0
            while got < MESSAGE:
                got += len(sock.recv(MESSAGE - got))
            samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def stream(port: int, total: int) -> float:
    """Send ``total`` bytes; MB/s until the sink has them all."""
    chunk = memoryview(b"\0" * CHUNK)
    with connect(port) as sock:
        start = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(chunk)
            sent += CHUNK
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b"k"
        return total / (time.perf_counter() - start) / 1e6


@contextlib.contextmanager
def socat(target: int) -> Iterator[int]:
    binary = shutil.which("socat")
    if binary is None:
        raise SystemExit("socat is not installed")
    port = free_port()
    proc = subprocess.Popen([binary, "-b", "262144", f"TCP-LISTEN:{port},reuseaddr,fork,bind=127.0.0.1",
                             f"TCP:127.0.0.1:{target}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: socket.create_connection(("127.0.0.1", port)).close() is None, 10,
                   "socat", proc)
        yield port
    finally:
        stop_pid(proc.pid, 3, proc)


@contextlib.contextmanager
def chaosllm_proxy(loop: str, targets: dict[str, int]) -> Iterator[dict[str, int]]:
    api_port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "chaosllm.cli", "proxy", "serve", "--port",
                             str(api_port), "--loop", loop], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(lambda: urllib.request.urlopen(url + "/version").status == 200, 20,
                   "chaosllm proxy", proc)
        ports = {}
        for name, target in targets.items():
            body = json.dumps({"name": name, "listen": "127.0.0.1:0",
                               "upstream": f"127.0.0.1:{target}"}).encode()
            with urllib.request.urlopen(urllib.request.Request(url + "/proxies", body)) as resp:
                ports[name] = int(json.load(resp)["listen"].rsplit(":", 1)[1])
        yield ports
    finally:
        stop_pid(proc.pid, 5, proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pings", type=int, default=2000, help="round trips per path per round")
    parser.add_argument("--gib", type=float, default=1.0, help="GiB per throughput sample")
    args = parser.parse_args()
    total = int(args.gib * (1 << 30)) // CHUNK * CHUNK

    echo_port, sink_port = free_port(), free_port()
    servers = [multiprocessing.Process(target=serve, args=(kind, port), daemon=True)
               for kind, port in (("echo", echo_port), ("sink", sink_port))]
    for server in servers:
        server.start()
    for port in (echo_port, sink_port):
        wait_until(lambda p=port: socket.create_connection(("127.0.0.1", p)).close() is None,
                   10, "benchmark servers")

    with contextlib.ExitStack() as stack:
        paths = {"direct": {"echo": echo_port, "sink": sink_port}}
        paths["socat -b 262144"] = {"echo": stack.enter_context(socat(echo_port)),
                                    "sink": stack.enter_context(socat(sink_port))}
        for loop in ("uvloop", "asyncio"):
            paths[f"chaosllm ({loop})"] = stack.enter_context(
                chaosllm_proxy(loop, {"echo": echo_port, "sink": sink_port}))
        rtts: dict[str, list[float]] = {name: [] for name in paths}
        rates: dict[str, list[float]] = {name: [] for name in paths}
        block = max(1, args.pings // 10)
        for round_no in range(args.rounds):
            # Small blocks of round trips, so that a burst of load on the
            # shared machine lands on every path alike.
            for _ in range(0, args.pings, block):
                for name, ports in paths.items():
                    rtts[name].extend(ping(ports["echo"], block))
            for name, ports in paths.items():
                rates[name].append(stream(ports["sink"], total))
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    for server in servers:
        server.terminate()

    def quantile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    base50, base99 = quantile(rtts["direct"], 0.5), quantile(rtts["direct"], 0.99)
    print(f"\n{args.rounds} rounds x {args.pings} round trips of {MESSAGE} B; "
          f"{args.rounds} x {total / (1 << 30):.2f} GiB streams; paths alternated\n")
    print(f"{'path':<20} {'rtt p50':>9} {'rtt p99':>9} {'added p50':>10} {'added p99':>10} "
          f"{'throughput':>12}")
    for name in paths:
        p50, p99 = quantile(rtts[name], 0.5), quantile(rtts[name], 0.99)
        rate = statistics.median(rates[name])
        added = "" if name == "direct" else f"{p50 - base50:>8.1f}us {p99 - base99:>8.1f}us"
        print(f"{name:<20} {p50:>7.1f}us {p99:>7.1f}us {added:>21} {rate:>8.0f} MB/s")
    socat50 = quantile(rtts["socat -b 262144"], 0.5) - base50
    socat_rate = statistics.median(rates["socat -b 262144"])
    for loop in ("uvloop", "asyncio"):
        name = f"chaosllm ({loop})"
        added = quantile(rtts[name], 0.5) - base50
        print(f"{name}: added p50 = {added / socat50:.2f} x socat's (target <= 2), "
              f"throughput = {statistics.median(rates[name]) / socat_rate:.2f} x socat's "
              f"(target >= 1)")


if __name__ == "__main__":
    main()
