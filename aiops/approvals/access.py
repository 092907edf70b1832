"""The optional Kubernetes RBAC check for approvers: a vote counts only if the API server would let
that person make the step's writes themselves.

Fed by: the runtime, which builds :class:`KubeAccessReview` when ``approvals.subject_access_review``
is on, from the ``kube`` client and ``approvals.people`` (person → identities). Consumed by: the
chat decision path (``aiops.chat.decide``: its ``AccessReview`` protocol, which this class
implements structurally) before a click's vote is counted.

A person is who the API server knows through their ``kubernetes:<user>`` and
``kubernetes-group:<group>`` identities. For every write of the request's plan the check derives
the request attributes the API server's authorizer would see (:func:`call_attributes`: the
HTTP method's verb and the path's group, resource, subresource, namespace and name, per
https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb
and "API Concepts", https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris);
without a plan, from the request's target and the action (:data:`ACTION_WRITES`). It asks one
SubjectAccessReview per distinct attribute set (:func:`aiops.kube.access.subject_access_review`);
every one must allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from aiops import kube as kube_mod
from aiops.approvals.model import ApprovalRequest
from aiops.kube.access import ResourceAttributes, subject_access_review

__all__ = [
    "ACTION_WRITES",
    "VERBS",
    "KubeAccessReview",
    "Write",
    "call_attributes",
    "kubernetes_identity",
    "request_attributes",
]

#: HTTP method → the authorizer's verb for a request naming one object ("Determine the Request
#: Verb", https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb).
#: A DELETE without a name is ``deletecollection``.
VERBS: dict[str, str] = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}

#: Path parts after ``namespaces/NAME`` that are subresources of the Namespace, not resources in it.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


def call_attributes(method: str, path: str) -> ResourceAttributes:
    """The attributes of one API call: ``PATCH /apis/apps/v1/namespaces/shop/deployments/web/scale``
    → patch ``apps`` ``deployments``/``scale`` ``web`` in ``shop``.

    Parsed as the API server's request-info parser does: ``/api/v1/...`` is the core group,
    ``/apis/GROUP/VERSION/...`` another; ``namespaces/NS/`` before the resource sets the namespace
    (``/api/v1/namespaces/NS`` itself is the Namespace NS, in namespace NS); then resource, name,
    subresource. Each segment is percent-decoded. Raises ``ValueError`` for a path that is not a
    resource path or a method that does not write.
    """
    if method not in VERBS:
        raise ValueError(f"{method} is not a write method")
    parts = [unquote(p) for p in path.split("?", maxsplit=1)[0].strip("/").split("/")]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"{path!r} is not a Kubernetes resource path")
    namespace: str | None = None
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if not rest or not all(rest):
        raise ValueError(f"{path!r} is not a Kubernetes resource path")
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else ""
    verb = "deletecollection" if method == "DELETE" and name is None else VERBS[method]
    return ResourceAttributes(verb, group, resource, subresource, namespace, name)


@dataclass(frozen=True)
class Write:
    """One write an action makes, for :data:`ACTION_WRITES`: ``verb`` and ``subresource`` on the
    request's target object, or, when ``resource`` (group, plural) is set, on any object of that
    resource in every namespace (a drain's evictions: the pods are not known before planning)."""

    verb: str
    subresource: str = ""
    resource: tuple[str, str] | None = None


#: What each built-in write action writes, keyed by (action, target kind), with ``None`` for any
#: kind; used when a request carries no plan (or a plan without calls). Read from the planners in
#: ``aiops.actions``: ``delete_pod`` deletes the pod; ``rollout_restart``, ``rollback`` and
#: ``patch_resources`` patch the workload; ``scale`` patches the workload's ``scale`` subresource,
#: or a HorizontalPodAutoscaler itself; ``cordon``/``uncordon`` patch the Node; ``drain`` patches
#: the Node and creates ``pods/eviction`` for its pods, in any namespace.
ACTION_WRITES: dict[tuple[str, str | None], tuple[Write, ...]] = {
    ("delete_pod", None): (Write("delete"),),
    ("rollout_restart", None): (Write("patch"),),
    ("rollback", None): (Write("patch"),),
    ("patch_resources", None): (Write("patch"),),
    ("scale", None): (Write("patch", "scale"),),
    ("scale", "HorizontalPodAutoscaler"): (Write("patch"),),
    ("cordon", None): (Write("patch"),),
    ("uncordon", None): (Write("patch"),),
    ("drain", None): (Write("patch"), Write("create", "eviction", ("", "pods"))),
}


def _target_attributes(request: ApprovalRequest) -> list[ResourceAttributes]:
    target = request.target
    kind = target.kind if target is not None else None
    writes = ACTION_WRITES.get((request.action, kind)) or ACTION_WRITES.get((request.action, None))
    if writes is None:
        raise ValueError(f"no plan, and {request.action!r} is not a built-in write action")
    found = []
    for write in writes:
        if write.resource is not None:
            group, plural = write.resource
            found.append(ResourceAttributes(write.verb, group, plural, write.subresource))
            continue
        if target is not None:
            group = target.api_version.rpartition("/")[0]
            found.append(
                ResourceAttributes(
                    write.verb,
                    group,
                    kube_mod.plural_of(target.kind),
                    write.subresource,
                    target.namespace,
                    target.name,
                )
            )
        elif request.action == "delete_pod":  # a label selector: any pod of the namespace
            namespace = request.params.get("namespace")
            found.append(
                ResourceAttributes(write.verb, "", "pods", "", str(namespace) if namespace else None)
            )
        else:
            raise ValueError(f"no plan and no target for {request.action!r}")
    return found


def request_attributes(request: ApprovalRequest) -> list[ResourceAttributes]:
    """The distinct attribute sets of the request's writes, in order: from its plan's calls, or,
    when it has no plan or the plan makes no call, from its target and :data:`ACTION_WRITES`.

    Raises ``ValueError`` when they cannot be derived (an unknown action without a plan).
    """
    calls = request.plan.calls if request.plan is not None else []
    found = [call_attributes(c.method, c.path) for c in calls] if calls else _target_attributes(request)
    return list(dict.fromkeys(found))


def kubernetes_identity(identities: Iterable[str]) -> tuple[list[str], list[str]]:
    """(users, groups) from ``kubernetes:<user>`` and ``kubernetes-group:<group>`` identities, sorted."""
    users, groups = set(), set()
    for identity in identities:
        scheme, _, rest = identity.partition(":")
        if scheme == "kubernetes" and rest:
            users.add(rest)
        elif scheme == "kubernetes-group" and rest:
            groups.add(rest)
    return sorted(users), sorted(groups)


class KubeAccessReview:
    """Whether Kubernetes RBAC lets a person make every write of a request (see the module docstring).

    ``kube``: the API client (aiops' own identity needs ``create`` on
    ``subjectaccessreviews.authorization.k8s.io``); ``people``: person → identities, as
    ``approvals.people`` holds them (``{"alice": frozenset({"slack:T1/U1", "kubernetes:alice@corp"})}``).
    """

    def __init__(self, kube: kube_mod.Kube, people: Mapping[str, frozenset[str]]) -> None:
        self._kube = kube
        self._people = dict(people)

    async def allows(self, person: str, request: ApprovalRequest) -> tuple[bool, str]:
        """(allowed, reason). Allowed when, for one of the person's Kubernetes users (or, with none,
        for their groups alone) together with all their groups, a SubjectAccessReview allows every
        distinct write of ``request`` (:func:`request_attributes`). The reason names the first
        denied write (``Kubernetes RBAC does not allow alice@corp (groups: sre) to create
        pods/eviction cluster-wide``) with the server's reason when it gave one.

        Not allowed, without asking, for a person with no ``kubernetes:``/``kubernetes-group:``
        identity, or a request whose writes cannot be derived. Raises the
        :class:`aiops.kube.ApiError` tree when the API server fails (403: aiops may not create
        reviews; 5xx, unreachable): the caller decides how to refuse.
        """
        users, groups = kubernetes_identity(self._people.get(person, frozenset()))
        if not users and not groups:
            return False, f"no Kubernetes identity is configured for {person}"
        try:
            writes = request_attributes(request)
        except ValueError as exc:
            return False, f"cannot tell what {request.action} writes: {exc}"
        refusal = ""
        candidates: list[str | None] = list(users) or [None]
        for user in candidates:
            allowed, reason = await self._allows_all(user, groups, writes)
            if allowed:
                return True, reason
            refusal = refusal or reason
        return False, refusal

    async def _allows_all(
        self, user: str | None, groups: Sequence[str], writes: Sequence[ResourceAttributes]
    ) -> tuple[bool, str]:
        who = user or "groups " + ", ".join(groups)
        if user and groups:
            who += f" (groups: {', '.join(groups)})"
        for write in writes:
            allowed, reason = await subject_access_review(self._kube, write, user=user, groups=groups)
            if not allowed:
                because = f": {reason}" if reason else ""
                return False, f"Kubernetes RBAC does not allow {who} to {write}{because}"
        count = "write" if len(writes) == 1 else f"{len(writes)} writes"
        return True, f"Kubernetes RBAC allows {who} the step's {count}"
