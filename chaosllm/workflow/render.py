"""The design's chaos pipeline as an Argo Workflow (or CronWorkflow), from a list of experiments.

The pipeline (``argoproj.io/v1alpha1``)::

    install    a resource step applies the ConfigMap <name>-experiments
               holding every Chaos Toolkit experiment
    run        one step per experiment: `chaos run` in the chaosllm image, the
               ConfigMap mounted at /experiments, journals and the fault
               ledger on a volume claimed for the workflow (/journals); a
               Litmus ChaosEngine is a resource step that creates the engine
               and succeeds when Litmus says completed, as Litmus's own
               workflows do; in series, or in parallel
    validate   `chaosllm report /journals --fail-on ...`: the SLO gate
    cleanup    the exit handler, so that it always runs: `chaosllm cleanup`
               (the shared fault ledger) and the deletion of every engine

An experiment whose configuration names an SLO file (the setting
``slo_file``, as resolved here: ``$CHAOSLLM_SLO_FILE`` or the default) gets
that file in the ConfigMap too, and its ``slo_file`` then points at the copy
under /experiments, so that its SLO probes, guard, charts and fault-window
series read in the cluster the file they read here.

A control file (``control_file``, ``chaosllm workflow --control-file``: the
controls every run gets, such as experiments/settings/k8s-controls.yaml for
the Kubernetes scenarios) ships in the ConfigMap as well, and every ``chaos
run`` step gets ``--control-file /experiments/<its key>``.

A run step that fails (a deviated experiment) does not stop the pipeline
(``continueOn: failed``): validate judges every run. Before anything is
rendered, each experiment's activities are checked against the blast-radius
policy (:func:`chaosllm.controls.blast_radius.check_experiment`) and each
ChaosEngine against it too; an input that breaks it, or that is neither an
experiment nor a ChaosEngine, is an error naming the file. So is an
experiment whose SLO file declares guard conditions when neither it nor the
control file declares the guard: it would run unguarded, or be refused in the
cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaosllm.chaosmesh._spec import MANAGED_BY, stamp
from chaosllm.chaosmesh.policy import enforce, policy_from
from chaosllm.errors import ChaosLLMError, InvalidArgument, PolicyViolation
from chaosllm.workflow import DEFAULT_FAIL_ON, DEFAULT_IMAGE
from chaosllm.workflow.files import control_file_key, read_control_file, read_document

__all__ = ["API_VERSION", "DEFAULT_IMAGE", "DEFAULT_FAIL_ON", "Step", "load_steps", "render_workflow"]

API_VERSION = "argoproj.io/v1alpha1"
EXPERIMENTS, JOURNALS = "/experiments", "/journals"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly|every \S+)|(\S+\s+){4}\S+)$")


class Step:
    """One input of the pipeline: a Chaos Toolkit experiment, or a Litmus ChaosEngine."""

    def __init__(self, path: str, slug: str, document: dict[str, Any]):
        self.path, self.slug, self.document = path, slug, document

    @property
    def is_engine(self) -> bool:
        return self.document.get("kind") == "ChaosEngine"

    @property
    def key(self) -> str:
        """The experiment's key in the ConfigMap (and file name under /experiments)."""
        return f"{self.slug}.json"


def _slug(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", Path(path).stem.lower()).strip("-")[:40].rstrip("-") or "experiment"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def _read(path: str) -> dict[str, Any]:
    document = read_document(path)[1]
    if isinstance(document, dict) and document.get("kind") == "ChaosEngine":
        if document.get("apiVersion") != "litmuschaos.io/v1alpha1":
            raise InvalidArgument(f"{path}: a ChaosEngine must be litmuschaos.io/v1alpha1")
        return document
    if (not isinstance(document, dict) or not isinstance(document.get("method"), list)
            or not document.get("title")):
        raise InvalidArgument(f"{path} is neither a Chaos Toolkit experiment (with a title and a method) "
                              "nor a Litmus ChaosEngine")
    return document


def load_steps(paths: Sequence[str]) -> list[Step]:
    """Read every input; errors name the file."""
    if not paths:
        raise InvalidArgument("name at least one experiment (or ChaosEngine) file")
    taken: set[str] = set()
    return [Step(path, _slug(path, taken), _read(path)) for path in paths]


def _configuration(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment's configuration as this machine resolves it; a key whose environment
    variable is not set here (it will be in the cluster) is left out."""
    from chaoslib.configuration import load_configuration
    from chaoslib.exceptions import ChaosException

    resolved: dict[str, Any] = {}
    for key, value in dict(experiment.get("configuration") or {}).items():
        try:
            resolved.update(load_configuration({key: value}))
        except ChaosException:
            continue
    return resolved


def _check_guarded(steps: list[Step], controls: tuple[str, str] | None) -> None:
    """Refuse an experiment that would run unguarded in the cluster: its SLO file declares
    guard conditions, and neither it nor the control file declares the guard."""
    import yaml
    from chaoslib.control import get_controls

    from chaosllm.controls._guard_required import CONTROL_FILE, GUARD_MODULE
    from chaosllm.slo.spec import load_slo_file

    def guards(declared: Any) -> bool:
        return any(isinstance(c, Mapping) and isinstance(c.get("provider"), Mapping)
                   and c["provider"].get("module") == GUARD_MODULE for c in declared)  # fmt: skip

    if controls is not None and guards(dict(yaml.safe_load(controls[1])).values()):
        return
    for step in steps:
        if step.is_engine or guards(get_controls(step.document)):
            continue
        path = _configuration({"configuration": {
            "slo_file": (step.document.get("configuration") or {}).get("slo_file")}}).get("slo_file")
        try:
            guarded = bool(path) and bool(load_slo_file(str(path)).guard)
        except ChaosLLMError:
            continue  # an SLO file that cannot be read: refused when it is shipped
        if guarded:
            raise InvalidArgument(f"{step.path}: its SLO file {path} declares guard conditions, but no "
                                  f"guard control would run it in the cluster: give --control-file "
                                  f"{CONTROL_FILE} (or declare {GUARD_MODULE} in the experiment)")


def _ship_slo_files(steps: list[Step]) -> dict[str, str]:
    """The SLO files the experiments' configurations name, by ConfigMap key; each experiment's
    ``slo_file`` is pointed at its copy under /experiments."""
    shipped: dict[str, str] = {}  # key -> text
    taken = {s.key for s in steps}
    for step in steps:
        configuration = step.document.get("configuration")
        if step.is_engine or not isinstance(configuration, dict) or "slo_file" not in configuration:
            continue
        path = _configuration({"configuration": {"slo_file": configuration["slo_file"]}}).get("slo_file")
        if not path:
            continue
        try:
            text = Path(str(path)).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidArgument(f"{step.path}: could not read its SLO file {path} (setting slo_file, "
                                  f"$CHAOSLLM_SLO_FILE): {exc.strerror or exc}") from None
        base = re.sub(r"[^-._a-zA-Z0-9]+", "-", Path(str(path)).name) or "slos.yaml"
        key, n = base, 1
        while key in taken and shipped.get(key) != text:
            n += 1
            key = f"{n}-{base}"
        taken.add(key)
        shipped[key] = text
        entry = configuration["slo_file"]
        inside = f"{EXPERIMENTS}/{key}"
        configuration["slo_file"] = {**entry, "default": inside} if isinstance(entry, dict) else inside
    return shipped


def _check_policy(steps: list[Step], namespace: str, policy: Mapping[str, Any] | None) -> None:
    from chaoslib.exceptions import ChaosException

    from chaosllm.controls.blast_radius import check_experiment

    rules = policy_from(policy)
    for step in steps:
        try:
            if step.is_engine:
                stamp(step.document, namespace, None, None)
                enforce(step.document, rules)
                continue
            check_experiment(step.document, policy, _configuration(step.document), None)
        except (ChaosException, ChaosLLMError) as exc:
            raise PolicyViolation(f"{step.path}: {exc}") from None


def _container(image: str, args: list[str]) -> dict[str, Any]:
    return {"image": image, "command": [args[0]], "args": args[1:],
            "env": [{"name": "CHAOSLLM_STATE_DIR", "value": f"{JOURNALS}/state"}],
            "volumeMounts": [{"name": "experiments", "mountPath": EXPERIMENTS, "readOnly": True},
                             {"name": "journals", "mountPath": JOURNALS}]}


def _yaml(document: Mapping[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(dict(document), sort_keys=False))


def _engine_ref(engine: Mapping[str, Any]) -> dict[str, Any]:
    meta = engine["metadata"]
    return {"apiVersion": engine["apiVersion"], "kind": "ChaosEngine",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}


def _templates(steps: list[Step], name: str, namespace: str, image: str, parallel: bool,
               fail_on: Sequence[str], control_file: tuple[str, str] | None) -> list[dict[str, Any]]:
    slo_files = _ship_slo_files(steps)
    controls: dict[str, str] = {}
    if control_file is not None:
        controls[control_file_key(control_file[0], {s.key for s in steps} | set(slo_files))] = control_file[1]
    control_args = [arg for key in controls for arg in ("--control-file", f"{EXPERIMENTS}/{key}")]
    config_map = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{name}-experiments", "namespace": namespace,
                     "labels": {MANAGED_BY[0]: MANAGED_BY[1]}},
        "data": {**{s.key: json.dumps(s.document, indent=2) for s in steps if not s.is_engine},
                 **slo_files, **controls},
    }  # fmt: skip
    runs = [{"name": f"run-{s.slug}", "template": f"run-{s.slug}", "continueOn": {"failed": True}}
            for s in steps]
    groups = [runs] if parallel else [[run] for run in runs]
    templates: list[dict[str, Any]] = [
        {"name": "pipeline", "steps": [[{"name": "install", "template": "install"}], *groups,
                                       [{"name": "validate", "template": "validate"}]]},
        {"name": "install", "resource": {"action": "apply", "manifest": _yaml(config_map)}},
    ]
    for step in steps:
        if step.is_engine:
            templates.append({"name": f"run-{step.slug}", "resource": {
                "action": "create", "manifest": _yaml(step.document),
                "successCondition": "status.engineStatus == completed",
                "failureCondition": "status.engineStatus == stopped"},
                "outputs": {"parameters": [{"name": "verdict", "valueFrom": {
                    "jsonPath": "{.status.experiments[0].verdict}"}}]}})  # fmt: skip
        else:
            templates.append({"name": f"run-{step.slug}", "container": _container(
                image, ["chaos", "run", "--journal-path", f"{JOURNALS}/{step.slug}.json", *control_args,
                        f"{EXPERIMENTS}/{step.key}"])})
    templates.append({"name": "validate", "container": _container(
        image, ["chaosllm", "report", JOURNALS, "--format", "md,junit,json,litmus", "--out",
                f"{JOURNALS}/reports", "--fail-on", ",".join(fail_on)])})
    engines = [s for s in steps if s.is_engine]
    cleanup = [{"name": "cleanup-faults", "template": "cleanup-faults"}]
    cleanup += [{"name": f"delete-{s.slug}", "template": f"delete-{s.slug}"} for s in engines]
    templates.append({"name": "cleanup", "steps": [cleanup]})
    templates.append({"name": "cleanup-faults", "container": _container(image, ["chaosllm", "cleanup"])})
    for step in engines:
        templates.append({"name": f"delete-{step.slug}", "resource": {
            "action": "delete", "flags": ["--ignore-not-found"],
            "manifest": _yaml(_engine_ref(step.document))}})
    return templates


def render_workflow(
    paths: Sequence[str],
    name: str = "chaosllm-pipeline",
    namespace: str = "default",
    image: str = DEFAULT_IMAGE,
    service_account: str = "chaosllm",
    parallel: bool = False,
    schedule: str | None = None,
    fail_on: Sequence[str] = DEFAULT_FAIL_ON,
    volume_size: str = "1Gi",
    policy: Mapping[str, Any] | None = None,
    control_file: str | None = None,
) -> dict[str, Any]:
    """The pipeline of the experiments (or ChaosEngines) in ``paths``: a Workflow, or a
    CronWorkflow on ``schedule`` (cron syntax); checked against the blast-radius policy.
    ``control_file``: a Chaos Toolkit control file every ``chaos run`` step is given."""
    for label, value in (("name", name), ("namespace", namespace), ("service account", service_account)):
        if len(value) > 52 or not _NAME.match(value):
            raise InvalidArgument(f"{label} {value!r} is not a Kubernetes name of at most 52 characters "
                                  "(lower-case letters, digits and '-')")
    if schedule is not None and not _CRON.match(schedule.strip()):
        raise InvalidArgument(f"schedule {schedule!r} is not a cron expression such as '0 3 * * *'")
    if not re.fullmatch(r"[\w.:/@-]+", image):
        raise InvalidArgument(f"image {image!r} is not an image reference such as 'chaosllm:0.1.0'")
    if not re.fullmatch(r"\d+(Mi|Gi|Ti)", volume_size):
        raise InvalidArgument(f"volume size {volume_size!r} must be a quantity such as '1Gi'")
    controls = None if control_file is None else (control_file, read_control_file(control_file))
    steps = load_steps(paths)
    _check_policy(steps, namespace, policy)
    _check_guarded(steps, controls)
    labels = {MANAGED_BY[0]: MANAGED_BY[1]}
    spec: dict[str, Any] = {
        "entrypoint": "pipeline",
        "onExit": "cleanup",
        "serviceAccountName": service_account,
        "volumes": [{"name": "experiments", "configMap": {"name": f"{name}-experiments"}}],
        "volumeClaimTemplates": [{
            "metadata": {"name": "journals"},
            # Parallel runs write from several pods at once, possibly on several nodes.
            "spec": {"accessModes": ["ReadWriteMany" if parallel else "ReadWriteOnce"],
                     "resources": {"requests": {"storage": volume_size}}}}],
        "templates": _templates(steps, name, namespace, image, parallel, fail_on, controls),
    }  # fmt: skip
    if schedule is not None:
        return {"apiVersion": API_VERSION, "kind": "CronWorkflow",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"schedules": [schedule.strip()], "concurrencyPolicy": "Forbid",
                         "workflowMetadata": {"labels": labels}, "workflowSpec": spec}}
    return {"apiVersion": API_VERSION, "kind": "Workflow",
            "metadata": {"generateName": f"{name}-", "namespace": namespace, "labels": labels},
            "spec": spec}
