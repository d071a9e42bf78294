"""The fault proxy's HTTP mode: its cost with no fault, and the fidelity of two faults.

Paths, measured alternately in one run so that machine noise hits all alike,
all in front of the same upstream on loopback (a small HTTP/1.1 server in this
script, so that its own cost stays low and steady: a 1 KiB answer, or 100
server-sent events in OpenAI's chunk shape, each written at once):

- direct: client -> upstream;
- tcp: ``chaosllm proxy serve``, a proxy in TCP mode, no toxic;
- http: the same server, a proxy in HTTP mode, no fault.

Prints the p50 each relay adds for a 1 KiB request (a whole answer of one
token) and for a 100-event stream (time to the last event), and their ratio;
then the time to first token with ``first_byte_delay`` 500 ms against 500 ms
(p50 and p99), and the share of requests that ``http_status`` at toxicity 0.3
answered over N requests::

    .venv/bin/python benchmarks/http_faults.py [--rounds 5] [--requests 200] [--status-requests 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaosllm.sandbox.app.launcher import free_port, stop_pid, wait_until  # noqa: E402

PROMPT = "x" * 1024
EVENT = b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [
    {"index": 0, "delta": {"content": "token "}, "finish_reason": None}]}).encode() + b"\n\n"


def _answer(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    with conn, reader, contextlib.suppress(OSError):  # a client may leave mid-stream
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            reader.read(length)
            if head.startswith(b"POST /stream"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                for _ in range(100):
                    conn.sendall(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")
                conn.sendall(b"0\r\n\r\n")
            else:
                body = b"y" * (1024 if head.startswith(b"POST") else 16)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)


def serve(port: int) -> None:
    """The upstream: answers on loopback ``port`` until killed."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_answer, args=(conn,), daemon=True).start()


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def whole(client: httpx.Client) -> float:
    started = time.perf_counter()
    resp = client.post("/whole", content=PROMPT)
    resp.raise_for_status()
    return time.perf_counter() - started


def stream(client: httpx.Client, first_only: bool = False) -> float:
    """Seconds to the last event (to the first with ``first_only``) of a 100-event stream."""
    started, events = time.perf_counter(), 0
    with client.stream("POST", "/stream", content=b"go") as resp:
        for line in resp.iter_lines():
            if line.startswith("data: "):
                events += 1
                if first_only:
                    return time.perf_counter() - started
    assert events == 100, events
    return time.perf_counter() - started


def measure(clients: dict[str, httpx.Client], probe: Callable[[httpx.Client], float],
            rounds: int, count: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(rounds):
        for name, client in clients.items():
            for _ in range(5):
                probe(client)  # warm up
            samples[name] += [probe(client) for _ in range(count)]
    return samples


def report_overhead(title: str, samples: dict[str, list[float]]) -> None:
    direct = statistics.median(samples["direct"])
    print(f"\n{title} (p50 over {len(samples['direct'])} requests per path)")
    print(f"  direct {direct * 1e6:9.1f} µs")
    added = {}
    for name in ("tcp", "http"):
        p50 = statistics.median(samples[name])
        added[name] = p50 - direct
        print(f"  {name:6} {p50 * 1e6:9.1f} µs  added {added[name] * 1e6:8.1f} µs")
    if added["tcp"] > 0:
        print(f"  http added / tcp added: {added['http'] / added['tcp']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="per path and round")
    parser.add_argument("--status-requests", type=int, default=10000)
    args = parser.parse_args()

    provider_port, api_port = free_port(), free_port()
    upstream = multiprocessing.get_context("spawn").Process(target=serve, args=(provider_port,),
                                                            daemon=True)
    upstream.start()
    procs = [subprocess.Popen([sys.executable, "-m", "chaosllm.cli", "proxy", "serve", "--port",
                               str(api_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10)
    try:
        wait_until(lambda: api.get("/version").status_code == 200, 20, "proxy")
        listen = {}
        for mode in ("tcp", "http"):
            body = api.post("/proxies", json={"name": mode, "listen": "127.0.0.1:0",
                                               "upstream": f"127.0.0.1:{provider_port}",
                                               "mode": mode}).json()
            listen[mode] = body["listen"]
        clients = {"direct": httpx.Client(base_url=f"http://127.0.0.1:{provider_port}", timeout=30),
                   **{m: httpx.Client(base_url=f"http://{listen[m]}", timeout=30) for m in listen}}
        report_overhead("1 KiB request, whole answer",
                        measure(clients, whole, args.rounds, args.requests))
        report_overhead("100-event stream, time to the last event",
                        measure(clients, stream, args.rounds, max(1, args.requests // 4)))

        http = clients["http"]
        base = [stream(http, first_only=True) for _ in range(args.requests)]
        api.post("/proxies/http/toxics", json={"name": "fbd", "type": "first_byte_delay",
                                               "attributes": {"delay": 500}})
        held = [stream(http, first_only=True) for _ in range(args.requests)]
        api.delete("/proxies/http/toxics/fbd")
        print(f"\nfirst_byte_delay 500 ms, time to first token over {args.requests} streams")
        for q in (0.5, 0.99):
            added = quantile(held, q) - statistics.median(base)
            print(f"  p{int(q * 100)}: {quantile(held, q) * 1000:.1f} ms (no fault p50 "
                  f"{statistics.median(base) * 1000:.1f} ms), added {added * 1000:.1f} ms, "
                  f"error {abs(added - 0.5) / 0.5 * 100:.2f} %")

        api.post("/proxies/http/toxics", json={"name": "429", "type": "http_status",
                                               "toxicity": 0.3, "attributes": {"status": 429}})
        codes = [http.get("/small").status_code for _ in range(args.status_requests)]
        share = codes.count(429) / len(codes)
        print(f"\nhttp_status 429 at toxicity 0.3 over {len(codes)} requests: "
              f"{share * 100:.2f} % ({abs(share - 0.3) * 100:.2f} points from 30 %)")
    finally:
        for proc in procs:
            stop_pid(proc.pid, proc=proc)
        if upstream.pid is not None:
            stop_pid(upstream.pid)
        upstream.join(5)


if __name__ == "__main__":
    main()
