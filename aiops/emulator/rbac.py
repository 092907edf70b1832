"""Kubernetes RBAC authorization as the API server's RBAC authorizer decides it: pure functions.

Fed by: the emulator's SubjectAccessReview endpoint (``aiops.emulator._reviews``), which passes
the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings; tests call it directly.
Consumed by: that endpoint, which answers ``status.allowed``/``status.reason`` from :func:`authorize`.

Rules, from "Using RBAC Authorization" (https://kubernetes.io/docs/reference/access-authn-authz/rbac/)
and the authorizer itself (kubernetes ``plugin/pkg/auth/authorizer/rbac/rbac.go`` and
``pkg/registry/rbac/validation/rule.go``):

* RBAC only adds permissions: anything no rule grants is denied (no opinion, ``allowed: false``).
* A ClusterRoleBinding grants its ClusterRole everywhere (every namespace and cluster scope). A
  RoleBinding grants its Role (same namespace) or a ClusterRole only for requests in its own
  namespace; a request without a namespace (cluster-scoped kinds, or "all namespaces") is granted
  by ClusterRoleBindings only.
* Subjects: ``User`` matches the user name, ``Group`` any of the groups, ``ServiceAccount`` the user
  ``system:serviceaccount:<namespace>:<name>`` (its namespace defaults to the RoleBinding's).
* A rule allows a request when its ``verbs``, ``apiGroups``, ``resources`` and ``resourceNames``
  all match: ``*`` matches any verb, group or resource (subresources included); a resource is
  ``resource`` or ``resource/subresource``, and ``*/subresource`` matches that subresource of any
  resource; an empty ``resourceNames`` matches any name, a non-empty one only requests naming one
  of them. Non-resource URLs (``/healthz``) are granted only through ClusterRoleBindings, by
  ``nonResourceURLs`` equal to the path or a prefix ending in ``*``.
* A binding whose role does not exist grants nothing; when nothing allows the request, the
  reason names the missing roles (``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found``),
  else it is empty. An allowed request's reason names the binding, role and subject:
  ``RBAC: allowed by RoleBinding "editors/shop" of Role "editor" to User "alice"`` (binding
  ``name/namespace``; a service account is written ``ServiceAccount "name/namespace"``).

Not emulated: ``aggregationRule`` (the rules stored on a ClusterRole are its rules), the
validation and escalation checks on writes of RBAC objects (a ClusterRoleBinding whose
``roleRef`` names a Role is stored, and grants nothing), and authorizers other than RBAC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Attributes",
    "Decision",
    "Policy",
    "applies_to",
    "authorize",
    "resource_matches",
    "rule_allows",
    "service_account_user",
]

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Attributes:
    """What is asked: who (``user``, ``groups``), and a resource request (``verb``, ``group``,
    ``resource``, ``subresource``, ``namespace`` ``""`` for cluster scope or every namespace,
    ``name`` ``""`` for any) or, when ``path`` is set, a non-resource request (``verb`` on ``path``).
    Mirrors SubjectAccessReviewSpec (https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/).
    """

    user: str = ""
    groups: tuple[str, ...] = ()
    verb: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str | None = None


@dataclass(frozen=True)
class Decision:
    """The answer: ``allowed`` and the authorizer's ``reason`` (may be empty when denied)."""

    allowed: bool
    reason: str


@dataclass(frozen=True)
class Policy:
    """The stored RBAC objects, as API objects (dicts): ``roles`` by (namespace, name),
    ``cluster_roles`` by name, and every RoleBinding and ClusterRoleBinding."""

    roles: Mapping[tuple[str, str], Obj] = field(default_factory=dict)
    cluster_roles: Mapping[str, Obj] = field(default_factory=dict)
    role_bindings: Sequence[Obj] = ()
    cluster_role_bindings: Sequence[Obj] = ()

    @classmethod
    def of(cls, objects: Iterable[Obj]) -> Policy:
        """A policy from RBAC objects of any of the four kinds (others ignored)."""
        roles: dict[tuple[str, str], Obj] = {}
        cluster_roles: dict[str, Obj] = {}
        role_bindings: list[Obj] = []
        cluster_role_bindings: list[Obj] = []
        for obj in objects:
            meta = obj.get("metadata") or {}
            kind = obj.get("kind")
            if kind == "Role":
                roles[str(meta.get("namespace") or ""), str(meta.get("name"))] = obj
            elif kind == "ClusterRole":
                cluster_roles[str(meta.get("name"))] = obj
            elif kind == "RoleBinding":
                role_bindings.append(obj)
            elif kind == "ClusterRoleBinding":
                cluster_role_bindings.append(obj)
        return cls(roles, cluster_roles, role_bindings, cluster_role_bindings)


def service_account_user(namespace: str, name: str) -> str:
    """The user name a service account authenticates as: ``system:serviceaccount:<ns>:<name>``."""
    return f"system:serviceaccount:{namespace}:{name}"


def applies_to(attrs: Attributes, subject: Obj, binding_namespace: str) -> bool:
    """Whether one binding ``subject`` is the requester (see the module docstring)."""
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "User":
        return bool(name) and attrs.user == name
    if kind == "Group":
        return bool(name) and name in attrs.groups
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return bool(namespace and name) and attrs.user == service_account_user(namespace, name)
    return False


def _matches(values: Sequence[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def resource_matches(rule_resources: Sequence[str], resource: str, subresource: str) -> bool:
    """Whether a rule's ``resources`` cover ``resource`` (and ``subresource``, ``""`` for none)."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for allowed in rule_resources:
        if allowed in ("*", combined):
            return True
        if subresource and allowed == f"*/{subresource}":
            return True
    return False


def _path_matches(urls: Sequence[str], path: str) -> bool:
    return any(u in ("*", path) or (u.endswith("*") and path.startswith(u[:-1])) for u in urls)


def rule_allows(attrs: Attributes, rule: Obj) -> bool:
    """Whether one PolicyRule allows the request (see the module docstring)."""
    verbs = list(rule.get("verbs") or [])
    if not _matches(verbs, attrs.verb):
        return False
    if attrs.path is not None:
        return _path_matches(list(rule.get("nonResourceURLs") or []), attrs.path)
    if not _matches(list(rule.get("apiGroups") or []), attrs.group):
        return False
    if not resource_matches(list(rule.get("resources") or []), attrs.resource, attrs.subresource):
        return False
    names = list(rule.get("resourceNames") or [])
    return not names or attrs.name in names


def _subject_text(subject: Obj, binding_namespace: str) -> str:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":  # name/namespace, as the authorizer's describeSubject writes it
        return f'ServiceAccount "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


def _grants(attrs: Attributes, policy: Policy) -> Iterator[tuple[str, list[Obj] | None, str]]:
    """(source text, the role's rules or None when the role is missing, missing-role error)
    for every binding that applies to the requester, ClusterRoleBindings first."""
    for binding in policy.cluster_role_bindings:
        yield from _binding_grants(attrs, policy, binding, "")
    if attrs.namespace and attrs.path is None:
        for binding in policy.role_bindings:
            if str((binding.get("metadata") or {}).get("namespace") or "") == attrs.namespace:
                yield from _binding_grants(attrs, policy, binding, attrs.namespace)


def _binding_grants(
    attrs: Attributes, policy: Policy, binding: Obj, namespace: str
) -> Iterator[tuple[str, list[Obj] | None, str]]:
    subject = next((s for s in binding.get("subjects") or [] if applies_to(attrs, s, namespace)), None)
    if subject is None:
        return
    ref = binding.get("roleRef") or {}
    kind, role_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    meta = binding.get("metadata") or {}
    source = (
        f'RoleBinding "{meta.get("name")}/{namespace}"'
        if namespace
        else f'ClusterRoleBinding "{meta.get("name")}"'
    )
    role: Obj | None = None
    if kind == "ClusterRole":
        role = policy.cluster_roles.get(role_name)
    elif kind == "Role" and namespace:  # a ClusterRoleBinding can only grant a ClusterRole
        role = policy.roles.get((namespace, role_name))
    text = f'{source} of {kind} "{role_name}" to {_subject_text(subject, namespace)}'
    missing = f'{kind.lower()}.rbac.authorization.k8s.io "{role_name}" not found'
    yield text, (list(role.get("rules") or []) if role is not None else None), missing


def authorize(attrs: Attributes, policy: Policy) -> Decision:
    """Allowed when a rule of a role bound to the requester allows the request; the reason names
    the first such binding. Denied otherwise, with the reason listing the bound roles that do not
    exist (empty when none). Source and wording: see the module docstring."""
    missing: list[str] = []
    for source, rules, error in _grants(attrs, policy):
        if rules is None:
            missing.append(error)
            continue
        if any(rule_allows(attrs, rule) for rule in rules):
            return Decision(True, f"RBAC: allowed by {source}")
    if not missing:
        return Decision(False, "")
    shown = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
    return Decision(False, f"RBAC: {shown}")
