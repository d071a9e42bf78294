"""HTTP and streaming faults through a proxy in HTTP mode.

Create the proxy with ``create_proxy(..., mode="http")``: it then relays
HTTP/1.1 exchanges one by one and applies these faults per request. Each is
an HTTP fault in the proxy's API (beside the TCP toxics), recorded in the
fault ledger, ended by the proxy itself at the end of its `duration`, and
removed early with `remove_toxic`. Its result, and the rollback's, carry the
requests it hit and the events it delayed, corrupted or cut.
"""

from __future__ import annotations

from typing import Any

from chaosllm.errors import InvalidArgument
from chaosllm.proxy._inject import millis, toxic_action

__all__ = ["inject_http_status", "inject_first_byte_delay", "inject_stream_stall",
           "inject_stream_cut", "inject_corrupt_event", "inject_slow_stream"]


def http_fault_arguments(
    proxy: str,
    method: str | None = None,
    path_prefix: str | None = None,
    header: str | None = None,
    toxicity: float = 1.0,
    duration: str | None = "30s",
    name: str | None = None,
    allow_unbounded: bool = False,
    proxy_api_url: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> None:
    """Common arguments (every HTTP fault): `proxy`, a proxy in HTTP mode;
    which requests it hits: `method` ("POST"), `path_prefix`
    ("/v1/chat/completions") and `header` ("X-Tenant: acme", or a name
    alone for any value), each unset for any; `toxicity`, the share of
    matching requests it hits (0 to 1, rolled per request); `duration`
    before it is removed (default 30s; none at all only with
    `allow_unbounded`); `name` (default `<type>-<proxy>`); `proxy_api_url`
    (else `proxy_api_url` in secrets or configuration, then
    `CHAOSLLM_PROXY_API_URL`; it must be set, there is no default)."""


def http_fault(build: Any) -> Any:
    return toxic_action(build, http_fault_arguments)


def _count(value: Any, what: str, least: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidArgument(f"{what} must be an integer of at least {least}, got {value!r}")
    return value


@http_fault
def inject_http_status(status: int = 429, retry_after: str | None = None,
                       body: str | None = None) -> dict[str, Any]:
    """Answer matching requests with `status` instead of forwarding them: 429
    with a `Retry-After` header (`retry_after`, whole seconds), 500, 502, 503
    or 529, with an OpenAI-shaped error body (or your own `body`).

    ```json
    {"type": "action", "name": "provider-rate-limits",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_http_status",
                  "arguments": {"proxy": "llm-primary", "status": 429, "retry_after": "2s",
                                "toxicity": 0.3, "duration": "30s"}}}
    ```
    """
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidArgument(f"status must be an HTTP status between 100 and 599, got {status!r}")
    if body is not None and not isinstance(body, str):
        raise InvalidArgument(f"body must be a string, got {body!r}")
    seconds = 0 if retry_after is None else millis(retry_after, "retry_after") // 1000
    return {"type": "http_status",
            "attributes": {"status": status, "retry_after": seconds, "body": body or ""}}


@http_fault
def inject_first_byte_delay(delay: str = "500ms") -> dict[str, Any]:
    """Hold each matching response's first byte for `delay` (a slow first token).

    ```json
    {"type": "action", "name": "slow-first-token",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_first_byte_delay",
                  "arguments": {"proxy": "llm-primary", "delay": "1500ms", "duration": "30s"}}}
    ```
    """
    return {"type": "first_byte_delay", "attributes": {"delay": millis(delay, "delay")}}


@http_fault
def inject_stream_stall(after_events: int = 5, stall: str = "10s",
                        every: bool = False) -> dict[str, Any]:
    """Pause a streamed response (server-sent events) for `stall` after
    `after_events` events, once, or after every `after_events` with `every`.

    ```json
    {"type": "action", "name": "stall-streams",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_stream_stall",
                  "arguments": {"proxy": "llm-primary", "after_events": 5, "stall": "10s",
                                "duration": "30s"}}}
    ```
    """
    if not isinstance(every, bool):
        raise InvalidArgument(f"every must be true or false, got {every!r}")
    return {"type": "stream_stall", "attributes": {
        "after": _count(after_events, "after_events", 1), "stall": millis(stall, "stall"),
        "every": int(every)}}


@http_fault
def inject_stream_cut(after_events: int = 5, reset: bool = False) -> dict[str, Any]:
    """End a streamed response after `after_events` events: cleanly (the
    stream simply ends, without its final events) or, with `reset`, by
    resetting the connection.

    ```json
    {"type": "action", "name": "cut-streams",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_stream_cut",
                  "arguments": {"proxy": "llm-primary", "after_events": 3, "reset": true,
                                "duration": "30s"}}}
    ```
    """
    if not isinstance(reset, bool):
        raise InvalidArgument(f"reset must be true or false, got {reset!r}")
    return {"type": "stream_cut", "attributes": {
        "after": _count(after_events, "after_events", 1), "reset": int(reset)}}


@http_fault
def inject_corrupt_event(event: int = 1) -> dict[str, Any]:
    """Replace the data of event number `event` (from 1) of a streamed response
    with malformed JSON.

    ```json
    {"type": "action", "name": "corrupt-a-chunk",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_corrupt_event",
                  "arguments": {"proxy": "llm-primary", "event": 2, "duration": "30s"}}}
    ```
    """
    return {"type": "corrupt_event", "attributes": {"event": _count(event, "event", 1)}}


@http_fault
def inject_slow_stream(delay: str = "100ms") -> dict[str, Any]:
    """Add `delay` before every event of a streamed response (slow tokens).

    ```json
    {"type": "action", "name": "slow-tokens",
     "provider": {"type": "python", "module": "chaosllm.proxy.actions",
                  "func": "inject_slow_stream",
                  "arguments": {"proxy": "llm-primary", "delay": "200ms", "duration": "30s"}}}
    ```
    """
    return {"type": "slow_stream", "attributes": {"delay": millis(delay, "delay")}}
