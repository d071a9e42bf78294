"""A small Kubernetes API server on loopback for the chaos-mesh.org (and litmuschaos.io) custom objects.

It speaks the real HTTP API, so the real kubernetes client talks to it
through a kubeconfig file: create (with dryRun and fieldValidation), get,
list, merge-patch, delete and watch, with 404, 409, 415 and 422 answers.
Every object is validated against the CRD's openAPIV3Schema from the Chaos
Mesh CRD files. A controller thread plays Chaos Mesh on the status: pods
are selected from the fake pods, records are injected, recovered when the
duration ends, paused by the pause annotation and removed on delete, with
the failure modes a test can switch on per object name:

- ``never-inject``: pods are selected but no record ever reaches Injected;
- ``stuck-finalizer``: a deleted object keeps its finalizer until the
  clean-finalizer annotation is set to ``forced``.

Custom objects of any group whose CRDs are loaded are served the same way;
a kind without a controller here (Litmus's) can be given one in
``controllers`` (plural -> ``func(namespace, name)``, called with the lock
held). Core ConfigMaps and Secrets are served too (create, get, list by
label, replace, delete). ``authorize`` (see tests/deploy/rbac.py) answers
403 to a request that a set of RBAC rules does not allow. Two switches
make it behave like a cluster across a network: ``latency`` (seconds every
request waits before it is answered) and ``drop_reused`` (how many requests
that arrive on a reused keep-alive connection are dropped unanswered, as
when the server closed an idle connection just as the client sent on it).

When no pod matches, the status says Selected=False but AllInjected=True,
as Chaos Mesh does (chaos-mesh issue 3374).
"""

from __future__ import annotations

import bisect
import copy
import fnmatch
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

_PATH = re.compile(r"/apis/([^/]+)/v1alpha1(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?")
FINALIZER = "chaos-mesh/records"
PAUSE = "experiment.chaos-mesh.org/pause"
CLEAN = "chaos-mesh.chaos-mesh.org/cleanFinalizer"
OBJECT_META_KEYS = {
    "name", "namespace", "labels", "annotations", "generateName", "finalizers", "uid",
    "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "ownerReferences",
    "managedFields", "deletionGracePeriodSeconds", "selfLink",
}  # fmt: skip
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strict(schema: Any) -> Any:
    """Refuse unknown fields, as the API server does with fieldValidation=Strict."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


class Crd:
    def __init__(self, doc: dict[str, Any]):
        self.kind = doc["spec"]["names"]["kind"]
        self.group = doc["spec"]["group"]
        self.plural = doc["spec"]["names"]["plural"]
        version = next(v for v in doc["spec"]["versions"] if v["name"] == "v1alpha1")
        schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
        schema["properties"]["metadata"] = {"type": "object"}  # checked separately
        # OpenAPI v3 schemas use draft-4 semantics (boolean exclusiveMinimum).
        self.lenient = jsonschema.Draft4Validator(schema)
        self.strict = jsonschema.Draft4Validator(_strict(schema))
        self.is_chaos = self.group == "chaos-mesh.org" and self.kind.endswith("Chaos")


def load_crds(folder: Path) -> dict[str, Crd]:
    crds = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(folder.glob("*.yaml")):
        if "workflownodes" in path.name:
            continue  # created only by the workflow controller, never by a client
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                crd = Crd(doc)
                crds[crd.plural] = crd
    return crds


def schema_errors(crd: Crd, obj: dict[str, Any], strict: bool = True) -> list[str]:
    validator = crd.strict if strict else crd.lenient
    errors = [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
              for e in validator.iter_errors(obj)]
    meta = obj.get("metadata") or {}
    errors += [f"metadata.{k}: unknown field" for k in sorted(set(meta) - OBJECT_META_KEYS)]
    name = meta.get("name", "")
    if not name or len(name) > 253 or not DNS1123.match(name):
        errors.append(f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain")
    return errors


# -- label and field selectors, as the API server parses them ------------------------


def _split_terms(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current.strip())
    return terms


def label_match(labels: dict[str, str], query: str | None) -> bool:
    for term in _split_terms(query or ""):
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            inside = labels.get(m.group(1)) in values
            if inside != (m.group(2) == "in"):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = re.split(r"==?", term, maxsplit=1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        obj = (obj or {}).get(part) if isinstance(obj, dict) else None
    return obj


def field_match(obj: dict[str, Any], query: str | None) -> bool:
    for term in _split_terms(query or ""):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if str(_field(obj, key) or "") == value:
                return False
        else:
            key, value = re.split(r"==?", term, maxsplit=1)
            if str(_field(obj, key) or "") != value:
                return False
    return True


def selector_match(pod: dict[str, Any], selector: dict[str, Any], default_ns: str,
                   nodes: dict[str, dict[str, str]] | None = None) -> bool:
    """Chaos Mesh's pod selection over one pod (``nodes``: node name -> its labels)."""
    meta = pod["metadata"]
    if selector.get("pods"):
        return meta["name"] in selector["pods"].get(meta["namespace"], [])
    if meta["namespace"] not in (selector.get("namespaces") or [default_ns]):
        return False
    labels = meta.get("labels") or {}
    if any(labels.get(k) != v for k, v in (selector.get("labelSelectors") or {}).items()):
        return False
    annotations = meta.get("annotations") or {}
    if any(annotations.get(k) != v for k, v in (selector.get("annotationSelectors") or {}).items()):
        return False
    for expr in selector.get("expressionSelectors") or []:
        value, values = labels.get(expr["key"]), expr.get("values") or []
        ok = {"In": value in values, "NotIn": value not in values,
              "Exists": expr["key"] in labels, "DoesNotExist": expr["key"] not in labels}
        if not ok[expr["operator"]]:
            return False
    if not field_match(pod, ",".join(f"{k}={v}" for k, v in
                                     (selector.get("fieldSelectors") or {}).items())):
        return False
    phases = selector.get("podPhaseSelectors")
    if phases and pod.get("status", {}).get("phase") not in phases:
        return False
    node = pod.get("spec", {}).get("nodeName")
    node_labels = (nodes or {}).get(node or "", {})
    if any(node_labels.get(k) != v for k, v in (selector.get("nodeSelectors") or {}).items()):
        return False
    return not selector.get("nodes") or node in selector["nodes"]


def choose(pods: list[dict[str, Any]], mode: str, value: str | None) -> list[dict[str, Any]]:
    if mode == "one":
        return pods[:1]
    if mode == "fixed":
        return pods[: int(value or 0)]
    if mode in ("fixed-percent", "random-max-percent"):
        return pods[: max(1, len(pods) * int(value or 0) // 100)] if pods else []
    return pods


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": self.code,
                "reason": self.reason, "message": self.message}


class _Server(ThreadingHTTPServer):
    # Bulk clients open dozens of connections at once; a backlog of 5 would drop some.
    request_queue_size = 256
    daemon_threads = True


class FakeCluster:
    """The store, the controller and the HTTP server."""

    def __init__(self, crds: dict[str, Crd], controller_delay: float = 0.05):
        self.crds = crds
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        # Called with each request; a string it returns is the message of a 403 answer.
        self.authorize: Any = None
        # Node labels, for nodeSelectors (every fake pod runs on node-1).
        self.nodes = {"node-1": {"kubernetes.io/hostname": "node-1", "disk": "hdd"}}
        self.latency = 0.0
        self.drop_reused = 0
        self.behaviour: dict[str, str] = {}
        self.controllers: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []
        self.status_errors: list[str] = []
        self.events: list[tuple[int, str, str, str, dict[str, Any]]] = []
        self.version = 100
        self.delay = controller_delay
        self.lock = threading.Condition()
        self.timers: list[threading.Timer] = []
        self.stopped = False
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeCluster:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped = True
        for timer in self.timers:
            timer.cancel()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            self.lock.notify_all()

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))  # fmt: skip
        return path

    def add_pod(self, namespace: str, name: str, labels: dict[str, str] | None = None,
                phase: str = "Running", annotations: dict[str, str] | None = None) -> None:
        self.pods[(namespace, name)] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                         "annotations": annotations or {}, "uid": str(uuid.uuid4())},
            "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "app"}]},
            "status": {"phase": phase},
        }  # fmt: skip

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.objects.get((plural, namespace, name))
            return copy.deepcopy(found) if found else None

    def put_raw(self, obj: dict[str, Any], plural: str) -> None:
        """Store an object as if someone else had created it (no controller)."""
        meta = obj["metadata"]
        with self.lock:
            self._store(plural, meta["namespace"], meta["name"], copy.deepcopy(obj), "ADDED")

    # -- store and events ---------------------------------------------------------

    def _store(self, plural: str, ns: str, name: str, obj: dict[str, Any], event: str) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        if event == "DELETED":
            self.objects.pop((plural, ns, name), None)
        else:
            self.objects[(plural, ns, name)] = obj
        self.events.append((self.version, plural, ns, event, copy.deepcopy(obj)))
        self.lock.notify_all()

    def _later(self, delay: float, func: Any, *args: Any) -> None:
        timer = threading.Timer(delay, func, args)
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    # -- the controller -----------------------------------------------------------

    def _reconcile(self, plural: str, ns: str, name: str) -> None:
        with self.lock:
            obj = self.objects.get((plural, ns, name))
            if obj is None:
                return
            if plural in self.controllers:
                self.controllers[plural](ns, name)
                return
            obj = copy.deepcopy(obj)
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                stuck = self.behaviour.get(name) == "stuck-finalizer"
                if stuck and (meta.get("annotations") or {}).get(CLEAN) != "forced":
                    return
                self._set_records(obj, "Not Injected", recovered=True)
                self._store(plural, ns, name, obj, "DELETED")
                return
            crd = self.crds[plural]
            if crd.kind == "Workflow":
                obj["status"] = {"entryNode": f"{name}-entry", "startTime": now(),
                                 "conditions": [{"type": "Scheduled", "status": "True", "reason": ""}]}
            elif crd.is_chaos and "status" not in obj and not self._paused(obj):
                # Chaos Mesh's condition controller can run before its selection:
                # for a moment the status says nothing is selected.
                obj["status"] = {"experiment": {"desiredPhase": "Run"},
                                 "conditions": self._conds(False, True, False)}
                self._later(self.delay, self._reconcile, plural, ns, name)
            elif crd.is_chaos:
                self._play_chaos(obj, ns)
            else:
                return
            self._check_status(crd, obj)
            self._store(plural, ns, name, obj, "MODIFIED")
            duration = obj.get("spec", {}).get("duration")
            selected = (obj.get("status") or {}).get("experiment", {}).get("containerRecords")
            if (crd.is_chaos and selected is not None and duration and _duration(duration) <= 10
                    and not self._paused(obj)):
                self._later(_duration(duration), self._finish, plural, ns, name)

    @staticmethod
    def _paused(obj: dict[str, Any]) -> bool:
        return (obj["metadata"].get("annotations") or {}).get(PAUSE) == "true"

    def _play_chaos(self, obj: dict[str, Any], ns: str) -> None:
        spec = obj["spec"]
        pods = [p for (pns, _), p in sorted(self.pods.items())
                if selector_match(p, spec.get("selector") or {}, ns, self.nodes)]
        chosen = choose(pods, spec.get("mode", "one"), spec.get("value"))
        if self._paused(obj):
            self._set_records(obj, "Not Injected", recovered=True, desired="Stop")
            obj["status"]["conditions"] = self._conds(True, False, True, paused=True)
            return
        never = self.behaviour.get(obj["metadata"]["name"]) == "never-inject"
        phase = "Not Injected" if never else "Injected"
        records = []
        for pod in chosen:
            pid = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            records.append({"id": pid, "selectorKey": ".", "phase": phase,
                            "injectedCount": 0 if never else 1, "recoveredCount": 0,
                            "events": [] if never else [{"type": "Succeeded", "operation": "Apply",
                                                         "timestamp": now()}]})
        obj["status"] = {"experiment": {"desiredPhase": "Run", "containerRecords": records},
                         # No pod selected: AllInjected is vacuously true (chaos-mesh issue 3374).
                         "conditions": self._conds(bool(records), not never, False)}

    @staticmethod
    def _conds(selected: bool, injected: bool, recovered: bool, paused: bool = False) -> list[Any]:
        return [{"type": t, "status": "True" if v else "False"} for t, v in
                (("ObjectCreated", True), ("Selected", selected), ("AllInjected", injected),
                 ("AllRecovered", recovered), ("Paused", paused))]

    @staticmethod
    def _set_records(obj: dict[str, Any], phase: str, recovered: bool, desired: str = "Stop") -> None:
        status = obj.setdefault("status", {})
        experiment = status.setdefault("experiment", {})
        experiment["desiredPhase"] = desired
        for record in experiment.get("containerRecords") or []:
            if record["phase"] == "Injected" and recovered:
                record["recoveredCount"] += 1
                record.setdefault("events", []).append(
                    {"type": "Succeeded", "operation": "Recover", "timestamp": now()})
            record["phase"] = phase

    def _finish(self, plural: str, ns: str, name: str) -> None:
        with self.lock:
            obj = self.objects.get((plural, ns, name))
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                return
            obj = copy.deepcopy(obj)
            self._set_records(obj, "Not Injected", recovered=True)
            obj["status"]["conditions"] = self._conds(True, False, True)
            self._store(plural, ns, name, obj, "MODIFIED")

    def _check_status(self, crd: Crd, obj: dict[str, Any]) -> None:
        # The controller's own writes must be schema-valid, or the tests prove nothing.
        self.status_errors += schema_errors(crd, obj, strict=True)

    # -- HTTP ---------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            # Chunked encoding, as the API server uses: each watch event arrives at once.
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm the body
            # would wait for the client's delayed ACK, 40 ms on every request.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            served = 0  # requests answered on this connection

            def _dispatch(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                request = {"method": method, "path": parts.path, "query": query, "body": body,
                           "content_type": self.headers.get("Content-Type")}
                with cluster.lock:
                    drop = self.served > 0 and cluster.drop_reused > 0
                    cluster.drop_reused -= drop
                if drop:  # close without an answer: the client sees RemoteDisconnected
                    cluster.requests.append({**request, "dropped": True})
                    self.close_connection = True
                    return
                self.served += 1
                cluster.requests.append(request)
                if cluster.latency:
                    time.sleep(cluster.latency)
                try:
                    denied = cluster.authorize(request) if cluster.authorize else None
                    if denied:
                        raise ApiError(403, "Forbidden", denied)
                    if method == "GET" and query.get("watch") in ("true", "1"):
                        self._stream(cluster.watch(parts.path, query))
                        return
                    code, answer = cluster.handle(method, parts.path, query, body,
                                                  self.headers.get("Content-Type", ""))
                except ApiError as exc:
                    code, answer = exc.code, exc.body()
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, events: Iterator[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for event in events:
                        line = json.dumps(event).encode() + b"\n"
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._dispatch("PATCH")

            def do_DELETE(self) -> None:  # noqa: N802
                self._dispatch("DELETE")

            def do_PUT(self) -> None:  # noqa: N802
                self._dispatch("PUT")

        return Handler

    def _route(self, path: str) -> tuple[str | None, str, str | None]:
        """(namespace, plural, name) of a custom object path; ApiError 404 otherwise."""
        m = _PATH.fullmatch(path)
        if not m or m.group(3) not in self.crds or self.crds[m.group(3)].group != m.group(1):
            raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
        return m.group(2), m.group(3), m.group(4)

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               content_type: str) -> tuple[int, Any]:
        core = re.fullmatch(r"/api/v1/namespaces/([^/]+)/(configmaps|secrets)(?:/([^/]+))?", path)
        if core:
            return self._core(method, core.group(2), core.group(1), core.group(3), body, query)
        pods = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path)
        if pods and method == "GET":
            items = [p for (ns, _), p in sorted(self.pods.items()) if ns == pods.group(1)
                     and label_match(p["metadata"].get("labels") or {}, query.get("labelSelector"))
                     and field_match(p, query.get("fieldSelector"))]
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        ns, plural, name = self._route(path)
        crd = self.crds[plural]
        with self.lock:
            if name is None and method == "GET":
                return 200, self._list(crd, ns, query)
            if name is None and method == "POST" and ns:
                return self._create(crd, ns, body, query)
            if name and ns and method == "GET":
                return 200, self._existing(plural, ns, name)
            if name and ns and method == "PATCH":
                if content_type.split(";")[0].strip() != "application/merge-patch+json":
                    raise ApiError(415, "UnsupportedMediaType",
                                   f"only merge patches are served here, got {content_type}")
                return self._patch(crd, ns, name, body)
            if name and ns and method == "DELETE":
                return self._delete(crd, ns, name)
        raise ApiError(405, "MethodNotAllowed", f"{method} {path} is not supported")

    def _core(self, method: str, resource: str, ns: str, name: str | None, body: Any,
              query: dict[str, str]) -> tuple[int, Any]:
        store = self.configmaps if resource == "configmaps" else self.secrets
        kind = "ConfigMap" if resource == "configmaps" else "Secret"
        with self.lock:
            if method == "GET" and name is None:
                items = [copy.deepcopy(o) for (ons, _), o in sorted(store.items()) if ons == ns
                         and label_match(o["metadata"].get("labels") or {}, query.get("labelSelector"))]
                return 200, {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {}, "items": items}
            if method == "POST" and name is None:
                key = (ns, body["metadata"]["name"])
                if key in store:
                    raise ApiError(409, "AlreadyExists", f'{resource} "{key[1]}" already exists')
                store[key] = {**copy.deepcopy(body), "kind": kind}
                return 201, copy.deepcopy(store[key])
            current = store.get((ns, name or ""))
            if current is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
            if method == "GET":
                return 200, copy.deepcopy(current)
            if method == "PUT":
                store[(ns, name or "")] = {**copy.deepcopy(body), "kind": kind}
                return 200, copy.deepcopy(body)
            if method == "DELETE":
                del store[(ns, name or "")]
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        raise ApiError(405, "MethodNotAllowed", f"{method} {resource} is not supported")

    def _existing(self, plural: str, ns: str, name: str) -> dict[str, Any]:
        found = self.objects.get((plural, ns, name))
        if found is None:
            raise ApiError(404, "NotFound", f'{plural}.{self.crds[plural].group} "{name}" not found')
        return copy.deepcopy(found)

    def _list(self, crd: Crd, ns: str | None, query: dict[str, str]) -> dict[str, Any]:
        items = [copy.deepcopy(o) for (p, ons, _), o in sorted(self.objects.items())
                 if p == crd.plural and (ns is None or ons == ns)
                 and label_match(o["metadata"].get("labels") or {}, query.get("labelSelector"))
                 and field_match(o, query.get("fieldSelector"))]
        return {"apiVersion": f"{crd.group}/v1alpha1", "kind": f"{crd.kind}List",
                "metadata": {"resourceVersion": str(self.version)}, "items": items}

    def _create(self, crd: Crd, ns: str, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body is not an object")
        if body.get("kind") != crd.kind or body.get("apiVersion") != f"{crd.group}/v1alpha1":
            raise ApiError(400, "BadRequest",
                           f"kind {body.get('kind')} / {body.get('apiVersion')} sent to {crd.plural}")
        meta = body.setdefault("metadata", {})
        if meta.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the URL")
        meta["namespace"] = ns
        errors = schema_errors(crd, body, strict=query.get("fieldValidation") == "Strict")
        if errors:
            raise ApiError(422, "Invalid", f"{crd.kind}.{crd.group} \"{meta.get('name')}\" is "
                                           f"invalid: " + "; ".join(errors))
        name = meta["name"]
        if (crd.plural, ns, name) in self.objects:
            raise ApiError(409, "AlreadyExists", f'{crd.plural}.{crd.group} "{name}" already exists')
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if crd.is_chaos:
            meta["finalizers"] = [FINALIZER]
        if query.get("dryRun") == "All":
            meta["resourceVersion"] = ""
            return 201, obj
        self._store(crd.plural, ns, name, obj, "ADDED")
        self._later(self.delay, self._reconcile, crd.plural, ns, name)
        return 201, copy.deepcopy(obj)

    def _patch(self, crd: Crd, ns: str, name: str, patch: Any) -> tuple[int, Any]:
        current = self._existing(crd.plural, ns, name)
        updated = merge_patch(current, patch)
        if crd.is_chaos and updated.get("spec") != current.get("spec"):
            raise ApiError(422, "Invalid", "admission webhook denied the request: "
                                           "Cannot update chaos spec")
        errors = schema_errors(crd, updated, strict=True)
        if errors:
            raise ApiError(422, "Invalid", "; ".join(errors))
        if updated["metadata"].get("deletionTimestamp") and not updated["metadata"].get("finalizers"):
            self._store(crd.plural, ns, name, updated, "DELETED")  # the last finalizer went
            return 200, copy.deepcopy(updated)
        self._store(crd.plural, ns, name, updated, "MODIFIED")
        self._later(self.delay, self._reconcile, crd.plural, ns, name)
        return 200, copy.deepcopy(updated)

    def _delete(self, crd: Crd, ns: str, name: str) -> tuple[int, Any]:
        current = self._existing(crd.plural, ns, name)
        if current["metadata"].get("finalizers"):
            if not current["metadata"].get("deletionTimestamp"):
                current["metadata"]["deletionTimestamp"] = now()
                self._store(crd.plural, ns, name, current, "MODIFIED")
            self._later(self.delay, self._reconcile, crd.plural, ns, name)
            return 200, copy.deepcopy(current)
        self._store(crd.plural, ns, name, current, "DELETED")
        return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}

    def watch(self, path: str, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        ns, plural, _ = self._route(path)
        since = int(query.get("resourceVersion") or 0)
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 30)
        wanted, labels = query.get("fieldSelector"), query.get("labelSelector")
        while True:
            with self.lock:
                # Versions only grow: start after `since` rather than scan every event.
                start = bisect.bisect_right(self.events, since, key=lambda e: e[0])
                fresh = [e for e in self.events[start:] if e[1] == plural
                         and (ns is None or e[2] == ns) and field_match(e[4], wanted)
                         and label_match(e[4]["metadata"].get("labels") or {}, labels)]
                if not fresh:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.stopped:
                        return
                    self.lock.wait(min(remaining, 0.5))
                    continue
            for version, _, _, event, obj in fresh:
                since = version
                yield {"type": event, "object": obj}

    def created_bodies(self) -> list[Any]:
        return [r["body"] for r in self.requests
                if r["method"] == "POST" and r["query"].get("dryRun") != "All"
                and r["path"].startswith("/apis/")]

    def matches(self, pattern: str) -> list[str]:
        return [n for (_, _, n) in self.objects if fnmatch.fnmatch(n, pattern)]


def seed_faults(cluster: FakeCluster, namespace: str, count: int) -> None:
    """``count`` chaosllm-managed PodChaos objects, stored as if created earlier."""
    for index in range(count):
        cluster.put_raw({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
            "metadata": {"name": f"fault-{index}", "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "chaosllm"},
                         "finalizers": [FINALIZER]},
            "spec": {"action": "pod-kill", "mode": "one", "duration": "30s",
                     "selector": {"namespaces": [namespace]}},
        }, "podchaos")  # fmt: skip


def main() -> None:
    """Serve a fake cluster in its own process (for benchmarks): prints its URL, stops at EOF."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--crds", required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--namespace", default="bench")
    parser.add_argument("--faults", type=int, default=0)
    args = parser.parse_args()
    cluster = FakeCluster(load_crds(Path(args.crds))).start()
    seed_faults(cluster, args.namespace, args.faults)
    cluster.latency = args.latency
    print(cluster.url, flush=True)
    sys.stdin.read()
    cluster.stop()


if __name__ == "__main__":
    main()
