"""The Kubernetes API client: plain-JSON get, list, create, replace, patch, delete, evict, logs.

Fed by: ``aiops.runtime`` (built once from the ``kube`` settings: kubeconfig, in-cluster, or the
emulator's URL; see :mod:`aiops.kube.credentials`). Consumed by: actions (``aiops.actions``),
enrichment, the safety verifier, the Playbook status writer and the API's readiness check.

It speaks the REST API through ``kubernetes_asyncio``'s ``ApiClient.call_api`` with
``_preload_content=False`` and returns the JSON the server sent, as dicts: no generated model
classes. Paths come from :func:`aiops.kube.paths.resource_path` (every name checked against the
Kubernetes naming rules first); failures are raised as the typed errors of
:mod:`aiops.kube.api_errors`; every call is appended as an :class:`aiops.kube.ApiCall` to the
recorders opened with :meth:`Kube.recording` (:mod:`aiops.kube.calls`).
"""

from __future__ import annotations

import builtins
import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import aiohttp

from aiops.kube.api_errors import ApiError, Unreachable, error_for
from aiops.kube.calls import ApiCall, CallRecorders, summarize
from aiops.kube.credentials import load_configuration
from aiops.kube.paths import ObjectRefLike, check_container, event_selector, resource_path
from aiops.settings import KubeSettings

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

PatchType = Literal["merge", "strategic", "json"]

#: Content-Type per patch format ("API Concepts: Patch").
PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


class Kube:
    """A Kubernetes API client over one ``kubernetes_asyncio`` ``ApiClient`` that speaks plain JSON.

    ``request_timeout_seconds`` bounds each call. Build with :meth:`from_config` or :meth:`for_server`
    inside a running event loop; :meth:`close` when done.
    """

    def __init__(self, api_client: ApiClient, *, request_timeout_seconds: float = 30.0) -> None:
        self._api = api_client
        self._timeout = request_timeout_seconds
        self._recorders = CallRecorders()

    @classmethod
    async def from_config(
        cls, kubeconfig: str | None = None, context: str | None = None, in_cluster: bool | None = None
    ) -> Kube:
        """In-cluster service account when ``in_cluster`` is True, or None with no ``kubeconfig`` and
        running in a pod; else the kubeconfig (``None``: ``$KUBECONFIG`` or ``~/.kube/config``).

        Raises :class:`CredentialsError` (a :class:`aiops.errors.ConfigError`) saying what was tried:
        a kubeconfig that does not exist is named as missing (kubernetes-asyncio would report
        "Expected key current-context"), a context it lacks is named with the ones it has.
        """
        from kubernetes_asyncio import client

        cfg = await load_configuration(kubeconfig, context, in_cluster)
        return cls(client.ApiClient(configuration=cfg))

    @classmethod
    async def from_settings(cls, conf: KubeSettings) -> Kube:
        """The client ``kube`` settings ask for: ``server`` when set (the demo and tests point it at
        the emulator), else :meth:`from_config` with ``kubeconfig``, ``context`` and ``in_cluster``.
        Raises :class:`CredentialsError` as :meth:`from_config` does."""
        if conf.server:
            return cls.for_server(conf.server)
        return await cls.from_config(conf.kubeconfig, conf.context, conf.in_cluster)

    @classmethod
    def for_server(cls, url: str, token: str | None = None) -> Kube:
        """A client for ``url`` (e.g. the emulator's), TLS unverified, optional bearer ``token``."""
        from kubernetes_asyncio import client

        cfg = client.Configuration(host=url.rstrip("/"))
        cfg.verify_ssl = False
        if token:
            cfg.api_key = {"BearerToken": token}
            cfg.api_key_prefix = {"BearerToken": "Bearer"}
        return cls(client.ApiClient(configuration=cfg))

    @property
    def server(self) -> str:
        """The API server's base URL this client talks to (``https://10.0.0.1:443``)."""
        return str(self._api.configuration.host)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._api.close()

    @contextlib.contextmanager
    def recording(self) -> Iterator[builtins.list[ApiCall]]:
        """Collect the :class:`ApiCall` of every call made in this context (tasks started inside too)."""
        with self._recorders.recording() as calls:
            yield calls

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | None] | None = None,
        body: Any = None,
        content_type: str | None = None,
        text: bool = False,
    ) -> Any:
        """One REST call; returns the decoded JSON (or text when ``text`` and successful).

        Raises an :class:`ApiError` subclass for any failure.
        """
        params = [(k, str(v)) for k, v in (query or {}).items() if v is not None]
        shown = f"{path}?{urlencode(params)}" if params else path
        headers = {"Accept": "*/*" if text else "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = await self._api.call_api(
                path,
                method,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=self._timeout,
            )
            try:
                status, raw = int(response.status), await response.read()
                retry_after = response.headers.get("Retry-After")
            finally:
                response.release()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._recorders.record(ApiCall(method, shown, 0, body, {"error": str(exc) or type(exc).__name__}))
            raise Unreachable(0, "Unreachable", f"{method} {shown}: {exc or type(exc).__name__}") from exc
        decoded = raw.decode("utf-8", errors="replace")
        payload: Any = decoded
        if not (text and status < 300):
            with contextlib.suppress(ValueError):
                payload = json.loads(decoded)
        self._recorders.record(ApiCall(method, shown, status, body, summarize(payload, status)))
        if status >= 400:
            raise error_for(status, payload, retry_after=retry_after)
        return payload

    async def ping(self) -> bool:
        """Whether ``GET /version`` answers 200."""
        try:
            await self.request("GET", "/version")
        except ApiError:
            return False
        return True

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object. Raises :class:`NotFound`."""
        result: dict[str, Any] = await self.request("GET", resource_path(api_version, kind, namespace, name))
        return result

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """A list's items (all namespaces when ``namespace`` is None); selectors as the API spells them."""
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        result = await self.request("GET", resource_path(api_version, kind, namespace), query=query)
        items: builtins.list[dict[str, Any]] = result.get("items") or []
        return items

    async def create(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        body: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """POST a new object; returns it as stored. Raises :class:`Conflict` when it exists."""
        path = resource_path(api_version, kind, namespace)
        result: dict[str, Any] = await self.request("POST", path, query=_dry(dry_run), body=dict(body))
        return result

    async def replace(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        body: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PUT the whole object; a ``metadata.resourceVersion`` in ``body`` is a precondition (409)."""
        path = resource_path(api_version, kind, namespace, name)
        result: dict[str, Any] = await self.request("PUT", path, query=_dry(dry_run), body=dict(body))
        return result

    async def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        patch_type: PatchType = "merge",
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PATCH with ``patch_type`` (merge, strategic or json); returns the patched object.

        A ``metadata.resourceVersion`` in the patch makes it conditional (:class:`Conflict` when stale).
        """
        path = resource_path(api_version, kind, namespace, name, subresource)
        result: dict[str, Any] = await self.request(
            "PATCH", path, query=_dry(dry_run), body=body, content_type=PATCH_CONTENT_TYPES[patch_type]
        )
        return result

    async def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """DELETE; ``preconditions`` (``uid``/``resourceVersion``) must match or it is a :class:`Conflict`."""
        query: dict[str, str | int | None] = {"gracePeriodSeconds": grace_period_seconds, **_dry(dry_run)}
        body = (
            {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": dict(preconditions)}
            if preconditions
            else None
        )
        path = resource_path(api_version, kind, namespace, name)
        result: dict[str, Any] = await self.request("DELETE", path, query=query, body=body)
        return result

    async def evict(self, namespace: str, pod: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Evict a pod through the Eviction API (PodDisruptionBudgets apply).

        https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/ — raises
        :class:`TooManyRequests` when a budget forbids it (see :attr:`ApiError.causes`).
        """
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": namespace},
        }
        path = resource_path("v1", "Pod", namespace, pod, "eviction")
        result: dict[str, Any] = await self.request("POST", path, query=_dry(dry_run), body=body)
        return result

    async def pod_log(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
    ) -> str:
        """A container's log as text; ``previous`` for the last terminated instance.

        ``tail_lines`` keeps the last N lines, ``since_seconds`` only lines newer than that
        (Kubernetes API reference, "read log of the specified Pod": tailLines, sinceSeconds).
        Raises a :class:`PermanentApiError` (400) when there is no previous instance.
        """
        if container is not None:
            check_container(container)
        query = {
            "container": container,
            "previous": "true" if previous else None,
            "tailLines": tail_lines,
            "sinceSeconds": since_seconds,
        }
        path = resource_path("v1", "Pod", namespace, pod, "log")
        text: str = await self.request("GET", path, query=query, text=True)
        return text

    async def get_scale(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The ``autoscaling/v1`` Scale of a Deployment, StatefulSet or ReplicaSet."""
        result: dict[str, Any] = await self.request(
            "GET", resource_path(api_version, kind, namespace, name, "scale")
        )
        return result

    async def patch_scale(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Merge-patch the Scale: ``{"spec": {"replicas": N}}``, optionally a resourceVersion precondition."""
        return await self.patch(
            api_version, kind, namespace, name, dict(body), dry_run=dry_run, subresource="scale"
        )

    async def events_for(self, ref: ObjectRefLike) -> builtins.list[dict[str, Any]]:
        """The core/v1 Events whose ``involvedObject`` is ``ref`` (by kind, name and uid when known),
        oldest first; all namespaces for a cluster-scoped ``ref``.

        The kind, name and uid are checked (:class:`InvalidName`) before they go into the field
        selector, so a name cannot add selector terms (``x,involvedObject.namespace=...``)."""
        selector = event_selector(ref)
        events = await self.list("v1", "Event", ref.namespace, field_selector=selector)
        return sorted(events, key=event_time)


def event_time(event: Mapping[str, Any]) -> str:
    """When an Event last happened, as its RFC 3339 string (``lastTimestamp``, ``eventTime``, ...)."""
    series = event.get("series") or {}
    meta = event.get("metadata") or {}
    return str(
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or meta.get("creationTimestamp")
        or ""
    )


def _dry(dry_run: bool) -> dict[str, str | int | None]:
    return {"dryRun": "All"} if dry_run else {}
