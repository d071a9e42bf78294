"""Control: export the run as OpenTelemetry spans over OTLP/HTTP.

At the end of the run it turns the journal into one trace: a root span for
the experiment (its status, verdict and deviation as attributes), a span for
each steady-state check (`hypothesis before`, `hypothesis after`), the method
and the rollbacks, and one child span per activity with its real start and
end, its provider, and an error status when it failed. The spans go to
`otlp_url` + `/v1/traces` through the OpenTelemetry SDK's OTLP/HTTP exporter,
as service `service_name` (default "chaosllm"). An exporter that cannot
deliver never fails the run: it is logged and noted in the journal's
extension `chaosllm-otel`.

    {"name": "export-spans",
     "provider": {"type": "python", "module": "chaosllm.controls.otel",
                  "arguments": {"service_name": "chaos-gameday"}}}

`otlp_url` comes from the argument, secrets, configuration or
`CHAOSLLM_OTLP_URL` (e.g. http://127.0.0.1:4318). Needs the `otel` extra
(`pip install 'chaosllm[otel]'`).
"""

from __future__ import annotations

import logging
from typing import Any

from chaosllm.controls._failclosed import protect
from chaosllm.errors import ConfigurationError
from chaosllm.settings import require_setting

__all__ = ["before_experiment_control", "after_experiment_control", "EXTENSION_NAME", "spans_of"]

NAME = "chaosllm-otel"
EXTENSION_NAME = "chaosllm-otel"
logger = logging.getLogger("chaostoolkit")
# name, start, end, failed, attributes, children
Span = tuple[str, float, float, bool, dict[str, Any], list[Any]]


def _nanos(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _runs(runs: Any, start: float) -> list[Span]:
    from chaosllm.report._values import timestamp

    found: list[Span] = []
    for run in runs if isinstance(runs, list) else []:
        activity = run.get("activity") or {}
        provider = activity.get("provider") or {}
        begin = timestamp(run.get("start")) or start
        end = timestamp(run.get("end")) or begin
        found.append((f"{activity.get('type', 'activity')}: {activity.get('name')}", begin, end,
                      run.get("status") not in ("succeeded", None),
                      {"chaos.activity.name": str(activity.get("name")),
                       "chaos.activity.status": str(run.get("status")),
                       "chaos.activity.provider": f"{provider.get('module', provider.get('type'))}"
                                                  f".{provider.get('func', '')}"}, []))
    return found


def _phase(name: str, children: list[Span]) -> Span | None:
    if not children:
        return None
    return (name, min(c[1] for c in children), max(c[2] for c in children),
            any(c[3] for c in children), {}, children)


def spans_of(journal: dict[str, Any]) -> Span:
    """The run as a tree of spans, from the journal alone."""
    from chaosllm.report._values import timestamp
    from chaosllm.report.parse import parse_journal

    run = parse_journal(journal, detail=False)
    start = timestamp(journal.get("start")) or 0.0
    end = timestamp(journal.get("end")) or start
    states = journal.get("steady_states") or {}
    phases = [_phase("hypothesis before", _runs((states.get("before") or {}).get("probes"), start)),
              _phase("method", _runs(journal.get("run"), start)),
              _phase("hypothesis after", _runs((states.get("after") or {}).get("probes"), start)),
              _phase("rollbacks", _runs(journal.get("rollbacks"), start))]
    attributes = {"chaos.experiment.title": run.title, "chaos.verdict": run.verdict,
                  "chaos.status": str(journal.get("status")), "chaos.deviated": bool(run.deviated)}
    return (f"experiment: {run.title}", start, max(end, start), run.verdict != "passed",
            attributes, [p for p in phases if p is not None])


def before_experiment_control(context: Any, otlp_url: str | None = None,
                              configuration: dict[str, Any] | None = None,
                              secrets: dict[str, Any] | None = None, **arguments: Any) -> None:  # fmt: skip
    require_setting("otlp_url", otlp_url, configuration, secrets)
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise ConfigurationError("the otel control needs the OpenTelemetry SDK and OTLP exporter: "
                                 "pip install 'chaosllm[otel]'") from None


def after_experiment_control(context: Any, state: Any = None, service_name: str = "chaosllm",
                             otlp_url: str | None = None,
                             configuration: dict[str, Any] | None = None,
                             secrets: dict[str, Any] | None = None, **arguments: Any) -> None:  # fmt: skip
    if not isinstance(state, dict):
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
    from opentelemetry.trace import Status, StatusCode

    from chaosllm.redaction import redact_url

    url = str(require_setting("otlp_url", otlp_url, configuration, secrets)).rstrip("/")
    results: list[Any] = []

    class Exporter(OTLPSpanExporter):
        def export(self, spans: Any) -> Any:
            result = super().export(spans)
            results.append(result)
            return result

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # One batch for the whole run: an unreachable collector costs one timeout, not one per span.
    provider.add_span_processor(BatchSpanProcessor(Exporter(endpoint=url + "/v1/traces", timeout=5),
                                                   max_queue_size=4096, max_export_batch_size=4096,
                                                   schedule_delay_millis=60_000))
    tracer = provider.get_tracer("chaosllm")
    count = 0

    def emit(span: Span, parent: Any) -> None:
        nonlocal count
        name, start, end, failed, attributes, children = span
        made = tracer.start_span(name, context=parent, start_time=_nanos(start), attributes=attributes)
        made.set_status(Status(StatusCode.ERROR if failed else StatusCode.OK))
        for child in children:
            emit(child, trace.set_span_in_context(made))
        made.end(end_time=_nanos(end))
        count += 1

    try:
        emit(spans_of(state), None)
        provider.force_flush(15_000)
    except Exception as exc:  # the exporter's failures must not fail the run
        logger.warning("OpenTelemetry spans not exported to %s: %s", redact_url(url), exc)
    finally:
        provider.shutdown()
    delivered = bool(results) and all(r == SpanExportResult.SUCCESS for r in results)
    if not delivered:
        logger.warning("OpenTelemetry spans not delivered to %s (the run is not affected)",
                       redact_url(url))
    state.setdefault("extensions", []).append(
        {"name": EXTENSION_NAME, "spans": count, "endpoint": redact_url(url) + "/v1/traces",
         "delivered": delivered})


protect(globals(), NAME, arguments=("otlp_url", "service_name"))
