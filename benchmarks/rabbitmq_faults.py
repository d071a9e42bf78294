"""RabbitMQ faults: how fast they run and how current the probes are, against the obvious way.

Starts a private rabbitmq-server and prints medians:

- flood: ``flood_queue`` (unconfirmed, one confirm at the end) against
  publishing the same messages with a confirm for each;
- drop: ``drop_messages`` over a full ``limit`` (messages examined per second);
- depth: ``queue_depth`` (a passive queue.declare) against the management
  API's ``messages_ready``: the call's latency, and how long after a purge
  each first reports the empty queue;
- limit: from ``set_queue_limit`` returning until the queue refuses a publish;
- heal: from the end of a ``set_queue_limit`` duration until the detached
  healer has removed the policy.

Run: ``python benchmarks/rabbitmq_faults.py --trials 5 --messages 10000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median(func: Callable[[], float], trials: int) -> float:
    return statistics.median(func() for _ in range(trials))


def _until(check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until ``check()`` is true, polling every 10 ms."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("condition not met")
        time.sleep(0.01)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    from chaosllm.sandbox.app import launcher

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHAOSLLM_STATE_DIR"] = str(Path(tmp) / "state")
        with launcher.running(launcher.start_rabbitmq(Path(tmp) / "broker")) as broker:
            bench(args, broker.url, broker.extra["management_url"])


def bench(args: argparse.Namespace, url: str, mgmt_url: str) -> None:
    import pika

    from chaosllm._clients.rabbitmq import Management
    from chaosllm.faults import Ledger
    from chaosllm.rabbitmq import actions, probes

    kw: dict[str, Any] = {"rabbitmq_url": url}
    both: dict[str, Any] = {**kw, "rabbitmq_management_url": mgmt_url}
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare("bench")
    mgmt = Management(mgmt_url, "benchmark")
    n, body = args.messages, b"x" * args.size

    def flood() -> float:
        channel.queue_purge("bench")
        started = time.perf_counter()
        actions.flood_queue("bench", count=n, size_bytes=args.size, **kw)
        return time.perf_counter() - started

    def confirmed() -> float:
        channel.queue_purge("bench")
        each = connection.channel()
        each.confirm_delivery()
        started = time.perf_counter()
        for _ in range(n):
            each.basic_publish("", "bench", body)
        elapsed = time.perf_counter() - started
        each.close()
        return elapsed

    # Interleaved, so that both see the same load on a shared machine.
    pairs = [(flood(), confirmed()) for _ in range(args.trials)]
    ours, peer = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    print(f"flood {n} x {args.size} B: flood_queue {n / ours:,.0f} msg/s, "
          f"a confirm per message {n / peer:,.0f} msg/s, ratio {peer / ours:.1f}x")  # fmt: skip

    limit = min(2000, n)

    def drop() -> float:
        actions.flood_queue("bench", count=limit, size_bytes=args.size, **kw)
        started = time.perf_counter()
        actions.drop_messages("bench", fraction=0.5, limit=limit, **kw)
        return time.perf_counter() - started

    print(f"drop_messages over {limit}: {limit / _median(drop, args.trials):,.0f} messages examined/s")

    def amqp_depth() -> int:
        return probes.queue_depth("bench", **kw)

    def mgmt_depth() -> Any:
        return mgmt.queue("/", "bench").get("messages_ready")

    def latency(read: Callable[[], Any]) -> float:
        started = time.perf_counter()
        read()
        return time.perf_counter() - started

    def staleness(read: Callable[[], Any]) -> float:
        actions.flood_queue("bench", count=100, size_bytes=16, **kw)
        _until(lambda: read() not in (0, None))
        channel.queue_purge("bench")
        return _until(lambda: read() == 0)

    trials = max(args.trials, 3)
    print(f"depth call: queue_depth {_median(lambda: latency(amqp_depth), trials) * 1000:.1f} ms, "
          f"management API {_median(lambda: latency(mgmt_depth), trials) * 1000:.1f} ms")  # fmt: skip
    print(f"empty queue first reported after a purge: queue_depth "
          f"{_median(lambda: staleness(amqp_depth), 3) * 1000:.0f} ms, management API "
          f"{_median(lambda: staleness(mgmt_depth), 3) * 1000:.0f} ms")  # fmt: skip

    def refused(probe: Any) -> bool:
        try:
            probe.basic_publish("", "bench", b"p")
        except pika.exceptions.NackError:
            return True
        return False

    def takes_hold() -> float:
        channel.queue_purge("bench")
        probe = connection.channel()
        probe.confirm_delivery()
        actions.set_queue_limit("bench", max_length=0, overflow="reject-publish", **both)
        elapsed = _until(lambda: refused(probe))
        probe.close()
        actions.remove_queue_limit("bench", **both)
        return elapsed

    hold = _median(takes_hold, args.trials)
    print(f"limit: a publish refused {hold * 1000:.0f} ms after set_queue_limit returned")

    def heal() -> float:
        actions.set_queue_limit("bench", max_length=1, duration="1s", **both)
        ends = time.perf_counter() + 1.0
        _until(lambda: mgmt.policy("/", "chaosllm-queue-limit-bench") is None)
        elapsed = time.perf_counter() - ends
        _until(lambda: not Ledger().entries())  # the healer drops its entry just after
        return elapsed

    print(f"heal: policy removed {_median(heal, trials) * 1000:.0f} ms after the duration ended")
    connection.close()


if __name__ == "__main__":
    main()
