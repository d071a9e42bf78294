"""No credential of a URL setting, no token echoed by a server and no inline secret
reaches a result, an error, the journal, chaostoolkit.log, the console,
``chaosllm cleanup``'s output or a healer's command line.

The servers here are adversarial: they require the credentials they are given
and quote every request header back in their error bodies.
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import subprocess
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm._clients.rabbitmq import Management
from chaosllm.alertmanager.probes import alertmanager_alerts
from chaosllm.controls import grafana, silence
from chaosllm.errors import ChaosLLMError
from chaosllm.faults import Ledger
from chaosllm.faults.healer import entry_ref, is_healer
from chaosllm.observability.probes import loki_count, trace_error_ratio
from chaosllm.postgres import actions as postgres
from chaosllm.proxy import actions as proxy
from chaosllm.rabbitmq import actions as rabbitmq
from chaosllm.redis import actions as redis
from chaosllm.slo import probes as slo
from tests.chaos_run import CHAOSLLM, chaos_env, run_experiment
from tests.http_server import ThreadedHTTPServer

USER, PASSWORD = "admin", "Pr0xyApiPw"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
TOKEN = "PromTok" + "0123456789abcdef" * 2
INLINE = "InlineSecretValue42"
ROLLBACKS = {"name": "chaosllm-rollbacks", "provider": {"type": "python",
                                                         "module": "chaosllm.controls.rollbacks"}}
REDACT = {"name": "chaosllm-redact", "provider": {"type": "python", "module": "chaosllm.controls.redact"}}


def _headers_text(handler: http.server.BaseHTTPRequestHandler) -> str:
    return "".join(f"{key}: {value}\n" for key, value in handler.headers.items())


class EchoingServer(ThreadedHTTPServer):
    """An HTTP server whose ``answer(handler)`` gives ``(status, body)``."""

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler], tuple[int, bytes]]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = json.loads(self.rfile.read(length)) if length else None
                status, data = answer(self)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


class AuthToxiproxy:
    """Toxiproxy's API that counts the requests with the right Basic
    authentication, ignores ``ttl_ms`` (so each fault gets a healer) and has one
    proxy ``pg``; every error quotes the request's headers."""

    def __init__(self) -> None:
        self.toxics: dict[str, Any] = {}
        self.requests = self.authorized = 0
        self.http = EchoingServer(self._answer)
        self.url = f"http://{USER}:{PASSWORD}@127.0.0.1:{self.http.port}"

    def _answer(self, req: Any) -> tuple[int, bytes]:
        def reply(status: int, body: Any) -> tuple[int, bytes]:
            return status, json.dumps(body).encode()

        # Like a Toxiproxy without authentication in front, it also answers
        # requests without credentials; the tests check that they were sent.
        self.requests += 1
        self.authorized += req.headers.get("Authorization") == f"Basic {BASIC}"
        parts = req.path.strip("/").split("/")
        proxy = {"name": "pg", "listen": "127.0.0.1:1", "upstream": "127.0.0.1:2", "enabled": True,
                 "toxics": list(self.toxics.values())}
        if parts == ["proxies"]:
            return reply(200, {"pg": proxy})
        if len(parts) < 2 or parts[1] != "pg":
            return reply(404, {"error": "proxy not found; you sent:\n" + _headers_text(req)})
        if req.command == "GET":
            return (404, b"{}") if parts[-1] == "stats" else reply(200, proxy)
        if req.command == "POST":
            toxic = {k: v for k, v in req.body.items() if k != "ttl_ms"}
            self.toxics[toxic["name"]] = toxic
            return reply(200, toxic)
        return reply(204 if self.toxics.pop(parts[-1], None) else 404, {})


class EchoingPrometheus:
    """Prometheus that fails every query and quotes the request headers, placing
    the credential where a 300-character quote of the body would cut it in half."""

    def __init__(self) -> None:
        self.http = EchoingServer(self._answer)
        self.url = f"http://127.0.0.1:{self.http.port}"

    def _answer(self, req: Any) -> tuple[int, bytes]:
        heads = _headers_text(req)
        if "json" in req.path:
            return 400, json.dumps({"status": "error", "error": heads}).encode()
        found = heads.find("Authorization: ")
        credential = heads.index(" ", found + len("Authorization: ")) + 1
        return 500, ("x" * max(0, 292 - credential) + heads).encode()


@pytest.fixture
def toxiproxy() -> Iterator[AuthToxiproxy]:
    fake = AuthToxiproxy()
    yield fake
    fake.http.close()


@pytest.fixture
def prometheus() -> Iterator[EchoingPrometheus]:
    fake = EchoingPrometheus()
    yield fake
    fake.http.close()


def _leaked(shown: dict[str, str], *secrets: str) -> dict[str, int]:
    """Where any of ``secrets`` appears, and how often. A secret cut in half
    leaks too: its first 8 characters are searched for."""
    counts = {place: sum(text.count(secret[:8]) for secret in secrets) for place, text in shown.items()}
    return {place: count for place, count in counts.items() if count}


def _action(name: str, module: str, func: str, scope: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "action", "name": name,
            "provider": {"type": "python", "module": module, "func": func,
                         "arguments": arguments, "secrets": [scope]}}


def test_proxy_api_credentials_are_in_no_output_and_no_healer_command_line(
    toxiproxy: AuthToxiproxy, tmp_path: Path
) -> None:
    experiment = {
        "title": "a fault proxy behind authentication",
        "description": "a toxic that outlives the run, and a refused one",
        "secrets": {"proxy": {"proxy_api_url": {"type": "env", "key": "TEST_PROXY_API_URL"}}},
        "method": [
            _action("slow-db", "chaosllm.proxy.actions", "inject_latency", "proxy",
                    proxy="pg", latency="100ms", duration="10m"),
            _action("no-such-proxy", "chaosllm.proxy.actions", "inject_latency", "proxy",
                    proxy="missing", duration="10m"),
        ],
    }
    proc, journal = run_experiment(experiment, tmp_path, env={"TEST_PROXY_API_URL": toxiproxy.url})
    assert [r["status"] for r in journal["run"]] == ["succeeded", "failed"], proc.stderr
    assert "proxy not found" in journal["run"][1]["exception"][-1]
    assert list(toxiproxy.toxics) == ["latency-pg"]
    # The toxic outlives the run: its healer waits for it.
    (entry_id, entry), = Ledger().entries().items()
    pid = entry["healer_pid"]
    assert pid and is_healer(pid, entry_id)
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    # what anyone on the machine sees in ps
    listed = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True,
                            text=True, timeout=10).stdout  # fmt: skip
    assert "chaosllm.faults heal ref:" in listed
    cleanup = subprocess.run([*CHAOSLLM, "cleanup"], capture_output=True, text=True, timeout=60,
                             env=chaos_env())
    assert cleanup.returncode == 0, cleanup.stderr
    assert "restored proxy-toxic:" in cleanup.stdout and toxiproxy.toxics == {}
    log = (tmp_path / "chaostoolkit.log").read_text()
    shown = {"journal": json.dumps(journal), "log": log, "stdout": proc.stdout,
             "stderr": proc.stderr, "healer argv": " ".join(argv), "ps": listed, "cleanup": cleanup.stdout,
             "cleanup stderr": cleanup.stderr, "ledger id": entry_id,
             "ledger description": entry["description"]}
    assert _leaked(shown, PASSWORD, BASIC) == {}
    # Masked where shown, sent to the server, and kept for the restorer in the 0600 ledger;
    # the healer names its entry by reference.
    assert journal["run"][0]["output"]["spec"]["proxy_api_url"] == (
        f"http://{USER}:***@127.0.0.1:{toxiproxy.http.port}")
    assert toxiproxy.authorized == toxiproxy.requests
    assert entry["state"]["proxy_api_url"] == toxiproxy.url
    assert Ledger().path.stat().st_mode & 0o077 == 0
    assert entry_ref(entry_id) in argv and entry_id not in argv


def test_a_token_a_server_echoes_is_in_no_journal_console_or_log(
    prometheus: EchoingPrometheus, tmp_path: Path
) -> None:
    def probe(name: str, base: str) -> dict[str, Any]:
        return {"type": "probe", "name": name, "tolerance": 1,
                "provider": {"type": "python", "module": "chaosllm.slo.probes", "func": "query_value",
                             "arguments": {"query": "up", "prometheus_base_url": base},
                             "secrets": ["prom"]}}

    experiment = {
        "title": "prometheus that echoes headers",
        "description": "two failing queries",
        "secrets": {"prom": {"prometheus_bearer_token": {"type": "env", "key": "TEST_PROM_TOKEN"}}},
        "method": [probe("cut-body", prometheus.url), probe("json-body", prometheus.url + "/json")],
    }
    proc, journal = run_experiment(experiment, tmp_path, env={"TEST_PROM_TOKEN": TOKEN})
    errors = [r["exception"][-1] for r in journal["run"]]
    assert "HTTP 500" in errors[0] and "Authorization: Bearer ***" in errors[0], errors
    assert "Authorization: Bearer ***" in errors[1], errors
    log = (tmp_path / "chaostoolkit.log").read_text()
    shown = {"journal": json.dumps(journal), "log": log, "stdout": proc.stdout, "stderr": proc.stderr}
    assert _leaked(shown, TOKEN) == {}


def test_an_echoed_management_password_is_not_quoted(prometheus: EchoingPrometheus) -> None:
    api = Management(f"http://guest:{PASSWORD}@127.0.0.1:{prometheus.http.port}", "read the overview")
    with pytest.raises(ChaosLLMError) as info:
        api.request("GET", "/overview")
    assert "HTTP 500" in str(info.value) and "Authorization: Basic ***" in str(info.value)
    basic = base64.b64encode(f"guest:{PASSWORD}".encode()).decode()
    assert _leaked({"error": str(info.value)}, PASSWORD, basic) == {}


def test_the_redact_control_keeps_inline_secrets_out_of_the_journal(
    toxiproxy: AuthToxiproxy, tmp_path: Path
) -> None:
    experiment = {
        "title": "inline secrets",
        "description": "secrets and credentials written into the experiment itself",
        "configuration": {"prometheus_base_url": f"http://reader:{INLINE}@127.0.0.1:1"},
        "secrets": {"proxy": {"proxy_api_url": toxiproxy.url},
                    "other": {"api_token": INLINE + "x", "from_env": {"type": "env", "key": "HOME"}}},
        "method": [{"type": "probe", "name": "list",
                    "provider": {"type": "python", "module": "chaosllm.proxy.probes",
                                 "func": "list_proxies", "secrets": ["proxy"]}},
                   {"type": "probe", "name": "list-inline",
                    "provider": {"type": "python", "module": "chaosllm.proxy.probes",
                                 "func": "list_proxies",
                                 "arguments": {"proxy_api_url": toxiproxy.url}}}],
        "controls": [ROLLBACKS, REDACT],
    }
    proc, journal = run_experiment(experiment, tmp_path)
    assert [r["status"] for r in journal["run"]] == ["succeeded", "succeeded"], proc.stderr
    assert toxiproxy.authorized == toxiproxy.requests > 0  # the credentials reached the server
    copy = journal["experiment"]
    assert copy["secrets"]["proxy"]["proxy_api_url"] == "***"
    assert copy["secrets"]["other"] == {"api_token": "***", "from_env": {"type": "env", "key": "HOME"}}
    assert copy["configuration"]["prometheus_base_url"] == "http://reader:***@127.0.0.1:1"
    # The same URL as a secret: masked whole, as a known secret value.
    assert copy["method"][1]["provider"]["arguments"]["proxy_api_url"] == "***"
    assert [c["name"] for c in copy["controls"]] == ["chaosllm-rollbacks", "chaosllm-redact"]
    # The journal the run extension wrote last is still the rollbacks control's.
    assert journal["extensions"][-1]["name"] == "chaosllm-rollbacks"
    log = (tmp_path / "chaostoolkit.log").read_text()
    shown = {"journal": json.dumps(journal), "log": log, "stdout": proc.stdout, "stderr": proc.stderr}
    assert _leaked(shown, PASSWORD, BASIC, INLINE) == {}


def test_the_redact_control_masks_what_other_extensions_log(tmp_path: Path) -> None:
    """Activities of other extensions may quote a secret in an exception or a
    result, which Chaos Toolkit logs (the result at DEBUG, into chaostoolkit.log)."""

    def probe(name: str, module: str, func: str, **arguments: str) -> dict[str, Any]:
        return {"type": "probe", "name": name, "provider": {
            "type": "python", "module": module, "func": func, "arguments": arguments,
            "secrets": ["other"]}}

    experiment = {
        "title": "another extension's activities",
        "description": "one raises an error quoting the secret, one returns it",
        "secrets": {"other": {"token": {"type": "env", "key": "TEST_OTHER_TOKEN"}}},
        "method": [probe("quotes-it", "ipaddress", "ip_address", address="${token}"),
                   probe("returns-it", "os.path", "basename", p="/tokens/${token}")],
        "controls": [ROLLBACKS, REDACT],
    }
    proc, journal = run_experiment(experiment, tmp_path, env={"TEST_OTHER_TOKEN": TOKEN})
    assert [r["status"] for r in journal["run"]] == ["failed", "succeeded"], proc.stderr
    assert journal["run"][1]["output"] == "***"
    log = (tmp_path / "chaostoolkit.log").read_text()
    assert "does not appear to be an IPv4 or IPv6 address" in log
    shown = {"journal": json.dumps(journal), "log": log, "stdout": proc.stdout, "stderr": proc.stderr}
    assert _leaked(shown, TOKEN) == {}


URL_SETTINGS: dict[str, Callable[[str], Any]] = {
    "redis_url": lambda at: redis.flush_keys("x:*", redis_url=f"redis://u:{PASSWORD}@{at}/0"),
    "postgres_dsn (URL)": lambda at: postgres.terminate_backends(
        application_name="x", postgres_dsn=f"postgresql://u:{PASSWORD}@{at}/db"),
    "postgres_dsn (key=value)": lambda at: postgres.terminate_backends(
        application_name="x", postgres_dsn=f"host={at.split(':')[0]} port={at.split(':')[1]} "
                                           f"user=u password={PASSWORD} dbname=db"),
    "rabbitmq_url": lambda at: rabbitmq.purge_queue("q", rabbitmq_url=f"amqp://u:{PASSWORD}@{at}/%2F"),
    "rabbitmq_management_url": lambda at: rabbitmq.set_queue_limit(
        "q", 10, duration="1s", rabbitmq_url=f"amqp://u:{PASSWORD}@{at}/%2F",
        rabbitmq_management_url=f"http://u:{PASSWORD}@{at}"),
    "proxy_api_url": lambda at: proxy.inject_latency("p", proxy_api_url=f"http://u:{PASSWORD}@{at}"),
    "prometheus_base_url": lambda at: slo.query_value(
        "up", prometheus_base_url=f"http://u:{PASSWORD}@{at}"),
    "alertmanager_url": lambda at: alertmanager_alerts(alertmanager_url=f"http://u:{PASSWORD}@{at}"),
    "loki_url": lambda at: loki_count('{app="gateway"}', loki_url=f"http://u:{PASSWORD}@{at}"),
    "jaeger_url": lambda at: trace_error_ratio("gateway", jaeger_url=f"http://u:{PASSWORD}@{at}"),
}  # fmt: skip


@pytest.mark.parametrize("setting", sorted(URL_SETTINGS))
def test_a_url_settings_password_is_in_no_error_or_traceback(setting: str) -> None:
    """The error and its whole chain of causes, as chaostoolkit.log prints it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        at = f"127.0.0.1:{probe.getsockname()[1]}"  # closed again: refused
    with pytest.raises(ChaosLLMError) as info:
        URL_SETTINGS[setting](at)
    assert at in str(info.value)  # the target is named, without its credentials
    shown = {"error": str(info.value), "traceback": "".join(traceback.format_exception(info.value))}
    assert _leaked(shown, PASSWORD) == {}


@pytest.fixture
def refusing() -> Iterator[str]:
    """An Alertmanager or Grafana that refuses every request (401), quoting its headers."""
    server = EchoingServer(lambda req: (401, json.dumps({"message": _headers_text(req)}).encode()))
    yield f"http://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
    server.close()


def test_a_silence_refused_with_url_credentials_stops_the_run_leaving_nothing(refusing: str) -> None:
    with pytest.raises(InterruptExecution) as info:
        silence.before_experiment_control({"title": "t"}, matchers={"alertname": "ChaosCausedOutage"},
                                          alertmanager_url=refusing)  # fmt: skip
    message = str(info.value)
    assert "Alertmanager" in message and "HTTP 401" in message and f"{USER}:***@" in message
    shown = {"error": message, "traceback": "".join(traceback.format_exception(info.value))}
    assert _leaked(shown, PASSWORD, BASIC) == {}
    assert Ledger().entries() == {}


def test_grafana_refusing_url_credentials_makes_no_annotation_and_shows_none(
    refusing: str, caplog: pytest.LogCaptureFixture
) -> None:
    journal = json.loads((Path(__file__).resolve().parents[2] / "journals" / "samples"
                          / "partition-healed.json").read_text())  # fmt: skip
    status = journal["status"]
    with caplog.at_level("INFO", logger="chaostoolkit"):
        grafana.after_experiment_control(journal, state=journal, grafana_url=refusing)
    extension = journal["extensions"][-1]
    assert extension["name"] == "chaosllm-grafana" and extension["annotations"] == []
    assert "HTTP 401" in extension["errors"][0] and f"{USER}:***@" in extension["errors"][0]
    assert journal["status"] == status
    assert _leaked({"journal": json.dumps(journal), "log": caplog.text}, PASSWORD, BASIC) == {}
