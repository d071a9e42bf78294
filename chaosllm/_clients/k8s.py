"""Kubernetes access for Chaos Mesh and Litmus objects: ``chaos_mesh_api(...)`` and error translation.

The client comes from chaostoolkit-kubernetes's factory
(``chaosk8s.create_k8s_api_client``), so kubeconfig, ``KUBERNETES_CONTEXT``,
in-cluster configuration and its secrets keys behave exactly as they do
there. The kubernetes package is imported only when a client is made.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from chaosllm._clients import DEFAULT_CONNECT_TIMEOUT
from chaosllm.errors import ChaosLLMError, FaultFailed, TargetNotFound, TargetUnreachable

__all__ = ["ChaosMeshApi", "chaos_mesh_api", "GROUP", "LITMUS_GROUP", "VERSION", "CONCURRENCY",
           "group_of"]

GROUP = "chaos-mesh.org"
LITMUS_GROUP = "litmuschaos.io"
VERSION = "v1alpha1"
# The Litmus resources, by plural; every other plural is Chaos Mesh's (both groups are v1alpha1).
_LITMUS_PLURALS = frozenset(("chaosengines", "chaosresults", "chaosexperiments"))
READ_TIMEOUT = 15.0
# How many requests bulk work (removing or pausing every object) keeps in flight;
# the connection pool holds as many, so that no request waits for a connection.
CONCURRENCY = 32


def group_of(plural: str) -> str:
    """The API group a custom resource's plural lives in: litmuschaos.io or chaos-mesh.org."""
    return LITMUS_GROUP if plural in _LITMUS_PLURALS else GROUP


class ChaosMeshApi:
    """The few calls chaosllm makes: custom objects in chaos-mesh.org and litmuschaos.io,
    pods (list), the halt's ConfigMap and the fault ledger's Secrets.
    deploy/kubernetes/rbac.yaml grants exactly these.

    Every call has a short connect timeout; API errors become chaosllm
    errors naming ``action`` and the object. ``create`` returns None on a 409
    and ``delete`` returns None on a 404, because callers decide what those
    mean (replace, or "already gone"). An idempotent request (GET, LIST,
    DELETE) is sent once more on a fresh connection when the server closed
    the pooled one it went out on (HTTP allows that at any time); a create
    or a patch never is, since the first may have been applied.
    """

    def __init__(self, api_client: Any, action: str, timeout: float = DEFAULT_CONNECT_TIMEOUT):
        from kubernetes import client

        self.api_client = api_client
        # Typed as Any: the generated stubs reject the dynamic keyword arguments used here.
        self.custom: Any = client.CustomObjectsApi(api_client)
        self.core: Any = client.CoreV1Api(api_client)
        self.action = action
        self._timeout = (timeout, max(READ_TIMEOUT, timeout))

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _idempotent(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(...)``, sent once more when a pooled connection was closed under it.

        A fresh connection that fails is not retried: only an idle connection
        from the pool can have been closed by the server without it being down.
        """
        from urllib3.exceptions import ProtocolError

        reused = _has_idle_connection(self.api_client)
        try:
            return call(*args, **kwargs)
        except ProtocolError:  # RemoteDisconnected, reset: the server dropped a pooled connection
            if not reused:
                raise
            return call(*args, **kwargs)

    @contextlib.contextmanager
    def _translated(self, what: str, allow: tuple[int, ...] = ()) -> Iterator[dict[str, Any]]:
        """Translate the client's exceptions; a status in ``allow`` sets ``box['status']``."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        box: dict[str, Any] = {"status": None}
        try:
            yield box
        except ApiException as exc:
            if exc.status in allow:
                box["status"] = exc.status
                return
            reason = _api_reason(exc)
            if exc.status == 404:
                raise TargetNotFound(f"could not {self.action} on {what}: not found") from exc
            raise FaultFailed(
                f"could not {self.action} on {what}: HTTP {exc.status} {reason}"
            ) from exc
        except (HTTPError, OSError) as exc:
            raise TargetUnreachable(
                f"could not {self.action} on {what}: Kubernetes API {self.host} unreachable: "
                f"{exc} (connect timeout {self._timeout[0]:.1f} s){_fallback_hint(self.host)}"
            ) from exc

    # chaos-mesh.org and litmuschaos.io custom objects -------------------------------------------------

    def create(
        self, plural: str, namespace: str, body: dict[str, Any], dry_run: bool = False
    ) -> dict[str, Any] | None:
        what = f"{body.get('kind', plural)} {namespace}/{body['metadata'].get('name')}"
        extra = {"dry_run": "All"} if dry_run else {}
        with self._translated(what, allow=(409,)) as box:
            created = self.custom.create_namespaced_custom_object(
                group_of(plural), VERSION, namespace, plural, body,
                field_validation="Strict", _request_timeout=self._timeout, **extra,
            )  # fmt: skip
        return None if box["status"] == 409 else dict(created)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._translated(f"{plural} {namespace}/{name}", allow=(404,)) as box:
            found = self._idempotent(
                self.custom.get_namespaced_custom_object,
                group_of(plural), VERSION, namespace, plural, name, _request_timeout=self._timeout,
            )  # fmt: skip
        return None if box["status"] == 404 else dict(found)

    def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.list_versioned(plural, namespace, label_selector)[0]

    def list_versioned(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """The items and the list's resourceVersion, from which a watch can follow."""
        where = f"{plural} in {namespace or 'all namespaces'}"
        with self._translated(where, allow=(404,)) as box:
            if namespace:
                result = self._idempotent(
                    self.custom.list_namespaced_custom_object, group_of(plural), VERSION, namespace, plural,
                    label_selector=label_selector, _request_timeout=self._timeout,
                )  # fmt: skip
            else:
                result = self._idempotent(
                    self.custom.list_cluster_custom_object, group_of(plural), VERSION, plural,
                    label_selector=label_selector, _request_timeout=self._timeout,
                )  # fmt: skip
        # 404: the CRD is not installed, so there is nothing of this kind.
        if box["status"] == 404:
            return [], ""
        version = str((result.get("metadata") or {}).get("resourceVersion") or "")
        return list(result.get("items", [])), version

    def merge_patch(
        self, plural: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any] | None:
        with self._translated(f"{plural} {namespace}/{name}", allow=(404,)) as box:
            patched = self.custom.patch_namespaced_custom_object(
                group_of(plural), VERSION, namespace, plural, name, patch,
                _content_type="application/merge-patch+json", _request_timeout=self._timeout,
            )  # fmt: skip
        return None if box["status"] == 404 else dict(patched)

    def delete(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._translated(f"{plural} {namespace}/{name}", allow=(404,)) as box:
            # Foreground: a Schedule or Workflow stays until the faults it started are
            # gone, so waiting for it to disappear means its targets are recovered.
            result = self._idempotent(
                self.custom.delete_namespaced_custom_object,
                group_of(plural), VERSION, namespace, plural, name, propagation_policy="Foreground",
                _request_timeout=self._timeout,
            )  # fmt: skip
        return None if box["status"] == 404 else dict(result or {})

    def watch(
        self, plural: str, namespace: str, name: str, resource_version: str, seconds: float
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(event type, object)`` for one object until ``seconds`` pass."""
        yield from self._stream(plural, namespace, f"{plural} {namespace}/{name}", resource_version,
                                seconds, field_selector=f"metadata.name={name}")

    def watch_all(
        self, plural: str, namespace: str | None, label_selector: str, resource_version: str,
        seconds: float,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(event type, object)`` for every object with the labels until ``seconds`` pass."""
        where = f"{plural} in {namespace or 'all namespaces'}"
        yield from self._stream(plural, namespace, where, resource_version, seconds,
                                label_selector=label_selector)

    def _stream(
        self, plural: str, namespace: str | None, what: str, resource_version: str, seconds: float,
        **selectors: str,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        from kubernetes import watch

        watcher = watch.Watch()
        group = group_of(plural)
        args: tuple[str, ...] = (group, VERSION, namespace, plural) if namespace else (group, VERSION, plural)
        lister = (self.custom.list_namespaced_custom_object if namespace
                  else self.custom.list_cluster_custom_object)
        with self._translated(what, allow=(410,)):
            for event in watcher.stream(
                lister, *args, resource_version=resource_version,
                timeout_seconds=max(1, int(seconds)),
                _request_timeout=(self._timeout[0], max(1, int(seconds)) + 5), **selectors,
            ):  # fmt: skip
                yield str(event["type"]), dict(event["raw_object"])
        watcher.stop()

    # core pods, read-only, for previews -------------------------------------------

    def list_pods(
        self, namespace: str, label_selector: str | None, field_selector: str | None
    ) -> builtins.list[dict[str, Any]]:
        with self._translated(f"pods in {namespace}"):
            response = self._idempotent(
                self.core.list_namespaced_pod, namespace, label_selector=label_selector or None,
                field_selector=field_selector or None,
                _request_timeout=self._timeout, _preload_content=False,
            )  # fmt: skip
            data = json.loads(response.data)
        return list(data.get("items", []))

    # core config maps, for state every runner must see (the halt) ---------------------

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._translated(f"ConfigMap {namespace}/{name}", allow=(404,)) as box:
            response = self._idempotent(
                self.core.read_namespaced_config_map, name, namespace,
                _request_timeout=self._timeout, _preload_content=False,
            )  # fmt: skip
            data = json.loads(response.data)
        return None if box["status"] == 404 else dict(data)

    def write_config_map(self, namespace: str, name: str, data: dict[str, str],
                         labels: dict[str, str]) -> dict[str, Any]:
        """Create the ConfigMap, or replace its data and labels if it exists."""
        return self._write_core("ConfigMap", namespace, name, {"data": data}, labels)

    def delete_config_map(self, namespace: str, name: str) -> bool:
        """True when it was deleted, False when there was none."""
        return self._delete_core("ConfigMap", namespace, name)

    # core secrets, for the fault ledger's copy in the cluster ----------------------------

    def list_secrets(self, namespace: str, label_selector: str) -> builtins.list[dict[str, Any]]:
        with self._translated(f"Secrets in {namespace}"):
            response = self._idempotent(
                self.core.list_namespaced_secret, namespace, label_selector=label_selector,
                _request_timeout=self._timeout, _preload_content=False,
            )  # fmt: skip
            data = json.loads(response.data)
        return list(data.get("items", []))

    def write_secret(self, namespace: str, name: str, data: dict[str, str],
                     labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
        """Create the Secret (values given as text), or replace it if it exists."""
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        return self._write_core("Secret", namespace, name, {"type": "Opaque", "data": encoded},
                                labels, annotations)

    def delete_secret(self, namespace: str, name: str) -> bool:
        """True when it was deleted, False when there was none."""
        return self._delete_core("Secret", namespace, name)

    def _write_core(self, kind: str, namespace: str, name: str, content: dict[str, Any],
                    labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
        if annotations:
            meta["annotations"] = annotations
        body = {"apiVersion": "v1", "kind": kind, "metadata": meta, **content}
        suffix = "config_map" if kind == "ConfigMap" else "secret"
        what = f"{kind} {namespace}/{name}"
        with self._translated(what, allow=(409,)) as box:
            response = getattr(self.core, f"create_namespaced_{suffix}")(
                namespace, body, _request_timeout=self._timeout, _preload_content=False)
        if box["status"] == 409:
            with self._translated(what):
                response = getattr(self.core, f"replace_namespaced_{suffix}")(
                    name, namespace, body, _request_timeout=self._timeout, _preload_content=False)
        return dict(json.loads(response.data))

    def _delete_core(self, kind: str, namespace: str, name: str) -> bool:
        suffix = "config_map" if kind == "ConfigMap" else "secret"
        with self._translated(f"{kind} {namespace}/{name}", allow=(404,)) as box:
            self._idempotent(getattr(self.core, f"delete_namespaced_{suffix}"), name, namespace,
                             _request_timeout=self._timeout, _preload_content=False)
        return box["status"] != 404


def _api_reason(exc: Any) -> str:
    try:
        body = json.loads(exc.body)
        return str(body.get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)


def _has_idle_connection(api_client: Any) -> bool:
    """Whether urllib3 holds an idle connection that the next request may reuse."""
    pools = getattr(getattr(api_client.rest_client, "pool_manager", None), "pools", None)
    if pools is None:
        return False
    for key in list(pools.keys()):
        pool = pools.get(key)
        queue = getattr(getattr(pool, "pool", None), "queue", ())
        if any(conn is not None for conn in list(queue)):
            return True
    return False


def _no_retries(api_client: Any) -> None:
    """One attempt per call: urllib3 would otherwise retry a dead API server 3 times
    (the one retry of an idempotent request on a dropped connection is ours)."""
    from kubernetes.client import rest

    api_client.configuration.retries = False
    # As many pooled connections as bulk work keeps requests in flight.
    api_client.configuration.connection_pool_maxsize = CONCURRENCY
    api_client.rest_client.close()
    api_client.rest_client = rest.RESTClientObject(api_client.configuration)


def _fallback_hint(host: str) -> str:
    """Why the client talks to localhost: no kubeconfig and not in a cluster."""
    import os

    if "://localhost" not in host:
        return ""
    config = os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config"))
    if os.path.exists(config) or os.environ.get("KUBERNETES_SERVICE_HOST"):
        return ""
    return (f"; no kubeconfig at {config} and not running in a cluster, so the client fell back "
            "to localhost: set KUBECONFIG or the kubernetes secrets")


@contextlib.contextmanager
def chaos_mesh_api(
    action: str,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    api_client: Any = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[ChaosMeshApi]:
    """Yield a :class:`ChaosMeshApi` built from chaostoolkit-kubernetes's client factory."""
    own = api_client is None
    if own:
        import os

        from chaosk8s import create_k8s_api_client
        from kubernetes.config import kube_config

        # The kubernetes package reads $KUBECONFIG once, at import; chaosk8s reads
        # it at each call. Follow the current value so that both agree.
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = os.environ.get("KUBECONFIG", "~/.kube/config")

        try:
            api_client = create_k8s_api_client(dict(secrets or {}))
        except ChaosLLMError:
            raise
        except Exception as exc:  # kubeconfig errors come in many types
            raise TargetUnreachable(
                f"could not {action}: no usable Kubernetes configuration: {exc}"
            ) from exc
        _no_retries(api_client)
    try:
        yield ChaosMeshApi(api_client, action, timeout)
    finally:
        if own:
            with contextlib.suppress(Exception):
                api_client.close()
