"""A private Alertmanager (Debian's ``prometheus-alertmanager``) on a free loopback port.

Clustering is off (no gossip port) and its state lives in ``workdir``, so
that several can run beside each other and beside a system one. Every alert
goes to one receiver with no integration: the API shows what fired, and
nothing is sent anywhere.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from chaosllm.sandbox.app.launcher import (
    Server,
    _ready_or_stopped,
    find_binary,
    free_port,
    spawn,
    stop_pid,
)

__all__ = ["start_alertmanager", "CONFIG", "sandbox_rule_files"]

CHAOS_ALERTS = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "chaos-alerts.yml"
# The chaos alerts read Kubernetes-style names; the sandbox's gateway
# exports its requests as sandbox_http_requests_total.
SANDBOX_RULES = """groups:
  - name: sandbox-names
    rules:
      - record: http_requests_total
        expr: sum by (status) (sandbox_http_requests_total{service="gateway"})
"""

CONFIG = """route:
  receiver: record
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: record
"""


def start_alertmanager(workdir: Path) -> Server:
    binary = find_binary("alertmanager", ["/usr/bin/prometheus-alertmanager"])
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG)
    cmd = [binary, f"--config.file={config}", f"--storage.path={workdir / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    proc = spawn(cmd, workdir / "alertmanager.log")
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
            return resp.status == 200

    _ready_or_stopped(ready, 30, "alertmanager", proc, lambda: stop_pid(proc.pid, 5, proc))
    return Server("alertmanager", proc.pid, port, url, workdir,
                  _stop=lambda: stop_pid(proc.pid, 10, proc))  # fmt: skip


def sandbox_rule_files(workdir: Path) -> list[str]:
    """The chaos alert rules and the recording rules that feed them the sandbox's metrics."""
    if not CHAOS_ALERTS.is_file():
        return []
    workdir.mkdir(parents=True, exist_ok=True)
    names = workdir / "sandbox-rules.yml"
    names.write_text(SANDBOX_RULES)
    return [str(CHAOS_ALERTS), str(names)]
