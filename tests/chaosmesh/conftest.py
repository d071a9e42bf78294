"""Fixtures: the real Chaos Mesh CRDs and a fake API server reached through a kubeconfig.

The CRD schemas and examples are vendored in tests/fixtures/chaos-mesh (source and
version in its SOURCE.md); CHAOSLLM_CHAOSMESH_CRDS / _EXAMPLES point at another copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaosmesh.fake_k8s import Crd, FakeCluster, load_crds

REPO = Path(__file__).resolve().parents[2]
# With this variable naming a log file, the fake API server enforces the in-cluster
# runner's RBAC (deploy/kubernetes/rbac.yaml) and logs every decision there.
RBAC_LOG = "CHAOSLLM_FAKE_K8S_RBAC_LOG"
RUNNER = ("chaosllm", "chaosllm-runner")
VENDORED = REPO / "tests" / "fixtures" / "chaos-mesh"


def crd_dir() -> Path:
    return Path(os.environ.get("CHAOSLLM_CHAOSMESH_CRDS") or VENDORED / "crds")


def examples_dir() -> Path:
    return Path(os.environ.get("CHAOSLLM_CHAOSMESH_EXAMPLES") or VENDORED / "examples")


def runner_authorizer(log: Path | None = None) -> Any:
    from tests.deploy.rbac import Authorizer

    return Authorizer.for_service_account(REPO / "deploy" / "kubernetes" / "rbac.yaml", *RUNNER, log=log)


@pytest.fixture(scope="session")
def crds() -> dict[str, Crd]:
    folder = crd_dir()
    if not folder.is_dir():
        pytest.fail(f"the Chaos Mesh CRD folder {folder} is absent: it ships in the repository "
                    f"(tests/fixtures/chaos-mesh); CHAOSLLM_CHAOSMESH_CRDS names another one")
    return load_crds(folder)


@pytest.fixture
def cluster(
    crds: dict[str, Crd], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCluster]:
    """A running fake API server; $KUBECONFIG points at it, as a user's would."""
    fake = FakeCluster(crds).start()
    if os.environ.get(RBAC_LOG):
        fake.authorize = runner_authorizer(Path(os.environ[RBAC_LOG]))
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    for key in ("KUBERNETES_CONTEXT", "CHAOSLLM_DRY_RUN", "CHAOSLLM_BLAST_RADIUS",
                "CHAOSLLM_EXPERIMENT_TITLE"):
        monkeypatch.delenv(key, raising=False)
    fake.add_pod("shop", "web-1", {"app": "web", "chaos-ready": "true"})
    fake.add_pod("shop", "web-2", {"app": "web", "chaos-ready": "true"})
    fake.add_pod("shop", "web-3", {"app": "web"})
    fake.add_pod("shop", "db-1", {"app": "db"})
    fake.add_pod("kube-system", "dns-1", {"app": "dns"})
    yield fake
    fake.stop()
    assert not fake.status_errors, fake.status_errors
