"""Every Chaos Mesh example of a supported kind goes through apply_manifest to the fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.chaosmesh import actions
from chaosllm.chaosmesh._kinds import KINDS
from chaosllm.chaosmesh._selections import selections
from chaosllm.errors import FaultFailed, InvalidArgument
from tests.chaosmesh.conftest import REPO, examples_dir
from tests.chaosmesh.fake_k8s import FakeCluster


def _examples() -> list[Path]:
    folder = examples_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _kind(path: Path) -> str:
    return str(yaml.safe_load(path.read_text())["kind"])


SUPPORTED = [p for p in _examples() if _kind(p) in KINDS]
UNSUPPORTED = [p for p in _examples() if _kind(p) not in KINDS]
SERVER_FIELDS = {"uid", "resourceVersion", "creationTimestamp", "generation", "finalizers"}


@pytest.fixture
def targets(cluster: FakeCluster) -> FakeCluster:
    """A pod for every selector of the examples and the project's manifests: a fault whose
    selector matches nothing is refused before it is created."""
    files = SUPPORTED + sorted((REPO / "experiments" / "chaos-mesh").glob("*.yaml"))
    for number, doc in enumerate(d for path in files for d in yaml.safe_load_all(path.read_text()) if d):
        for _, spec in selections(doc):
            selector = spec.get("selector") or {}
            labels = dict(selector.get("labelSelectors") or {})
            for expr in selector.get("expressionSelectors") or []:
                if expr["operator"] in ("In", "Exists"):
                    labels[expr["key"]] = (expr.get("values") or ["x"])[0]
            for namespace in selector.get("namespaces") or ["shop"]:
                cluster.add_pod(namespace, f"target-{number}", labels, phase="Running",
                                annotations=dict(selector.get("annotationSelectors") or {}))
            for namespace, names in (selector.get("pods") or {}).items():
                for name in names:
                    cluster.add_pod(namespace, name, labels)
    return cluster


def _without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_FIELDS}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def test_the_examples_are_there() -> None:
    assert examples_dir().is_dir(), f"the Chaos Mesh examples folder {examples_dir()} is absent"
    # Every Chaos Mesh kind; Litmus's ChaosEngine is tested in tests/litmus.
    assert len(SUPPORTED) >= 30 and {_kind(p) for p in SUPPORTED} == set(KINDS) - {"ChaosEngine"}


@pytest.mark.parametrize("path", SUPPORTED, ids=[p.stem for p in SUPPORTED])
def test_example_applies(targets: FakeCluster, path: Path) -> None:
    cluster = targets
    result = actions.apply_manifest(str(path), namespace="shop", allow_unbounded=True, wait=False)
    [handle] = result["objects"]
    source = yaml.safe_load(path.read_text())
    stored = cluster.get(KINDS[source["kind"]].plural, "shop", source["metadata"]["name"])
    assert stored is not None and handle["name"] == source["metadata"]["name"]
    expected = dict(source)
    expected["metadata"] = {**source["metadata"], "namespace": "shop",
                            "labels": {"app.kubernetes.io/managed-by": "chaosllm"},
                            "annotations": {"chaosllm.io/experiment": "adhoc"}}
    assert _without_server_fields(stored) == expected


@pytest.mark.parametrize("path", UNSUPPORTED, ids=[p.stem for p in UNSUPPORTED])
def test_unsupported_kinds_are_refused_before_anything_is_sent(cluster: FakeCluster, path: Path) -> None:
    with pytest.raises(InvalidArgument, match="is not supported"):
        actions.apply_manifest(str(path), allow_unbounded=True)
    assert cluster.requests == []


def test_a_file_of_several_documents_and_json_text(targets: FakeCluster, tmp_path: Path) -> None:
    chosen = [examples_dir() / n for n in ("network-delay-example.yaml", "pod-kill-example.yaml",
                                           "burn-cpu.yaml")]
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text("\n---\n".join(p.read_text() for p in chosen))
    result = actions.apply_manifest(str(bundle), namespace="shop", allow_unbounded=True, wait=False)
    assert [o["kind"] for o in result["objects"]] == ["NetworkChaos", "PodChaos", "StressChaos"]
    as_json = json.dumps(yaml.safe_load((examples_dir() / "time-chaos-example.yaml").read_text()))
    result = actions.apply_manifest(as_json, namespace="shop", wait=False)
    assert result["objects"][0]["kind"] == "TimeChaos"


def test_a_manifest_without_duration_needs_allow_unbounded(cluster: FakeCluster) -> None:
    with pytest.raises(InvalidArgument, match="spec.duration is required"):
        actions.apply_manifest(str(examples_dir() / "pod-kill-example.yaml"))
    with pytest.raises(InvalidArgument, match="spec.podChaos.duration is required"):
        actions.apply_manifest(str(examples_dir() / "schedule-podchaos.yaml"))
    assert cluster.requests == []


def test_a_failed_document_removes_those_already_created(targets: FakeCluster, tmp_path: Path) -> None:
    cluster = targets
    docs = [yaml.safe_load((examples_dir() / n).read_text())
            for n in ("network-loss-example.yaml", "io-delay-example.yaml")]
    foreign = {**docs[1], "metadata": {**docs[1]["metadata"], "namespace": "shop"}}
    cluster.put_raw(foreign, "iochaos")
    with pytest.raises(FaultFailed, match="not managed by chaosllm.*it was removed"):
        actions.apply_manifest(docs, namespace="shop", wait=False)
    assert cluster.get("networkchaos", "shop", docs[0]["metadata"]["name"]) is None


def test_the_project_manifests_apply(targets: FakeCluster) -> None:
    folder = REPO / "experiments" / "chaos-mesh"
    files = sorted(folder.glob("*.yaml"))
    assert files, f"no manifests in {folder}"
    for path in files:
        result = actions.apply_manifest(str(path), namespace="shop", wait=False)
        assert result["objects"], path
