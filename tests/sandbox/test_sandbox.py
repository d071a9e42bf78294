"""The sandbox end to end: GraphQL, orders, restarts, a scenario, and a clean stop.

The tests share one sandbox and run in file order; the last one stops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest

from chaosllm.sandbox.app import launcher, stack
from chaosllm.sandbox.app._data import DEAD_QUEUE, ORDERS_QUEUE
from chaosllm.sandbox.app.state import read_state, status
from chaosllm.slo.spec import load_slo_file

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def graphql(state: dict[str, Any], query: str, variables: dict[str, Any] | None = None
            ) -> tuple[int, dict[str, Any]]:  # fmt: skip
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(state["settings"]["gateway_url"] + "/graphql", body,
                                 {"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


ORDER = "mutation($o: OrderInput!) { placeOrder(input: $o) { orderId status } }"


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def test_status_reports_every_service_running(sandbox: dict[str, Any]) -> None:
    result = status(Path(sandbox["dir"]))
    names = {row["name"] for row in result["services"]}
    assert names == {"postgres", "redis", "rabbitmq", "proxy", "ml-recs", "worker", "gateway",
                     "prometheus", "llm-primary", "llm-fallback", "tenant-mgmt", "alertmanager"}  # fmt: skip
    assert all(row["running"] and row["open_ports"] for row in result["services"])


COMPLETE = ("mutation($c: CompletionInput!) { complete(input: $c) "
            "{ requestId text provider completionTokens attempts billed } }")


def _billed(state: dict[str, Any], request_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(state["settings"]["postgres_dsn"]) as conn:
        return list(conn.execute("SELECT provider, completion_tokens FROM llm_usage WHERE request_id = %s",
                                 (request_id,)))  # fmt: skip


def test_a_completion_is_answered_by_the_primary_and_billed_once(sandbox: dict[str, Any]) -> None:
    request = {"requestId": "req-once", "tenantId": "acme", "prompt": "summarise my tickets"}
    status_code, body = graphql(sandbox, COMPLETE, {"c": request})
    assert status_code == 200, body
    answer = body["data"]["complete"]
    assert answer["provider"] == "primary" and answer["attempts"] == ["primary:ok"] and answer["billed"]
    status_code, again = graphql(sandbox, COMPLETE, {"c": request})  # a client retry of the same request
    assert status_code == 200 and again["data"]["complete"]["billed"] is False
    assert _billed(sandbox, "req-once") == [("primary", answer["completionTokens"])]


def test_a_primary_behind_a_disabled_proxy_falls_back(sandbox: dict[str, Any]) -> None:
    from chaosllm.proxy import actions as proxy_actions

    config = dict(sandbox["settings"])
    proxy_actions.disable_proxy("llm-primary", duration="20s", configuration=config)
    try:
        status_code, body = graphql(sandbox, COMPLETE, {"c": {"requestId": "req-fallback",
                                                                "tenantId": "acme", "prompt": "hello"}})
    finally:
        proxy_actions.enable_proxy("llm-primary", configuration=config)
    assert status_code == 200, body
    answer = body["data"]["complete"]
    assert answer["provider"] == "fallback" and answer["attempts"][-1] == "fallback:ok"
    assert answer["attempts"][0].startswith("primary:")
    assert _billed(sandbox, "req-fallback") == [("fallback", answer["completionTokens"])]


def test_tenant_mgmt_enforces_each_tenants_token_rate_limit_at_the_gateway(
        sandbox: dict[str, Any]) -> None:
    dsn = sandbox["settings"]["postgres_dsn"]

    def set_starter(tokens: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE tenant_plans SET tokens_per_minute = %s WHERE plan = 'starter'",
                         (tokens,))

    set_starter(20)
    try:
        time.sleep(6)  # tenant-mgmt reads the plans every 5 s
        codes = []
        for n in range(3):
            status_code, body = graphql(sandbox, COMPLETE, {"c": {
                "requestId": f"req-limit-{n}", "tenantId": "initech", "prompt": "hi",
                "maxTokens": 16}})
            codes.append(status_code)
        assert codes[0] == 200 and codes[1:] == [429, 429], codes
        assert "over its token rate limit (20 tokens per minute)" in body["errors"][0]["message"]
        assert _billed(sandbox, "req-limit-1") == []
        other, body = graphql(sandbox, COMPLETE, {"c": {"requestId": "req-limit-other",
                                                        "tenantId": "acme", "prompt": "hi"}})
        assert other == 200, body
    finally:
        set_starter(6000)



def test_gateway_answers_queries(sandbox: dict[str, Any]) -> None:
    status, answer = graphql(sandbox, "{ catalog { source models { id provider } } }")
    assert status == 200
    models = answer["data"]["catalog"]["models"]
    assert {"id": "dbrx", "provider": "databricks"} in models and len(models) == 12
    status, answer = graphql(sandbox, '{ catalog(provider: "meta") { models { id } } }')
    assert {m["id"] for m in answer["data"]["catalog"]["models"]} == {"llama-3-70b", "llama-3-8b"}
    status, answer = graphql(sandbox, "{ tenants { id plan } }")
    assert {"id": "acme", "plan": "enterprise"} in answer["data"]["tenants"]
    query = "query($t: ID!) { recommendations(tenantId: $t, limit: 2) { source items { model { id } } } }"
    status, answer = graphql(sandbox, query, {"t": "acme"})
    assert status == 200
    recs = answer["data"]["recommendations"]
    assert recs["source"] == "ml-recs" and len(recs["items"]) == 2
    status, answer = graphql(sandbox, "{ nosuchfield }")
    assert status == 400 and "nosuchfield" in answer["errors"][0]["message"]


def test_orders_reach_postgres_exactly_once(sandbox: dict[str, Any]) -> None:
    order = {"orderId": "test-order-1", "tenantId": "globex", "modelId": "dbrx", "tokens": 1200}
    for _ in range(3):  # a client retrying the same order
        status, answer = graphql(sandbox, ORDER, {"o": order})
        assert status == 200 and answer["data"]["placeOrder"]["status"] == "accepted"
    status, answer = graphql(sandbox, ORDER, {"o": {**order, "orderId": "bad", "tokens": -1}})
    assert status == 400
    dsn = sandbox["settings"]["postgres_dsn"]

    def rows() -> list[Any]:
        with psycopg.connect(dsn) as conn:
            return conn.execute("SELECT order_id, tenant_id, tokens FROM orders "
                                "WHERE order_id IN ('test-order-1', 'bad')").fetchall()  # fmt: skip

    wait_for(rows)
    time.sleep(1.0)  # the duplicates are consumed by now, and must not have been written
    assert rows() == [("test-order-1", "globex", 1200)]
    # A poison message goes to the dead-letter queue, not back to the worker.
    with pika.BlockingConnection(pika.URLParameters(sandbox["settings"]["rabbitmq_url"])) as conn:
        channel = conn.channel()
        channel.basic_publish("", ORDERS_QUEUE, b"{not json")

        def dead() -> int:
            return int(channel.queue_declare(DEAD_QUEUE, passive=True).method.message_count)

        assert wait_for(dead) == 1
        assert channel.queue_declare(ORDERS_QUEUE, passive=True).method.message_count == 0


def test_supervisor_restarts_a_killed_replica(sandbox: dict[str, Any]) -> None:
    directory = Path(sandbox["dir"])
    pidfile = directory / "gateway-0.pid"
    old = int(pidfile.read_text())
    os.kill(old, signal.SIGKILL)

    def replaced() -> int:
        new = int(pidfile.read_text())
        return new if new != old and launcher.alive(new) else 0

    new = wait_for(replaced)
    events = [json.loads(line) for line in (directory / "events.jsonl").read_text().splitlines()]
    ready = wait_for(lambda: [e for e in _events(directory) if e["event"] == "replica_ready"
                              and e["pid"] == new])  # fmt: skip
    assert any(e["event"] == "replica_exited" and e["pid"] == old and e["returncode"] == -9
               for e in events + _events(directory))  # fmt: skip
    assert 0 < ready[0]["recovery_seconds"] < 30
    assert graphql(sandbox, "{ tenants { id } }")[0] == 200


def _events(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (directory / "events.jsonl").read_text().splitlines()]


def test_pod_crash_scenario_runs_end_to_end(sandbox: dict[str, Any], tmp_path: Path) -> None:
    from chaosllm.settings import env_name

    journal = tmp_path / "journal.json"
    env = {**os.environ, **{env_name(k): str(v) for k, v in sandbox["settings"].items()}}
    experiment = ROOT / "experiments/scenarios/local/02-pod-crash-recovery.json"
    proc = subprocess.run(
        [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()",
         "--log-file", str(tmp_path / "chaos.log"), "run", "--journal-path", str(journal),
         str(experiment)],
        env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    data = json.loads(journal.read_text())
    assert data["status"] == "completed", proc.stdout[-3000:]
    after = {p["activity"]["name"]: p for p in data["steady_states"]["after"]["probes"]}
    assert all(p["tolerance_met"] for p in after.values()), after
    assert after["no-failed-requests"]["output"] == 0
    assert 0 < after["recovery-below-30s"]["output"] < 30  # replicas really were killed
    assert [r["status"] for r in data["run"]] == ["succeeded", "succeeded"]
    # The guard and the charts come from the shared SLO file that 'sandbox env' names.
    extensions = {e["name"]: e for e in data["extensions"]}
    shared = load_slo_file(sandbox["settings"]["slo_file"])
    assert extensions["chaosllm-guard"]["conditions"] == shared.guard
    assert extensions["chaosllm-guard"]["samples"] > 0 and not extensions["chaosllm-guard"]["aborted"]
    series = {s["name"]: s for s in extensions["chaosllm-metrics"]["series"]}
    assert {"gateway p95 latency", "cache hit ratio", "orders queued"} <= set(series)
    assert series["gateway p95 latency"]["threshold"] == 1.0 and series["gateway p95 latency"]["points"]
    load = next(e for e in data["extensions"] if e["name"] == "sandbox-load")["summary"]
    assert load["requests"] > 100 and load["failed"] == 0 and load["by_op"]["order"]["requests"]


def test_the_quickstart_on_an_idle_sandbox_shows_its_faults_bite(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    """README's quickstart as written: the experiment's own load control fills the cache."""
    from chaosllm.report.model import load_journal
    from chaosllm.sandbox.app.state import settings_env

    journal = tmp_path / "cache.json"
    env = {**os.environ, **settings_env(sandbox), "CHAOSLLM_SANDBOX_DIR": str(sandbox["dir"])}
    proc = subprocess.run(
        [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()",
         "--log-file", str(tmp_path / "chaos.log"), "run", "--journal-path", str(journal),
         str(ROOT / "experiments/application/cache-failure.json")],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert json.loads(journal.read_text())["status"] == "completed", proc.stdout[-3000:]
    report = load_journal(journal)
    effects = {fault.kind: fault.effect for fault in report.faults}
    assert set(effects) == {"redis-expire", "redis-flush", "redis-maxmemory", "redis-pause"}, effects
    assert "observed" in effects.values(), effects
    if report.verdict == "inconclusive":  # allowed, if it names the fault that did not bite
        missed = [f.name for f in report.faults if f.effect != "observed"]
        assert all(any(name in reason for reason in report.verdict_reasons) for name in missed)
    else:
        assert report.verdict == "passed", report.verdict_reasons


def _sandbox_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaosllm.cli", "sandbox", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_up_on_a_running_sandbox_is_one_line_and_changes_nothing(sandbox: dict[str, Any]) -> None:
    directory = sandbox["dir"]
    before = read_state(Path(directory))
    for extra in ([], ["--json"]):
        proc = _sandbox_cli("up", "--dir", directory, *extra)
        assert proc.returncode == 1
        assert proc.stdout == ""
        assert proc.stderr.startswith(f"chaosllm sandbox up: error: the sandbox in {directory} "
                                      "is already running (")  # fmt: skip
        assert proc.stderr.rstrip().endswith("run 'chaosllm sandbox down' first")
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert read_state(Path(directory)) == before
    assert status(Path(directory))["running"] is True


def test_no_json_output_shows_a_credential(sandbox: dict[str, Any]) -> None:
    settings = sandbox["settings"]
    password = urllib.parse.urlsplit(settings["rabbitmq_management_url"]).password
    assert password  # the sandbox's RabbitMQ URLs carry its credentials
    for command in ("status", "env"):
        proc = _sandbox_cli(command, "--dir", sandbox["dir"], "--json")
        assert proc.returncode == 0, proc.stderr
        shown = json.loads(proc.stdout)
        assert f":{password}@" not in proc.stdout
        assert "amqp://guest:***@127.0.0.1:" in proc.stdout or command == "status"
    # Only the shell exports, meant for eval, carry the real URLs.
    exports = _sandbox_cli("env", "--dir", sandbox["dir"]).stdout
    assert f"CHAOSLLM_RABBITMQ_MANAGEMENT_URL={settings['rabbitmq_management_url']}" in exports
    assert shown["CHAOSLLM_GATEWAY_URL"] == settings["gateway_url"]


def test_down_stops_every_process_and_port(sandbox: dict[str, Any]) -> None:
    directory = Path(sandbox["dir"])
    state = read_state(directory)
    pids = [int(p.read_text()) for p in directory.glob("gateway-*.pid")]
    ports = []
    for info in state["services"].values():
        pids += [info["pid"], *info.get("pids", []), info.get("postmaster_pid", info["pid"])]
        ports += [info["port"], *info.get("ports", [])]
    assert all(launcher.alive(p) for p in pids)
    result = stack.down(directory)
    assert result["running"] == []
    assert [p for p in pids if launcher.alive(p)] == []
    assert [p for p in ports if launcher.port_open(p)] == []
    assert status(directory)["running"] is False
    out = subprocess.run([sys.executable, "-m", "chaosllm.cli", "sandbox", "status", "--dir",
                          str(directory)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "nothing running, no port open" in out

