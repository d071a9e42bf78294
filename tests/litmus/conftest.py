"""Fixtures: a fake API server with the real Litmus (and Chaos Mesh) CRDs and the Litmus operator played.

The Litmus CRDs and fault definitions are vendored in tests/fixtures/litmus
(source and commit in its SOURCE.md); CHAOSLLM_LITMUS_FIXTURES names another copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chaosmesh.conftest import RBAC_LOG, crd_dir, runner_authorizer
from tests.chaosmesh.fake_k8s import Crd, FakeCluster, load_crds
from tests.litmus.operator import LitmusOperator

REPO = Path(__file__).resolve().parents[2]
NS = "shop"


def fixtures_dir() -> Path:
    return Path(os.environ.get("CHAOSLLM_LITMUS_FIXTURES") or REPO / "tests" / "fixtures" / "litmus")


def fault_definition(fault: str) -> dict[str, Any]:
    """The chaos hub's ChaosExperiment of ``fault``."""
    return dict(yaml.safe_load((fixtures_dir() / "faults" / fault / "fault.yaml").read_text()))


@pytest.fixture(scope="session")
def litmus_crds() -> dict[str, Crd]:
    folder = fixtures_dir() / "crds"
    if not folder.is_dir():
        pytest.fail(f"the Litmus CRD folder {folder} is absent: it ships in tests/fixtures/litmus")
    crds = load_crds(folder)
    mesh = crd_dir()
    if mesh.is_dir():
        crds.update(load_crds(mesh))
    return crds


@pytest.fixture
def cluster(
    litmus_crds: dict[str, Crd], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCluster]:
    """A running fake API server playing Litmus; pod-delete and pod-network-latency installed in shop."""
    fake = FakeCluster(litmus_crds).start()
    if os.environ.get(RBAC_LOG):
        fake.authorize = runner_authorizer(Path(os.environ[RBAC_LOG]))
    LitmusOperator(fake)
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    for key in ("KUBERNETES_CONTEXT", "CHAOSLLM_DRY_RUN", "CHAOSLLM_BLAST_RADIUS",
                "CHAOSLLM_EXPERIMENT_TITLE"):
        monkeypatch.delenv(key, raising=False)
    fake.add_pod(NS, "web-1", {"app": "web", "chaos-ready": "true"})
    fake.add_pod(NS, "web-2", {"app": "web", "chaos-ready": "true"})
    fake.add_pod(NS, "web-3", {"app": "web"})
    fake.add_pod(NS, "db-1", {"app": "db"})
    fake.add_pod("kube-system", "dns-1", {"app": "dns"})
    for fault in ("pod-delete", "pod-network-latency"):
        definition = fault_definition(fault)
        definition["metadata"]["namespace"] = NS
        fake.put_raw(definition, "chaosexperiments")
    yield fake
    fake.stop()
    assert not fake.status_errors, fake.status_errors
