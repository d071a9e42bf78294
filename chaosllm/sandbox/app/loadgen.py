"""An open-loop load generator for the sandbox.

``python -m chaosllm.sandbox.app.loadgen --url http://127.0.0.1:N --out FILE
--rate 20 --duration 60 [--max-requests N] [--target gateway|recs]``.

Requests are started on a fixed schedule whatever the target's speed, and
each latency is measured from the moment the request was *due*, so a slow
target cannot hide its slowness by slowing the generator down (no
coordinated omission). One JSON line per finished request goes to ``FILE``:
``{"t": due_epoch, "lat": seconds, "op": "catalog", "ok": true, "status": 200}``;
accepted orders also carry ``"order": id``, and answered completions
``"request": id`` and ``"provider"``. The ``complete`` operation (a streamed
completion from the model providers, through the gateway) is not in the
default mix; add it with ``--mix``, e.g. ``catalog=40,complete=30,order=30``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from chaosllm.sandbox.app._data import MODELS, TENANTS

__all__ = ["DEFAULT_MIX", "build_request", "main"]

DEFAULT_MIX = {"catalog": 45, "tenants": 15, "recommendations": 20, "order": 20}
PROMPTS = ("summarising tickets", "code review", "translation", "search ranking", "chat support")


def build_request(op: str, rng: random.Random) -> tuple[str, dict[str, Any], str | None]:
    """(path, JSON body, order id) of one request of kind ``op``."""
    tenant = rng.choice(TENANTS)[0]
    if op == "catalog":
        return "/graphql", {"query": "{ catalog { source models { id name pricePerMillionTokens } } }"}, None
    if op == "tenants":
        return "/graphql", {"query": "{ tenants { id name plan } }"}, None
    if op == "recommendations":
        query = "query($t: ID!) { recommendations(tenantId: $t) { source items { model { id } score } } }"
        return "/graphql", {"query": query, "variables": {"t": tenant}}, None
    if op == "order":
        order_id = str(uuid.UUID(int=rng.getrandbits(128)))
        order = {"orderId": order_id, "tenantId": tenant,
                 "modelId": rng.choice(MODELS)[0], "tokens": rng.randint(1000, 100000)}  # fmt: skip
        query = "mutation($o: OrderInput!) { placeOrder(input: $o) { orderId status } }"
        return "/graphql", {"query": query, "variables": {"o": order}}, order_id
    if op == "complete":
        request_id = str(uuid.UUID(int=rng.getrandbits(128)))
        prompt = f"recommend a model for {rng.choice(PROMPTS)}"
        query = ("mutation($c: CompletionInput!) { complete(input: $c) "
                 "{ requestId provider completionTokens billed } }")
        return "/graphql", {"query": query, "variables": {"c": {
            "requestId": request_id, "tenantId": tenant, "prompt": prompt, "maxTokens": 16}}}, request_id
    if op == "recommend":  # straight at ml-recs, bypassing the gateway
        return "/recommend", {"tenantId": tenant, "limit": 3, "models": [m[0] for m in MODELS]}, None
    raise ValueError(f"unknown operation {op!r}")


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        url = urlsplit(args.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.local = threading.local()
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        if args.target == "recs":
            self.mix = {"recommend": 1}
        else:
            self.mix = dict(item.split("=") for item in args.mix.split(",")) if args.mix else {}
            self.mix = {k: int(v) for k, v in self.mix.items()} or dict(DEFAULT_MIX)

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.args.timeout)
            self.local.conn = conn
        return conn

    def one(self, due: float, op: str, seed: int) -> None:
        path, body, order = build_request(op, random.Random(seed))
        record: dict[str, Any] = {"t": round(due, 4), "op": op}
        try:
            conn = self._conn()
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            record["status"] = resp.status
            ok = resp.status == 200 and b'"errors"' not in payload
            record["ok"] = ok
            if ok and order is not None:
                record["request" if op == "complete" else "order"] = order
            if ok and op == "complete":
                record["provider"] = json.loads(payload)["data"]["complete"]["provider"]
            if not ok:
                record["error"] = payload[:200].decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            self.local.conn = None
            record.update(ok=False, status=0, error=f"{type(exc).__name__}: {exc}"[:200])
        record["lat"] = round(time.time() - due, 4)
        with self.lock:
            self.lines.append(json.dumps(record))

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
        if lines:
            with open(self.args.out, "a") as out:
                out.write("\n".join(lines) + "\n")

    def flusher(self) -> None:
        while not self.stop.wait(0.5):
            self.flush()

    def run(self) -> None:
        a = self.args
        rng = random.Random(a.seed)
        ops, weights = list(self.mix), list(self.mix.values())
        threading.Thread(target=self.flusher, daemon=True).start()
        pool = ThreadPoolExecutor(max_workers=a.concurrency)
        start = time.time()
        for i in range(a.max_requests):
            due = start + i / a.rate
            if due - start >= a.duration or self.stop.is_set():
                break
            delay = due - time.time()
            if delay > 0 and self.stop.wait(delay):
                break
            pool.submit(self.one, due, rng.choices(ops, weights)[0], rng.randrange(2**32))
        pool.shutdown(wait=True, cancel_futures=True)
        self.stop.set()
        self.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Open-loop load for the sandbox")
    parser.add_argument("--url", required=True, help="the gateway front, or ml-recs with --target recs")
    parser.add_argument("--out", required=True, help="JSON Lines file of results (appended)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--target", choices=("gateway", "recs"), default="gateway")
    parser.add_argument("--mix", default="", help="catalog=45,tenants=15,recommendations=20,order=20")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None, help="for a repeatable run")
    args = parser.parse_args(argv)
    generator = Generator(args)
    # SIGTERM stops the schedule; requests in flight finish and are recorded.
    signal.signal(signal.SIGTERM, lambda *_: generator.stop.set())
    generator.run()


if __name__ == "__main__":
    main()
