"""REST paths of the Kubernetes API, built only from names the Kubernetes naming rules accept.

Fed by: :class:`aiops.kube.Kube` (every call's path and field selector) and callers that show or
check a path before calling (actions' plans, param validation). Consumes: nothing but the names
it is given. Raises :class:`aiops.kube.InvalidName` before anything is sent.

Paths follow "API Concepts" (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris):
``/api/v1/namespaces/NS/pods/NAME`` for the core group, ``/apis/GROUP/VERSION/...`` otherwise.
Every namespace, name, kind, API version and subresource that goes into a path is checked by
:func:`resource_path` against the Kubernetes naming rules for its kind ("Object Names and IDs",
https://kubernetes.io/docs/concepts/overview/working-with-objects/names/) and percent-encoded as
one path segment, so a name taken from an alert label or an object (``x/../../kube-system/...``)
can never address another object.
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import quote

from aiops.kube.api_errors import InvalidName

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


def check(what: str, value: str, pattern: re.Pattern[str], max_length: int, rule: str) -> str:
    """``value`` if it is at most ``max_length`` characters and ``pattern`` matches all of it; else
    raises :class:`InvalidName` naming ``what`` and the ``rule``."""
    if len(value) > max_length or not pattern.fullmatch(value):
        raise InvalidName(what, value, rule)
    return value


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a valid Namespace name (an RFC 1123 label, at most 63 characters).

    Raises :class:`InvalidName` otherwise (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
    """
    return check(
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
        return check(what, name, pattern, limit, f"a {kind} name must be {label} ({_NAMES_DOC})")
    rule = (
        "must be a DNS subdomain name: at most 253 characters of a-z, 0-9, '-' and '.', "
        f"starting and ending with a letter or digit ({_NAMES_DOC})"
    )
    return check(what, name, _DNS_SUBDOMAIN, 253, rule)


def check_container(container: str) -> str:
    """``container`` if it is a valid container name (an RFC 1123 label); raises :class:`InvalidName`.

    Source: the Pod API reference, ``containers[].name`` ("specified as a DNS_LABEL").
    """
    return check("container name", container, _DNS_LABEL, 63, f"must be an RFC 1123 label ({_NAMES_DOC})")


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
    check("API version", api_version, _API_VERSION, 253, "expected 'v1' or 'GROUP/VERSION' (e.g. 'apps/v1')")
    check("kind", kind, _KIND, 63, "expected a kind such as 'Deployment' or a resource such as 'deployments'")
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    parts = [base]
    if namespace:
        parts += ["namespaces", quote(check_namespace(namespace), safe="")]
    parts.append(plural_of(kind))
    if name is not None:
        parts.append(quote(check_name(kind, name), safe=""))
    if subresource is not None:
        parts.append(check("subresource", subresource, _SUBRESOURCE, 63, "expected a word such as 'scale'"))
    return "/".join(parts)


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


def event_selector(ref: ObjectRefLike) -> str:
    """The field selector of the core/v1 Events about ``ref``: ``involvedObject.kind=K,
    involvedObject.name=N`` (and ``,involvedObject.uid=U`` when the uid is known).

    The kind, name and uid are checked (:class:`InvalidName`) before they go into the selector, so
    a name cannot add selector terms (``x,involvedObject.namespace=...``). Field selectors:
    https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/ .
    """
    check("kind", ref.kind, _KIND, 63, "expected a kind such as 'Pod'")
    check_name(ref.kind, ref.name)
    if any(char in ref.name for char in ",=!\\"):
        raise InvalidName(
            f"{ref.kind} name", ref.name, "',', '=', '!' and '\\' are not allowed in a field selector"
        )
    selector = f"involvedObject.kind={ref.kind},involvedObject.name={ref.name}"
    if ref.uid:
        check("uid", ref.uid, _UID, 128, "expected a UUID")
        selector += f",involvedObject.uid={ref.uid}"
    return selector
