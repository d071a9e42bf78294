"""The in-cluster runner's RBAC, both ways: every call chaosllm makes is allowed, and every
rule, verb and resource the Role grants is used by some call.

The Chaos Mesh and Litmus test suites (tests/chaosmesh, the cluster-side ledger included,
and tests/litmus) run in a
subprocess against the fake API server with deploy/kubernetes/rbac.yaml enforced for the
runner's service account: a request outside it gets 403 (and is logged), as from a real
API server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.chaosmesh import sweep
from chaosllm.errors import ChaosLLMError
from tests.chaosmesh.conftest import RBAC_LOG, REPO, runner_authorizer
from tests.chaosmesh.fake_k8s import FakeCluster
from tests.deploy.rbac import Authorizer, attributes

RBAC = REPO / "deploy" / "kubernetes" / "rbac.yaml"
DEPLOY = REPO / "deploy" / "kubernetes"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    """tests/chaosmesh run once as the runner; its output and every RBAC decision."""
    log = tmp_path_factory.mktemp("rbac") / "decisions.jsonl"
    env = {**os.environ, RBAC_LOG: str(log), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(REPO / "tests" / "chaosmesh"), str(REPO / "tests" / "litmus")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    decisions = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, decisions


@pytest.mark.timeout(1600)
def test_the_chaos_mesh_suite_passes_as_the_runner(
    suite: tuple[subprocess.CompletedProcess[str], list[Any]],
) -> None:
    done, decisions = suite
    denied = sorted({f"{d['verb']} {d['group'] or 'core'}/{d['resource']} in {d['namespace'] or '*'}"
                     for d in decisions if d["grant"] is None})
    # A test keeping the halt or the ledger outside "chaosllm" (the runner's namespace, where
    # its Role grants ConfigMaps and Secrets) is denied here: name that namespace in the test.
    assert denied == [], f"requests the Role does not allow: {denied}"
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert len(decisions) > 300, len(decisions)


@pytest.mark.timeout(1600)
def test_every_rule_verb_and_resource_is_used(
    suite: tuple[subprocess.CompletedProcess[str], list[Any]],
) -> None:
    _, decisions = suite
    grants = Authorizer.for_service_account(RBAC, "chaosllm", "chaosllm-runner").grants
    assert len(grants) == 8
    unused = []
    for grant in grants:
        mine = [d for d in decisions if d["grant"] == grant.source]
        unused += [f"{grant.source}: verb {v}" for v in grant.verbs if v not in {d["verb"] for d in mine}]
        unused += [f"{grant.source}: resource {r}" for r in grant.resources
                   if r not in {d["resource"] for d in mine}]
        unused += [f"{grant.source}: name {n}" for n in grant.names if n not in {d["name"] for d in mine}]
    assert unused == []


def test_the_rules_are_exactly_these() -> None:
    """The closing table of rules: a change to rbac.yaml changes this test on purpose."""
    table = {(g.source, g.namespace, ",".join(g.groups), ",".join(g.resources), ",".join(g.verbs),
              ",".join(g.names)) for g in runner_authorizer().grants}  # fmt: skip
    kinds = ("networkchaos,podchaos,stresschaos,iochaos,timechaos,httpchaos,dnschaos,schedules,"
             "workflows,statuschecks")
    assert table == {
        ("ClusterRole/chaosllm-runner rule 0", None, "chaos-mesh.org", kinds,
         "create,get,list,watch,patch,delete", ""),
        ("ClusterRole/chaosllm-runner rule 1", None, "litmuschaos.io", "chaosengines",
         "create,get,list,watch,patch,delete", ""),
        ("ClusterRole/chaosllm-runner rule 2", None, "litmuschaos.io", "chaosresults", "get,list,watch", ""),
        ("ClusterRole/chaosllm-runner rule 3", None, "litmuschaos.io", "chaosexperiments", "get,list", ""),
        ("ClusterRole/chaosllm-runner rule 4", None, "", "pods", "list", ""),
        ("Role/chaosllm-runner-state rule 0", "chaosllm", "", "configmaps", "get,update,delete",
         "chaosllm-halt"),
        ("Role/chaosllm-runner-state rule 1", "chaosllm", "", "configmaps", "create", ""),
        ("Role/chaosllm-runner-state rule 2", "chaosllm", "", "secrets", "list,create,update,delete", ""),
    }
    # The Role's kinds are the kinds chaosllm creates.
    from chaosllm.chaosmesh._kinds import KINDS

    assert set(kinds.split(",")) | {"chaosengines"} == {k.plural for k in KINDS.values()}


def test_a_request_outside_the_role_gets_403(cluster: FakeCluster) -> None:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    cluster.authorize = runner_authorizer()
    api = client.CoreV1Api(config.new_client_from_config(os.environ["KUBECONFIG"]))
    outside = [
        lambda: api.list_namespaced_secret("shop"),  # Secrets outside the runner's namespace
        lambda: api.read_namespaced_config_map("other", "chaosllm"),  # another ConfigMap
        lambda: api.delete_namespaced_pod("web-1", "shop"),  # pods are only listed
        lambda: api.read_namespaced_pod("web-1", "shop"),
    ]
    for call in outside:
        with pytest.raises(ApiException) as caught:
            call()
        assert caught.value.status == 403
    assert api.list_namespaced_pod("shop").items  # what the Role allows still works
    # A halt kept outside the runner's namespace is refused, in chaosllm's words.
    with pytest.raises(ChaosLLMError, match="HTTP 403.*forbidden"):
        sweep.halt_cluster("drill", "ci", None, "kube-system")
    assert cluster.configmaps == {}


def test_request_attributes_follow_the_api_server() -> None:
    assert attributes("GET", "/apis/chaos-mesh.org/v1alpha1/podchaos", {"watch": "true"}).describe() == (
        'cannot watch resource "podchaos" in API group "chaos-mesh.org" at the cluster scope')
    found = attributes("DELETE", "/api/v1/namespaces/chaosllm/configmaps/chaosllm-halt", {})
    assert (found.verb, found.group, found.resource, found.namespace, found.name) == (
        "delete", "", "configmaps", "chaosllm", "chaosllm-halt")


def test_the_job_s_experiment_runs_as_the_runner(cluster: FakeCluster, tmp_path: Path) -> None:
    """The Job's entry point on the ConfigMap's experiment, with the Job's settings, as the runner."""
    log = tmp_path / "decisions.jsonl"
    cluster.authorize = runner_authorizer(log)
    for index in range(4):
        cluster.add_pod("llm-marketplace", f"gateway-{index}",
                        {"app": "graphql-gateway", "chaos-ready": "true"})
    [configmap] = [d for d in yaml.safe_load_all((DEPLOY / "experiment.yaml").read_text()) if d]
    experiment = tmp_path / "experiment" / "experiment.json"
    experiment.parent.mkdir()
    experiment.write_text(configmap["data"]["experiment.json"])
    job = next(d for d in yaml.safe_load_all((DEPLOY / "job.yaml").read_text()) if d)
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value", "chaosllm") for e in container["env"]}  # fieldRef: the namespace
    env.update(CHAOSLLM_STATE_DIR=str(tmp_path / "state"), HOME=str(tmp_path), CHAOSLLM_FAULT_DURATION="30s",
               CHAOSTOOLKIT_IN_POD="false")  # the kubeconfig, not a service account token
    env = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(REPO), "CHAOSTOOLKIT_NO_CHECK_NEWER_VERSION": "1"}
    results = tmp_path / "results"
    done = subprocess.run([str(DEPLOY / "run-experiment.sh"), str(experiment), str(results)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=240)  # fmt: skip
    [run] = list(results.iterdir())
    assert done.returncode == 0, done.stdout + done.stderr + (run / "chaostoolkit.log").read_text()[-3000:]
    assert {p.name for p in run.iterdir()} >= {"journal.json", "chaostoolkit.log", "journal.md",
                                                "journal.html", "junit.xml"}
    assert json.loads((run / "journal.json").read_text())["status"] == "completed"
    [created] = cluster.created_bodies()
    assert created["kind"] == "NetworkChaos" and created["metadata"]["namespace"] == "llm-marketplace"
    decisions = [json.loads(line) for line in log.read_text().splitlines()]
    assert [d for d in decisions if d["grant"] is None] == []
    used = {(d["verb"], d["resource"]) for d in decisions}
    # The halt read, the ledger's Secret written then deleted by the rollback, the fault.
    assert {("get", "configmaps"), ("create", "secrets"), ("delete", "secrets"),
            ("create", "networkchaos"), ("delete", "networkchaos")} <= used
    assert cluster.secrets == {} and cluster.objects == {}
