"""The one door to the Kubernetes API: plain-JSON get, list, create, patch, delete, evict, logs.

Fed by: ``aiops.runtime`` (built once from settings: kubeconfig, in-cluster, or the emulator's URL).
Consumed by: actions (``aiops.actions``), enrichment, the API's readiness check.

This is the only module that imports ``kubernetes_asyncio`` (lazily, so importing it is cheap). It
speaks the REST API through ``ApiClient.call_api`` with ``_preload_content=False`` and returns the
JSON the server sent, as dicts: no generated model classes. Paths follow "API Concepts"
(https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris):
``/api/v1/namespaces/NS/pods/NAME`` for the core group, ``/apis/GROUP/VERSION/...`` otherwise.

Errors (all :class:`ApiError`, carrying ``status``, ``reason``, ``message`` and the Status ``body``)::

    ApiError
     ├── TemporaryApiError (errors.TemporaryError)   429, 5xx, connection failures (status 0)
     │    ├── TooManyRequests                          429 (e.g. an eviction a PDB forbids)
     │    └── Unreachable                              no HTTP answer at all
     └── PermanentApiError (errors.PermanentError)   every other 4xx
          ├── NotFound (404)  ├── Conflict (409)  ├── Forbidden (403)  └── Invalid (422)

    InvalidName (errors.PermanentError)   a namespace, name or other path part the Kubernetes
                                          naming rules refuse: raised before anything is sent

Every namespace, name, kind, API version and subresource that goes into a path is checked by
:func:`resource_path` against the Kubernetes naming rules for its kind
(https://kubernetes.io/docs/concepts/overview/working-with-objects/names/) and percent-encoded
as one path segment, so a name taken from an alert label or an object (``x/../../kube-system/...``)
can never address another object.

Every call is appended as an :class:`ApiCall` to the recorders opened with :meth:`Kube.recording`.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote, urlencode

import aiohttp
import yaml

from aiops import errors
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

#: Kind → plural for the kinds aiops touches (API reference, one page per kind). Other kinds fall
#: back to lower-case + "s" (right for most custom resources, e.g. Playbook → playbooks).
PLURALS: dict[str, str] = {
    "Pod": "pods",
    "Node": "nodes",
    "Namespace": "namespaces",
    "Event": "events",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "PersistentVolume": "persistentvolumes",
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "CustomResourceDefinition": "customresourcedefinitions",
    "Lease": "leases",
    "Playbook": "playbooks",
}

#: DNS-1123 subdomain: at most 253 characters of a-z, 0-9, '-' and '.', alphanumeric at both ends
#: (most object names, Nodes included). "Object Names and IDs", DNS Subdomain Names.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
#: RFC 1123 label: at most 63 characters of a-z, 0-9 and '-', alphanumeric at both ends
#: (Namespaces, container names). "Object Names and IDs", RFC 1123 Label Names.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: RFC 1035 label: an RFC 1123 label that starts with a letter (Services).
_RFC1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
#: A kind as the API spells it (``Deployment``) or a plural resource name (``deployments``).
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
#: ``v1``, ``apps/v1``, ``aiops.dev/v1alpha1``: an optional DNS-subdomain group and a version.
_API_VERSION = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?")
#: A subresource: ``status``, ``scale``, ``log``, ``eviction``.
_SUBRESOURCE = re.compile(r"[a-z]{1,63}")
#: An object uid as a field selector value (a UUID; no ',', '=' or '!').
_UID = re.compile(r"[A-Za-z0-9-]{1,128}")

#: Kinds whose names need only be valid path segments (RBAC: ``system:node``), per "Object Names
#: and IDs", Path Segment Names. Every other kind: DNS subdomain, except those in ``_LABEL_KINDS``.
_PATH_SEGMENT_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
_LABEL_KINDS: dict[str, tuple[re.Pattern[str], int, str]] = {
    "Namespace": (_DNS_LABEL, 63, "an RFC 1123 label"),
    "Service": (_RFC1035_LABEL, 63, "an RFC 1035 label"),
}
_KINDS_BY_PLURAL = {plural: kind for kind, plural in PLURALS.items()}
_NAMES_DOC = "https://kubernetes.io/docs/concepts/overview/working-with-objects/names/"


@dataclass(frozen=True)
class ApiCall:
    """One Kubernetes API call an action made: ``PATCH /apis/apps/v1/namespaces/x/deployments/y`` → 200.

    ``path`` includes the query string; ``status`` is 0 when no HTTP answer came. ``body`` is the
    request body (patches, evictions) or ``None``; ``response`` is a short JSON summary of the answer
    (e.g. ``{"code": 429, "reason": "TooManyRequests", "message": ...}``).
    """

    method: str
    path: str
    status: int
    body: Any = None
    response: Any = None


class ApiError(errors.AiopsError):
    """The API answered a failure (or did not answer). ``body`` is the Status object or text."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else f"{reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body

    @property
    def causes(self) -> list[str]:
        """The ``details.causes[].message`` texts of the Status (e.g. why a PDB refused an eviction)."""
        details = self.body.get("details") if isinstance(self.body, dict) else None
        return [str(c.get("message", "")) for c in (details or {}).get("causes") or [] if isinstance(c, dict)]


class TemporaryApiError(ApiError, errors.TemporaryError):
    """A failure worth retrying: 429, 5xx, no connection."""

    def __init__(
        self, status: int, reason: str, message: str, body: Any = None, *, delay_seconds: float = 1.0
    ):
        super().__init__(status, reason, message, body)
        self.delay_seconds = delay_seconds


class PermanentApiError(ApiError, errors.PermanentError):
    """A failure retrying will not fix: 4xx other than 429."""


class TooManyRequests(TemporaryApiError):
    """429: the server refuses for now (an eviction a PodDisruptionBudget forbids, rate limits)."""


class Unreachable(TemporaryApiError):
    """No HTTP answer: connection refused, DNS, timeout (``status`` 0)."""


class NotFound(PermanentApiError):
    """404: no such object (or resource)."""


class Conflict(PermanentApiError):
    """409: stale resourceVersion, failed precondition or already exists."""


class Forbidden(PermanentApiError):
    """403: RBAC denies it."""


class Invalid(PermanentApiError):
    """422: the object or patch does not validate."""


_BY_STATUS: dict[int, type[ApiError]] = {
    404: NotFound,
    409: Conflict,
    403: Forbidden,
    422: Invalid,
    429: TooManyRequests,
}


def error_for(status: int, body: Any, *, retry_after: str | None = None) -> ApiError:
    """The :class:`ApiError` subclass for an HTTP failure ``status`` with its response ``body``."""
    reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
    message = str(body.get("message") or "") if isinstance(body, dict) else str(body)[:500]
    cls = _BY_STATUS.get(status) or (TemporaryApiError if status >= 500 else PermanentApiError)
    if issubclass(cls, TemporaryApiError):
        delay = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
        return cls(status, reason or "ServerError", message, body, delay_seconds=delay)
    return cls(status, reason or "Failure", message, body)


class CredentialsError(errors.ConfigError):
    """No usable Kubernetes client configuration; ``tried`` says what was tried and why it failed, in
    order (``["kubeconfig /root/.kube/config: does not exist"]``); the message joins them."""

    def __init__(self, tried: builtins.list[str]) -> None:
        super().__init__("; ".join(tried))
        self.tried = list(tried)


def kubeconfig_paths(kubeconfig: str | None = None) -> builtins.list[Path]:
    """The kubeconfig files kubectl would read: ``kubeconfig``, else each entry of ``$KUBECONFIG``
    (separated by ``os.pathsep``), else ``~/.kube/config`` ("Organizing Cluster Access Using
    kubeconfig Files", https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/)."""
    named = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [Path(part).expanduser() for part in named.split(os.pathsep) if part]


def client_source(conf: KubeSettings) -> str:
    """How :meth:`Kube.from_settings` reaches the API server, for start-up messages and ``aiops
    config check``: the ``server`` URL, the in-cluster service account, or the kubeconfig files
    (:func:`kubeconfig_paths`) and context; with neither ``in_cluster`` nor ``kubeconfig`` set,
    the in-cluster account when running in a pod, else the kubeconfig."""
    if conf.server:
        return f"server {conf.server} (AIOPS_KUBE__SERVER)"
    if conf.in_cluster:
        return "the in-cluster service account"
    paths = os.pathsep.join(str(p) for p in kubeconfig_paths(conf.kubeconfig))
    kubeconfig = f"kubeconfig {paths}, context {conf.context or '(its current-context)'}"
    if conf.in_cluster is None and not conf.kubeconfig:
        return f"the in-cluster service account in a pod, else {kubeconfig}"
    return kubeconfig


def _contexts(paths: builtins.list[Path]) -> builtins.list[str]:
    """The context names the kubeconfig files define (unreadable files define none)."""
    names: builtins.list[str] = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        contexts = doc.get("contexts") if isinstance(doc, dict) else None
        for item in contexts if isinstance(contexts, builtins.list) else []:
            if isinstance(item, dict) and item.get("name"):
                names.append(str(item["name"]))
    return names


class InvalidName(errors.PermanentError):
    """A namespace, name, kind, API version, subresource or uid the Kubernetes naming rules refuse.

    Raised by :func:`resource_path` (and the calls that build paths or selectors) before any
    request is sent. ``what`` says which part (``"Pod name"``), ``value`` is the refused text,
    ``reason`` the message without the note that nothing was sent (for param validation).
    """

    def __init__(self, what: str, value: str, rule: str) -> None:
        shown = value if len(value) <= 80 else value[:80] + "…"
        self.reason = f"invalid {what} {shown!r}: {rule}"
        super().__init__(f"{self.reason}; nothing was sent to the API server")
        self.what = what
        self.value = value


def _check(what: str, value: str, pattern: re.Pattern[str], max_length: int, rule: str) -> str:
    if len(value) > max_length or not pattern.fullmatch(value):
        raise InvalidName(what, value, rule)
    return value


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a valid Namespace name (an RFC 1123 label, at most 63 characters).

    Raises :class:`InvalidName` otherwise (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
    """
    return _check(
        "namespace", namespace, _DNS_LABEL, 63, f"a namespace must be an RFC 1123 label ({_NAMES_DOC})"
    )


def check_name(kind: str, name: str) -> str:
    """``name`` if the naming rules of ``kind`` allow it; raises :class:`InvalidName` otherwise.

    Namespaces: RFC 1123 label; Services: RFC 1035 label; RBAC kinds: a path segment (not ``.`` or
    ``..``, no ``/`` or ``%``); every other kind, Nodes and custom resources included: a DNS
    subdomain (at most 253 characters of a-z, 0-9, ``-`` and ``.``). Source: "Object Names and
    IDs", https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ .
    """
    kind = _KINDS_BY_PLURAL.get(kind, kind)
    what = f"{kind} name"
    if kind in _PATH_SEGMENT_KINDS:
        if not name or name in (".", "..") or "/" in name or "%" in name:
            raise InvalidName(
                what, name, f"a path segment name may not be '.', '..' or contain '/' or '%' ({_NAMES_DOC})"
            )
        return name
    if kind in _LABEL_KINDS:
        pattern, limit, label = _LABEL_KINDS[kind]
        return _check(what, name, pattern, limit, f"a {kind} name must be {label} ({_NAMES_DOC})")
    rule = (
        "must be a DNS subdomain name: at most 253 characters of a-z, 0-9, '-' and '.', "
        f"starting and ending with a letter or digit ({_NAMES_DOC})"
    )
    return _check(what, name, _DNS_SUBDOMAIN, 253, rule)


def check_container(container: str) -> str:
    """``container`` if it is a valid container name (an RFC 1123 label); raises :class:`InvalidName`.

    Source: the Pod API reference, ``containers[].name`` ("specified as a DNS_LABEL").
    """
    return _check("container name", container, _DNS_LABEL, 63, f"must be an RFC 1123 label ({_NAMES_DOC})")


class ObjectRefLike(Protocol):
    """What :meth:`Kube.events_for` needs of an object reference (``aiops.events.model.ObjectRef``)."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def uid(self) -> str | None: ...


def plural_of(kind: str) -> str:
    """``Deployment`` → ``deployments``; a lower-case name is taken as already plural."""
    if kind in PLURALS:
        return PLURALS[kind]
    if kind.islower():
        return kind
    lower = kind.lower()
    return (
        lower + "es" if lower.endswith("s") else (lower[:-1] + "ies" if lower.endswith("y") else lower + "s")
    )


def resource_path(
    api_version: str,
    kind: str,
    namespace: str | None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The REST path: ``/apis/apps/v1/namespaces/web/deployments/api/scale``.

    Every part is checked first (:func:`check_namespace`, :func:`check_name` for ``kind``; the
    API version, kind and subresource by their syntax) and each is percent-encoded as one path
    segment. Raises :class:`InvalidName` for any part the Kubernetes naming rules refuse: a
    name such as ``x/../../kube-system/pods/coredns`` never becomes a path. ``namespace`` ``""``
    is taken as ``None`` (cluster-scoped, or all namespaces for a list).
    """
    _check("API version", api_version, _API_VERSION, 253, "expected 'v1' or 'GROUP/VERSION' (e.g. 'apps/v1')")
    _check(
        "kind", kind, _KIND, 63, "expected a kind such as 'Deployment' or a resource such as 'deployments'"
    )
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    parts = [base]
    if namespace:
        parts += ["namespaces", quote(check_namespace(namespace), safe="")]
    parts.append(plural_of(kind))
    if name is not None:
        parts.append(quote(check_name(kind, name), safe=""))
    if subresource is not None:
        parts.append(_check("subresource", subresource, _SUBRESOURCE, 63, "expected a word such as 'scale'"))
    return "/".join(parts)


def summarize(payload: Any, status: int = 200) -> dict[str, Any]:
    """A short JSON summary of an API answer: code, kind, name, resourceVersion; a Status's reason,
    message and causes; a list's item count; a text's size in bytes."""
    summary: dict[str, Any] = {"code": status}
    if isinstance(payload, str):
        return summary | {"bytes": len(payload.encode())}
    if not isinstance(payload, dict):
        return summary
    if payload.get("kind") == "Status":
        summary |= {k: payload[k] for k in ("status", "reason", "message") if k in payload}
        details = payload.get("details") or {}
        if details.get("causes"):
            summary["causes"] = [c.get("message") for c in details["causes"]]
        return summary
    if isinstance(payload.get("items"), list):
        return summary | {"kind": payload.get("kind"), "items": len(payload["items"])}
    meta = payload.get("metadata") or {}
    summary |= {"kind": payload.get("kind"), "name": meta.get("name")}
    return summary | ({"resourceVersion": meta["resourceVersion"]} if "resourceVersion" in meta else {})


class Kube:
    """A Kubernetes API client over one ``kubernetes_asyncio`` ``ApiClient`` that speaks plain JSON.

    ``request_timeout_seconds`` bounds each call. Build with :meth:`from_config` or :meth:`for_server`
    inside a running event loop; :meth:`close` when done.
    """

    def __init__(self, api_client: ApiClient, *, request_timeout_seconds: float = 30.0) -> None:
        self._api = api_client
        self._timeout = request_timeout_seconds
        self._recorders: contextvars.ContextVar[tuple[builtins.list[ApiCall], ...]] = contextvars.ContextVar(
            f"aiops-kube-recorders-{id(self)}", default=()
        )

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
        from kubernetes_asyncio import client, config

        cfg = client.Configuration()
        tried: builtins.list[str] = []
        if in_cluster or (in_cluster is None and kubeconfig is None):
            try:
                config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
                return cls(client.ApiClient(configuration=cfg))
            except config.ConfigException as exc:
                why = (
                    str(exc)
                    if os.environ.get("KUBERNETES_SERVICE_HOST")
                    else "KUBERNETES_SERVICE_HOST is unset"
                )
                tried.append(f"in-cluster service account: not usable ({why})")
                if in_cluster:
                    raise CredentialsError(tried) from exc
        paths = kubeconfig_paths(kubeconfig)
        shown = os.pathsep.join(str(p) for p in paths)
        if not any(p.is_file() for p in paths):
            tried.append(f"kubeconfig {shown}: does not exist")
            raise CredentialsError(tried)
        try:
            await config.load_kube_config(
                config_file=shown, context=context, client_configuration=cfg, persist_config=False
            )
        except (config.ConfigException, OSError, ValueError, AttributeError, TypeError) as exc:
            known = _contexts(paths)
            if context is not None and context not in known:
                has = ", ".join(known) or "none"
                tried.append(f"kubeconfig {shown}: no context {context!r} (it has: {has})")
            else:
                tried.append(f"kubeconfig {shown}: not usable ({exc})")
            raise CredentialsError(tried) from exc
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
        calls: builtins.list[ApiCall] = []
        token = self._recorders.set((*self._recorders.get(), calls))
        try:
            yield calls
        finally:
            self._recorders.reset(token)

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
            self._record(ApiCall(method, shown, 0, body, {"error": str(exc) or type(exc).__name__}))
            raise Unreachable(0, "Unreachable", f"{method} {shown}: {exc or type(exc).__name__}") from exc
        decoded = raw.decode("utf-8", errors="replace")
        payload: Any = decoded
        if not (text and status < 300):
            with contextlib.suppress(ValueError):
                payload = json.loads(decoded)
        self._record(ApiCall(method, shown, status, body, summarize(payload, status)))
        if status >= 400:
            raise error_for(status, payload, retry_after=retry_after)
        return payload

    def _record(self, call: ApiCall) -> None:
        for calls in self._recorders.get():
            calls.append(call)

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
        _check("kind", ref.kind, _KIND, 63, "expected a kind such as 'Pod'")
        check_name(ref.kind, ref.name)
        if any(char in ref.name for char in ",=!\\"):
            raise InvalidName(
                f"{ref.kind} name", ref.name, "',', '=', '!' and '\\' are not allowed in a field selector"
            )
        selector = f"involvedObject.kind={ref.kind},involvedObject.name={ref.name}"
        if ref.uid:
            _check("uid", ref.uid, _UID, 128, "expected a UUID")
            selector += f",involvedObject.uid={ref.uid}"
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
