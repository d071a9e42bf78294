"""Grafana, Loki and Jaeger cannot be installed here: each is a small local server
answering in its documented API shape, and records what it was sent."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from chaoslib.exceptions import InterruptExecution

from chaosllm.controls import grafana
from chaosllm.errors import ChaosLLMError, InvalidArgument, TargetUnreachable
from chaosllm.observability.probes import loki_count, trace_error_ratio
from chaosllm.sandbox.app.launcher import free_port

SAMPLES = Path(__file__).resolve().parents[2] / "journals" / "samples"
Answer = Callable[[str, str, dict[str, str], Any], tuple[int, Any]]


class StandIn:
    """Answers every request with ``answer(method, path, headers, body)``."""

    def __init__(self, answer: Answer) -> None:
        self.seen: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                json_body = "json" in (self.headers.get("Content-Type") or "")
                body = (json.loads(raw) if json_body else raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append({"method": self.command, "path": self.path, "headers": headers,
                                   "body": body})
                status, payload = answer(self.command, self.path, headers, body)
                out = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(payload, bytes)
                                 else "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _serve  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[Callable[[Answer], StandIn]]:
    made: list[StandIn] = []

    def make(answer: Answer) -> StandIn:
        made.append(StandIn(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_loki_count_sums_count_over_time_with_tenant_and_token(stand_in: Any) -> None:
    loki = stand_in(lambda m, p, h, b: (200, {"status": "success", "data": {
        "resultType": "matrix", "result": [{"metric": {}, "values": [[1, "4"], [2, "7"]]}]}}))
    count = loki_count('{app="gateway"} |= "error"', window="2m", loki_url=loki.url,
                       secrets={"loki_tenant": "marketplace", "loki_token": "t0ken-abc"})
    assert count == 7.0
    [request] = loki.seen
    query = parse_qs(urlsplit(request["path"]).query)
    assert urlsplit(request["path"]).path == "/loki/api/v1/query_range"
    assert query["query"] == ['sum(count_over_time({app="gateway"} |= "error"[120s]))']
    assert float(query["end"][0]) - float(query["start"][0]) == pytest.approx(120, abs=1)
    assert request["headers"]["x-scope-orgid"] == "marketplace"
    assert request["headers"]["authorization"] == "Bearer t0ken-abc"


def test_loki_refuses_a_bad_query_before_asking_and_names_an_unreachable_server(stand_in: Any) -> None:
    loki = stand_in(lambda m, p, h, b: (200, {}))
    with pytest.raises(InvalidArgument, match="stream selector"):
        loki_count("error", loki_url=loki.url)
    assert loki.seen == []
    with pytest.raises(TargetUnreachable, match="Loki"):
        loki_count('{app="x"}', loki_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChaosLLMError, match="loki_url"):
        loki_count('{app="x"}')


def _trace(error: bool) -> dict[str, Any]:
    tags = [{"key": "error", "type": "bool", "value": True}] if error else []
    return {"traceID": "t", "spans": [{"spanID": "a", "tags": [{"key": "http.status_code",
                                                                 "value": 200}]},
                                      {"spanID": "b", "tags": tags}]}


def test_trace_error_ratio_counts_traces_with_an_error_span(stand_in: Any) -> None:
    traces = [_trace(True), _trace(False), _trace(False), _trace(False)]
    jaeger = stand_in(lambda m, p, h, b: (200, {"data": traces, "total": 4, "errors": None}))
    assert trace_error_ratio("gateway", window="1m", operation="POST /graphql",
                             jaeger_url=jaeger.url) == 0.25
    query = parse_qs(urlsplit(jaeger.seen[0]["path"]).query)
    assert query["service"] == ["gateway"] and query["operation"] == ["POST /graphql"]
    assert int(query["end"][0]) - int(query["start"][0]) == pytest.approx(60e6, abs=2e6)
    empty = stand_in(lambda m, p, h, b: (200, {"data": [], "total": 0}))
    assert trace_error_ratio("gateway", jaeger_url=empty.url) is None
    with pytest.raises(InvalidArgument):
        trace_error_ratio("gateway", limit=0, jaeger_url=empty.url)


def _grafana(token: str) -> Answer:
    made = iter(range(1, 1000))

    def answer(method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {token}":
            return 401, {"message": "Unauthorized"}
        return 200, {"id": next(made), "message": "Annotation added"}

    return answer


def test_one_region_annotation_per_fault_with_its_real_window(stand_in: Any) -> None:
    server = stand_in(_grafana("g-secret"))
    journal = json.loads((SAMPLES / "partition-healed.json").read_text())
    grafana.after_experiment_control(journal, state=journal, dashboard_uid="llm-marketplace",
                                     grafana_url=server.url, secrets={"grafana_token": "g-secret"})
    [request] = server.seen
    note = request["body"]
    assert request["path"] == "/api/annotations" and note["dashboardUID"] == "llm-marketplace"
    assert note["timeEnd"] - note["time"] == pytest.approx(20_000, abs=500)  # the partition's 20 s
    assert note["tags"][:3] == ["chaos", journal["experiment"]["title"], "passed"]
    assert journal["extensions"][-1] == {"name": "chaosllm-grafana", "annotations": [1], "errors": []}


def test_a_grafana_outage_or_refusal_never_fails_the_run(stand_in: Any,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    journal = json.loads((SAMPLES / "effect-observed.json").read_text())
    status = journal["status"]
    with caplog.at_level(logging.WARNING, logger="chaostoolkit"):
        grafana.after_experiment_control(journal, state=journal,
                                         grafana_url=f"http://127.0.0.1:{free_port()}")
        server = stand_in(_grafana("right"))
        grafana.after_experiment_control(journal, state=journal, grafana_url=server.url,
                                         secrets={"grafana_token": "wrong-token-123"})
    unreachable, refused = journal["extensions"][-2:]
    assert unreachable["annotations"] == [] and "Grafana" in unreachable["errors"][0]
    assert "HTTP 401" in refused["errors"][0] and "wrong-token-123" not in refused["errors"][0]
    assert journal["status"] == status
    assert "wrong-token-123" not in caplog.text


def test_no_grafana_url_stops_the_run_before_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_GRAFANA_URL", raising=False)
    with pytest.raises(InterruptExecution, match="grafana_url"):
        grafana.before_experiment_control({"title": "t"})


def test_the_run_is_exported_as_a_trace_over_otlp_http(stand_in: Any) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from chaosllm.controls import otel

    collector = stand_in(lambda m, p, h, b: (200, b""))
    journal = json.loads((SAMPLES / "k8s-recovery-failed.json").read_text())
    otel.before_experiment_control(journal, otlp_url=collector.url)
    otel.after_experiment_control(journal, state=journal, service_name="gameday",
                                  otlp_url=collector.url)
    [request] = collector.seen
    assert request["path"] == "/v1/traces"
    sent = ExportTraceServiceRequest.FromString(request["body"])
    [resource] = sent.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
    every = [s for scope in resource.scope_spans for s in scope.spans]
    spans = {s.name: s for s in every}
    root = spans[f"experiment: {journal['experiment']['title']}"]
    assert service == "gameday" and root.parent_span_id == b""
    assert {s.trace_id for s in spans.values()} == {root.trace_id}
    method = spans["method"]
    assert method.parent_span_id == root.span_id
    activities = [s for s in spans.values() if s.parent_span_id == method.span_id]
    assert len(activities) == len(journal["run"])
    failed = [s for s in activities if s.status.code == s.status.STATUS_CODE_ERROR]
    assert failed and root.status.code == root.status.STATUS_CODE_ERROR  # the run failed
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["chaos.verdict"].string_value == "failed"
    assert all(s.end_time_unix_nano >= s.start_time_unix_nano for s in spans.values())
    assert journal["extensions"][-1]["spans"] == len(every)
    assert journal["extensions"][-1]["delivered"] is True


def test_an_unreachable_collector_never_fails_the_run() -> None:
    from chaosllm.controls import otel

    journal = json.loads((SAMPLES / "effect-observed.json").read_text())
    otel.after_experiment_control(journal, state=journal, otlp_url=f"http://127.0.0.1:{free_port()}")
    assert journal["extensions"][-1]["delivered"] is False
