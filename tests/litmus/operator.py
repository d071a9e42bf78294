"""Litmus's operator and runner, played on the fake API server's ChaosEngines.

On a new engine it adds the operator's finalizer and ``engineStatus:
initialized``, then (as the runner would) creates the ChaosResult
``<engine>-<experiment>`` in phase Running with the targeted pods in its
history, and after ``TOTAL_CHAOS_DURATION`` seconds writes the outcome that
``cluster.behaviour[engine name]`` asks for:

- ``pass`` (default): Completed, verdict Pass, every probe Passed;
- ``fail-probe``: Completed_With_Probe_Failure, verdict Fail, the last probe Failed;
- ``error``: Error, verdict Error, no target injected, ``errorOutput`` set;
- ``never-result``: the runner never starts, so no ChaosResult appears;
- ``ignore-stop``: ``engineState: stop`` is never acknowledged.

``engineState: stop`` on a running engine gives ``engineStatus: stopped``
and a Stopped result; deleting an engine drops the finalizer (the operator's
clean-up), unless the behaviour is ``stuck-finalizer``. Every status it
writes is checked against the real CRD schema, as the fake's own controller
does. The field names are Litmus's (tests/fixtures/litmus/SOURCE.md).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.chaosmesh.fake_k8s import FakeCluster, now

FINALIZER = "chaosengine.litmuschaos.io/finalizer"
ENGINES, RESULTS = "chaosengines", "chaosresults"


def _env(engine: dict[str, Any]) -> dict[str, str]:
    experiment = engine["spec"]["experiments"][0]
    env = ((experiment.get("spec") or {}).get("components") or {}).get("env") or []
    return {e["name"]: str(e.get("value", "")) for e in env}


class LitmusOperator:
    def __init__(self, cluster: FakeCluster):
        self.cluster = cluster
        cluster.controllers[ENGINES] = self.reconcile

    # -- helpers (the cluster's lock is held) ------------------------------------------

    def _store(self, plural: str, obj: dict[str, Any], event: str = "MODIFIED") -> None:
        meta = obj["metadata"]
        self.cluster._check_status(self.cluster.crds[plural], obj)
        self.cluster._store(plural, meta["namespace"], meta["name"], obj, event)

    def _engine(self, ns: str, name: str) -> dict[str, Any] | None:
        found = self.cluster.objects.get((ENGINES, ns, name))
        return copy.deepcopy(found) if found else None

    def _targets(self, engine: dict[str, Any]) -> list[str]:
        appinfo = engine["spec"].get("appinfo") or {}
        appns = appinfo.get("appns") or engine["metadata"]["namespace"]
        labels = dict(p.split("=", 1) for p in (appinfo.get("applabel") or "").split(",") if "=" in p)
        pods = [n for (pns, n), pod in sorted(self.cluster.pods.items()) if pns == appns
                and all((pod["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())]
        percent = int(_env(engine).get("PODS_AFFECTED_PERC") or 0)
        return pods[: max(1, len(pods) * percent // 100)] if pods else []

    def _result_key(self, engine: dict[str, Any]) -> tuple[str, str, str]:
        meta = engine["metadata"]
        return RESULTS, meta["namespace"], f"{meta['name']}-{engine['spec']['experiments'][0]['name']}"

    # -- the operator ----------------------------------------------------------------

    def reconcile(self, ns: str, name: str) -> None:
        engine = self._engine(ns, name)
        if engine is None:
            return
        meta, status = engine["metadata"], engine.get("status") or {}
        behaviour = self.cluster.behaviour.get(name, "pass")
        if meta.get("deletionTimestamp"):
            if behaviour != "stuck-finalizer":
                self.cluster._store(ENGINES, ns, name, engine, "DELETED")
            return
        if not status:
            meta["finalizers"] = [FINALIZER]
            experiment = engine["spec"]["experiments"][0]["name"]
            engine["status"] = {"engineStatus": "initialized", "experiments": [
                {"name": experiment, "runner": f"{name}-runner", "status": "Running",
                 "verdict": "Awaited", "lastUpdateTime": now()}]}
            self._store(ENGINES, engine)
            if behaviour != "never-result":
                self.cluster._later(self.cluster.delay, self.start, ns, name)
            return
        if (engine["spec"].get("engineState") == "stop" and status.get("engineStatus") == "initialized"
                and behaviour != "ignore-stop"):
            self._end(engine, "Stopped", "Stopped", "stopped")

    def start(self, ns: str, name: str) -> None:
        with self.cluster.lock:
            engine = self._engine(ns, name)
            if engine is None or (engine.get("status") or {}).get("engineStatus") != "initialized":
                return
            plural, rns, rname = self._result_key(engine)
            old = self.cluster.objects.get((plural, rns, rname))
            history = copy.deepcopy((old or {}).get("status", {}).get("history") or {
                "passedRuns": 0, "failedRuns": 0, "stoppedRuns": 0})
            kind = (engine["spec"].get("appinfo") or {}).get("appkind") or "deployment"
            history["targets"] = [{"name": pod, "kind": kind, "chaosStatus": "injected"}
                                  for pod in self._targets(engine)]
            probes = engine["spec"]["experiments"][0].get("spec", {}).get("probe") or []
            result = {
                "apiVersion": "litmuschaos.io/v1alpha1", "kind": "ChaosResult",
                "metadata": {**(copy.deepcopy(old["metadata"]) if old else {}), "name": rname,
                             "namespace": rns, "labels": {"chaosUID": engine["metadata"]["uid"],
                                                          "name": rname}},
                "spec": {"engine": name, "experiment": engine["spec"]["experiments"][0]["name"],
                         "instance": ""},
                "status": {"experimentStatus": {"phase": "Running", "verdict": "Awaited",
                                                "probeSuccessPercentage": "Awaited"},
                           "probeStatuses": [{"name": p["name"], "type": p["type"], "mode": p["mode"],
                                              "status": {"verdict": "Awaited", "description": ""}}
                                             for p in probes],
                           "history": history},
            }  # fmt: skip
            self._store(plural, result, "MODIFIED" if old else "ADDED")
            seconds = float(_env(engine).get("TOTAL_CHAOS_DURATION") or 1)
        self.cluster._later(seconds, self.finish, ns, name)

    def finish(self, ns: str, name: str) -> None:
        with self.cluster.lock:
            engine = self._engine(ns, name)
            if engine is None or (engine.get("status") or {}).get("engineStatus") != "initialized":
                return
            behaviour = self.cluster.behaviour.get(name, "pass")
            if behaviour == "fail-probe":
                self._end(engine, "Completed_With_Probe_Failure", "Fail", "completed", failed_probe=True)
            elif behaviour == "error":
                self._end(engine, "Error", "Error", "completed",
                          error={"errorCode": "TARGET_SELECTION_ERROR",
                                 "reason": "no target pods found in the app namespace"})
            else:
                self._end(engine, "Completed", "Pass", "completed")

    def _end(self, engine: dict[str, Any], phase: str, verdict: str, engine_status: str,
             failed_probe: bool = False, error: dict[str, str] | None = None) -> None:
        engine["status"]["engineStatus"] = engine_status
        for run in engine["status"]["experiments"]:
            run.update(status="Completed" if engine_status == "completed" else "Stopped",
                       verdict=verdict, lastUpdateTime=now())
        self._store(ENGINES, engine)
        key = self._result_key(engine)
        result = copy.deepcopy(self.cluster.objects.get(key))
        if result is None:
            return
        status = result["status"]
        probes = status["probeStatuses"]
        for index, probe in enumerate(probes):
            failed = failed_probe and index == len(probes) - 1
            probe["status"] = ({"verdict": "Failed", "description": "Probe failed: criteria not met"}
                               if failed else {"verdict": "Passed", "description": "Probe passed"})
        passed = sum(1 for p in probes if p["status"]["verdict"] == "Passed")
        percent = (100 * passed // len(probes)) if probes else 100
        if error:  # nothing was targeted, so nothing was injected
            percent = 0
            status["history"]["targets"] = []
        status["experimentStatus"] = {"phase": phase, "verdict": verdict,
                                      "probeSuccessPercentage": str(percent)}
        if error:
            status["experimentStatus"]["errorOutput"] = error
        counter = {"Pass": "passedRuns", "Stopped": "stoppedRuns"}.get(verdict, "failedRuns")
        status["history"][counter] = int(status["history"].get(counter) or 0) + 1
        self._store(RESULTS, result)
