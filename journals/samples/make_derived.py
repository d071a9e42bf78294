"""Write the sample journals that need what no local run here can produce: fault
effects as the fault actions report them, a Kubernetes recovery criterion that
raised, a steady-state check that does not apply before the fault.

    .venv/bin/python journals/samples/make_derived.py

Each is built in the shape ``chaos run`` writes (see the real samples beside
this file), with the effect fields of ``chaosllm.journal_keys``. make_samples.py
runs this after the real runs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def provider(module: str, func: str, /, **arguments: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "python", "module": module, "func": func}
    if arguments:
        found["arguments"] = arguments
    return found


def ran(activity: dict[str, Any], start: float, end: float, output: Any = None,
        error: str | None = None, tolerance_met: bool | None = None) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {"activity": activity, "output": output, "start": at(start),
                             "status": "failed" if error else "succeeded", "end": at(end),
                             "duration": end - start}  # fmt: skip
    if error:
        entry["exception"] = ["Traceback (most recent call last):\n",
                              f"chaoslib.exceptions.ActivityFailed: {error}\n"]  # fmt: skip
    if tolerance_met is not None:
        entry["tolerance_met"] = tolerance_met
    return entry


def handle(kind: str, name: str, target: str, start: float, seconds: float | None,
           effect: str, evidence: dict[str, Any], **spec: Any) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "name": name, "target": target, "spec": spec, "started_at": at(start),
            "expires_at": at(start + seconds) if seconds is not None else None,
            "effect": effect, "evidence": evidence}  # fmt: skip


def journal(title: str, tags: list[str], hypothesis: dict[str, Any], before: list[dict[str, Any]],
            after: list[dict[str, Any]], run: list[dict[str, Any]], rollbacks: list[dict[str, Any]],
            end: float, extensions: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    experiment = {
        "version": "1.0.0", "title": title, "description": "A sample journal (see make_derived.py).",
        "tags": tags, "steady-state-hypothesis": hypothesis,
        "method": [r["activity"] for r in run], "rollbacks": [r["activity"] for r in rollbacks],
    }  # fmt: skip
    data: dict[str, Any] = {
        "chaoslib-version": "1.44.0", "platform": "Linux", "node": "sample", "experiment": experiment,
        "start": at(0), "status": "completed", "deviated": False,
        "steady_states": {"before": {"steady_state_met": True, "probes": before},
                          "after": {"steady_state_met": True, "probes": after}, "during": []},
        "run": run, "rollbacks": rollbacks, "end": at(end), "duration": end,
    }  # fmt: skip
    if extensions:
        data["extensions"] = extensions
    return data


def probe(name: str, module: str, func: str, tolerance: Any = True, /, **arguments: Any) -> dict[str, Any]:
    return {"type": "probe", "name": name, "tolerance": tolerance,
            "provider": provider(module, func, **arguments)}  # fmt: skip


def action(name: str, module: str, func: str, /, **arguments: Any) -> dict[str, Any]:
    return {"type": "action", "name": name, "provider": provider(module, func, **arguments)}


REDIS = "chaosllm.redis"
AVAILABLE = probe("redis-available", f"{REDIS}.probes", "is_available")
KEYS = probe("catalog-keys", f"{REDIS}.probes", "key_count", [50, 1000], pattern="catalog:*")


def cache_journal(title: str, fault: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    hypothesis = {"title": "Redis answers and the catalog is cached", "probes": [AVAILABLE, KEYS]}
    before = [
        ran(AVAILABLE, 0.0, 0.1, True, tolerance_met=True),
        ran(KEYS, 0.1, 0.2, 100, tolerance_met=True),
    ]
    after = [ran(AVAILABLE, 3.0, 3.1, True, tolerance_met=True), ran(KEYS, 3.1, 3.2, 100, tolerance_met=True)]
    return journal(
        title, ["redis", "weight:2"], hypothesis, before, after, [ran(fault, 0.3, 0.4, output)], [], 3.3
    )


def observed_pause() -> dict[str, Any]:
    fault = action("pause-redis-clients", f"{REDIS}.actions", "pause_clients", duration="2s")
    output = handle("redis-pause", "pause-redis 127.0.0.1:6390", "redis 127.0.0.1:6390", 0.3, 2.0,
                    "observed", {"clients_paused": 4, "commands_waited": 37}, mode="ALL")  # fmt: skip
    return cache_journal("Redis pause with an observed effect", fault, output)


def flush_without_effect() -> dict[str, Any]:
    fault = action("flush-cold-keys", f"{REDIS}.actions", "flush_keys", pattern="cold:*")
    output = {"target": "redis 127.0.0.1:6390", "pattern": "cold:*", "deleted": 0, "effect": "none",
              "evidence": {"deleted": 0, "matched": 0, "reason": "no key matched cold:*"}}  # fmt: skip
    return cache_journal("Cache flush that matched no key", fault, output)


def latency_unknown() -> dict[str, Any]:
    proxy = "chaosllm.proxy.actions"
    hypothesis = {"title": "Redis answers", "probes": [AVAILABLE]}
    inject = action("slow-redis", proxy, "inject_latency", proxy="redis", latency="300ms", duration="30s")
    remove = action("remove-slow-redis", proxy, "remove_toxic", proxy="redis", name="latency_downstream")
    output = handle("proxy-latency", "latency_downstream", "proxy redis", 0.3, 30.0, "unknown",
                    {"reason": "measured when removed"}, latency=300)  # fmt: skip
    removed = {"removed": True, "proxy": "redis", "name": "latency_downstream", "kind": "proxy-latency",
               "ended_at": at(6.0), "effect": "unknown",
               "evidence": {"reason": "the proxy went away before its counters were read"}}  # fmt: skip
    return journal("Redis latency whose effect could not be read", ["proxy"], hypothesis,
                   [ran(AVAILABLE, 0.0, 0.1, True, tolerance_met=True)],
                   [ran(AVAILABLE, 5.8, 5.9, True, tolerance_met=True)],
                   [ran(inject, 0.3, 0.4, output)], [ran(remove, 6.0, 6.1, removed)], 6.2)  # fmt: skip


def partition_healed() -> dict[str, Any]:
    """Scenario 4's shape: a 40 s partition healed by the method after 20 s, with metrics."""
    proxy = "chaosllm.proxy.actions"
    hypothesis = {"title": "Redis answers", "probes": [AVAILABLE]}
    cut = action("partition-postgres", proxy, "disable_proxy", proxy="postgres", duration="40s")
    heal = action("heal-partition", proxy, "enable_proxy", proxy="postgres")
    heal_again = action("enable-postgres", proxy, "enable_proxy", proxy="postgres")
    output = handle("proxy-partition", "partition-postgres", "proxy postgres", 2.0, 40.0, "unknown",
                    {"reason": "measured when removed"})  # fmt: skip
    healed = {"removed": True, "proxy": "postgres", "name": "partition-postgres", "kind": "proxy-partition",
              "ended_at": at(22.0), "effect": "observed",
              "evidence": {"connections_refused": 57, "connections_cut": 4}}  # fmt: skip
    points = [[T0.timestamp() + s, str(0.02 if s < 3 or s > 27 else 1.5 if s < 23 else 0.6)]
              for s in range(0, 31)]  # fmt: skip
    errors = [[T0.timestamp() + s, str(0.0 if s < 3 or s > 25 else 0.4)] for s in range(0, 31)]
    metrics = {"name": "chaosllm-metrics", "window": {"start": at(0), "end": at(31)}, "series": [
        {"name": "p95 latency", "query": "histogram_quantile(0.95, ...)", "unit": "s", "threshold": 1.0,
         "points": points},
        {"name": "error ratio{service=\"gateway\"}", "query": "sum by (service) (errors)", "unit": "ratio",
         "threshold": 0.05, "points": errors},
        {"name": "error ratio{service=\"catalog\"}", "query": "sum by (service) (errors)", "unit": "ratio",
         "threshold": 0.05, "points": [[x, "0"] for x, _ in errors]},
        {"name": "queue depth", "query": "sum(queue_depth)", "unit": None, "threshold": None, "points": []},
    ]}  # fmt: skip
    return journal("Network partition healed after 20 s", ["proxy", "scenario"], hypothesis,
                   [ran(AVAILABLE, 0.0, 0.1, True, tolerance_met=True)],
                   [ran(AVAILABLE, 30.0, 30.1, True, tolerance_met=True)],
                   [ran(cut, 2.0, 2.1, output), ran(heal, 22.0, 22.1, healed)],
                   [ran(heal_again, 30.2, 30.3, {"removed": False, "proxy": "postgres"})], 30.4,
                   [metrics])  # fmt: skip


def recovery_failed() -> dict[str, Any]:
    """Scenario 2 on Kubernetes: the pods were killed, the recovery criterion raised."""
    mesh = "chaosllm.chaosmesh"
    ready = probe("gateway-ready", f"{mesh}.probes", "list_chaos", [0, 10], namespace="shop")
    kill = action("kill-gateway-pod", f"{mesh}.actions", "kill_pods", namespace="shop",
                  label_selectors="app=gateway", name="kill-gateway")  # fmt: skip
    wait = {"type": "probe", "name": "gateway-recovers",
            "provider": provider(f"{mesh}.probes", "wait_for_recovery", kind="PodChaos",
                                 name="kill-gateway", namespace="shop", timeout="30s")}  # fmt: skip
    remove = action("remove-kill", f"{mesh}.actions", "remove_chaos", kind="PodChaos", name="kill-gateway",
                    namespace="shop")  # fmt: skip
    output = handle("PodChaos", "kill-gateway", "shop", 1.0, None, "observed",
                    {"pods_selected": 1, "pods_injected": 1}, action="pod-kill")  # fmt: skip
    return journal("Gateway pod crash recovery (Kubernetes)", ["chaos-mesh", "scenario"],
                   {"title": "The gateway has pods", "probes": [ready]},
                   [ran(ready, 0.0, 0.2, 0, tolerance_met=True)],
                   [ran(ready, 33.0, 33.2, 0, tolerance_met=True)],
                   [ran(kill, 1.0, 1.5, output), ran(wait, 1.6, 31.6, None, "no recovery within 30s")],
                   [ran(remove, 33.3, 33.5, {"removed": True, "kind": "PodChaos", "name": "kill-gateway"})],
                   33.6)  # fmt: skip


def breaker_not_applicable() -> dict[str, Any]:
    """A criterion about the fault period that says it does not apply before the fault."""
    sandbox = "chaosllm.sandbox.probes"
    holds = {"type": "jsonpath", "path": "$.holds", "expect": True}
    breaker = probe("database-breaker-opens-when-unreachable", sandbox, "breaker_trips", holds,
                    dependency="postgres")  # fmt: skip
    fault = action("exhaust-postgres", "chaosllm.postgres.actions", "exhaust_connections", duration="5s")
    output = handle("postgres-connections", "exhaust-postgres", "postgres 127.0.0.1:5433", 0.5, 5.0,
                    "observed", {"slots_taken": 97, "connections_refused": 23})  # fmt: skip
    release = action("release", "chaosllm.postgres.actions", "release_connections")
    before = {"applicable": False, "holds": True, "reason": "no fault has run yet"}
    after = {"applicable": True, "holds": True, "failures": 23, "opened": 2}
    return journal("Breaker opens when the database is unreachable", ["postgres", "scenario"],
                   {"title": "The breaker opens when the database fails", "probes": [breaker]},
                   [ran(breaker, 0.0, 0.2, before, tolerance_met=True)],
                   [ran(breaker, 6.0, 6.2, after, tolerance_met=True)],
                   [ran(fault, 0.4, 0.6, output)],
                   [ran(release, 6.3, 6.4, {"removed": False, "target": "postgres 127.0.0.1:5433"})],
                   6.5)  # fmt: skip


SAMPLES = {
    "effect-observed": observed_pause,
    "effect-none": flush_without_effect,
    "effect-unknown": latency_unknown,
    "partition-healed": partition_healed,
    "k8s-recovery-failed": recovery_failed,
    "not-applicable-before": breaker_not_applicable,
}


def main() -> int:
    for name, build in SAMPLES.items():
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
