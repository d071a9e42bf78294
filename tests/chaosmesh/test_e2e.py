"""End to end against a real cluster with Chaos Mesh; runs only when CHAOSLLM_E2E_KUBECONFIG is set.

docs/RUNBOOK.md says how to get one with kind. The test creates its own
namespace with a small labelled deployment and deletes it afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chaosllm.chaosmesh import actions, probes
from chaosllm.errors import NotInjected

KUBECONFIG = os.environ.get("CHAOSLLM_E2E_KUBECONFIG")
NS = os.environ.get("CHAOSLLM_E2E_NAMESPACE", "chaosllm-e2e")
IMAGE = os.environ.get("CHAOSLLM_E2E_IMAGE", "nginx:1.27-alpine")

pytestmark = pytest.mark.skipif(
    not KUBECONFIG, reason="CHAOSLLM_E2E_KUBECONFIG is not set: no real cluster to test against"
)


@pytest.fixture(scope="module")
def workload() -> Iterator[None]:
    from kubernetes import client, config

    assert KUBECONFIG
    os.environ["KUBECONFIG"] = KUBECONFIG
    api = config.new_client_from_config(config_file=KUBECONFIG)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace(client.V1Namespace.from_dict({"metadata": {"name": NS}}))
    labels = {"app": "e2e-web", "chaos-ready": "true"}
    apps.create_namespaced_deployment(NS, client.V1Deployment.from_dict({
        "metadata": {"name": "e2e-web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": IMAGE}]}}},
    }))  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("e2e-web", NS).status
        if (status.ready_replicas or 0) == 2:
            break
        time.sleep(2)
    else:
        pytest.fail("the e2e deployment did not become ready within 180 s")
    yield
    actions.remove_all_chaos(NS, force=True)
    core.delete_namespace(NS)


def _web(**extra: Any) -> dict[str, Any]:
    return {"namespace": NS, "label_selectors": "app=e2e-web,chaos-ready=true", "duration": "60s",
            "timeout": "90s", **extra}


def test_network_delay_is_injected_paused_resumed_and_removed(workload: None) -> None:
    handle = actions.inject_network_delay(latency="50ms", **_web(mode="all"))
    assert handle["status"]["state"] == "injected" and handle["status"]["selected_count"] == 2
    actions.pause_chaos("NetworkChaos", handle["name"], NS)
    assert probes.wait_for_recovery("NetworkChaos", handle["name"], NS, timeout="90s")["paused"]
    actions.resume_chaos("NetworkChaos", handle["name"], NS)
    assert probes.wait_for_injection("NetworkChaos", handle["name"], NS, timeout="90s")["state"] == "injected"
    assert actions.remove_chaos("NetworkChaos", handle["name"], NS)["removed"] is True
    assert actions.remove_chaos("NetworkChaos", handle["name"], NS)["removed"] is False


def test_pod_kill_and_stress(workload: None) -> None:
    assert actions.kill_pods(**_web())["status"]["state"] == "injected"
    assert actions.stress_cpu(workers=1, load=20, **_web())["status"]["state"] == "injected"
    assert actions.remove_all_chaos(NS)["count"] == 2


def test_nothing_selected_and_dry_run(workload: None) -> None:
    with pytest.raises(NotInjected, match="selected no pod"):
        actions.fail_pods(**_web(label_selectors="app=absent"))
    preview = actions.fail_pods(**_web(mode="all"), dry_run=True)
    assert len(preview["pods"]) == 2 and preview["server_validated"] is True
    assert probes.list_chaos(NS) == []
