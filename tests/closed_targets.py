"""Every target setting aimed at a loopback port that refuses connections at once.

The port is bound and held, never listened on: a connection is refused at
once, and no other test's server can take the port meanwhile. Activities
called under :func:`closed_targets` can reach nothing on this machine or
beyond it: a call that gets past its argument checks fails with
TargetUnreachable (or finds nothing: an empty sandbox directory).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Settings that name a server, as URL templates on the closed port.
TARGETS = {
    "redis_url": "redis://127.0.0.1:{port}/0",
    "postgres_dsn": "postgresql://chaos@127.0.0.1:{port}/shop",
    "rabbitmq_url": "amqp://guest:guest@127.0.0.1:{port}/%2F",
    "rabbitmq_management_url": "http://127.0.0.1:{port}",
    "proxy_api_url": "http://127.0.0.1:{port}",
    "prometheus_base_url": "http://127.0.0.1:{port}",
    "alertmanager_url": "http://127.0.0.1:{port}",
    "loki_url": "http://127.0.0.1:{port}",
    "jaeger_url": "http://127.0.0.1:{port}",
}
# What could aim an activity elsewhere, or change how it runs.
CLEARED = ("KUBERNETES_CONTEXT", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "CHAOSLLM_DRY_RUN",
           "CHAOSLLM_BLAST_RADIUS", "CHAOSLLM_HALT_NAMESPACE", "CHAOSLLM_EXPERIMENT_TITLE",
           "CHAOSLLM_APPROVAL_FILE", "CHAOSLLM_AUDIT_LOG")  # fmt: skip

_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{{name: closed, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: closed, user: {{token: none}}}}]
contexts: [{{name: closed, context: {{cluster: closed, user: closed}}}}]
current-context: closed
"""


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port bound by this process and never listened on."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]
    finally:
        held.close()


def closed_urls(port: int) -> dict[str, str]:
    return {key: url.format(port=port) for key, url in TARGETS.items()}


def aim_at_closed_port(port: int, directory: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point every target setting and the kubeconfig at ``port``; the settings set."""
    for key in CLEARED:
        monkeypatch.delenv(key, raising=False)
    urls = closed_urls(port)
    for key, url in urls.items():
        monkeypatch.setenv(f"CHAOSLLM_{key.upper()}", url)
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(_KUBECONFIG.format(port=port))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    sandbox = directory / "no-sandbox"
    sandbox.mkdir(exist_ok=True)
    monkeypatch.setenv("CHAOSLLM_SANDBOX_DIR", str(sandbox))
    return urls
