"""The emulator's SubjectAccessReview endpoint: ``POST /apis/authorization.k8s.io/v1/subjectaccessreviews``.

Fed by: :class:`aiops.emulator.emulator.ClusterEmulator` for every request to that path. Consumes:
the stored RBAC objects (Roles, ClusterRoles, RoleBindings, ClusterRoleBindings, seeded through the
API or ``put_object``) and :func:`aiops.emulator.rbac.authorize`.

As the API server answers it (SubjectAccessReview v1,
https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/):
201 with the review echoed and ``status.allowed`` (``status.reason`` when the authorizer gave one);
nothing is stored. A spec with neither ``user`` nor ``groups``, or not exactly one of
``resourceAttributes``/``nonResourceAttributes``, answers 422 Invalid with the API server's
field errors (``pkg/apis/authorization/validation``). Any method but POST answers 405.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

import kmock
from kmock._internal.rendering import Response  # kmock exports it, but not in its __all__

from aiops.emulator import rbac
from aiops.emulator._handlers import ApiStatus, body_object

if TYPE_CHECKING:
    from aiops.emulator.emulator import ClusterEmulator

#: The review endpoint (cluster-scoped, create only).
PATH = re.compile(r"^/apis/authorization\.k8s\.io/v1/subjectaccessreviews/?$")
#: Its discovery entry.
RESOURCE = kmock.resource("authorization.k8s.io", "v1", "subjectaccessreviews")
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def is_review_request(request: kmock.Request) -> bool:
    """Whether the request addresses the SubjectAccessReview endpoint (any method)."""
    return PATH.match(request.url.path) is not None


def invalid(messages: list[tuple[str, str]]) -> ApiStatus:
    """422 ``SubjectAccessReview.authorization.k8s.io "" is invalid: FIELD: Invalid value: ...``
    with one ``details.causes`` entry per (field, message)."""
    texts = [f"{path}: Invalid value: {message}" for path, message in messages]
    shown = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [
        {"reason": "FieldValueInvalid", "message": t, "field": p}
        for t, (p, _) in zip(texts, messages, strict=True)
    ]
    details = {"group": "authorization.k8s.io", "kind": "SubjectAccessReview", "causes": causes}
    return ApiStatus(
        422, "Invalid", f'SubjectAccessReview.authorization.k8s.io "" is invalid: {shown}', details
    )


def attributes(spec: dict[str, Any]) -> rbac.Attributes:
    """The :class:`rbac.Attributes` a SubjectAccessReviewSpec asks about; 422 when it is invalid."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    errors: list[tuple[str, str]] = []
    if resource is not None and non_resource is not None:
        errors.append(
            ("spec.nonResourceAttributes", "cannot be specified in combination with resourceAttributes")
        )
    if resource is None and non_resource is None:
        errors.append(
            (
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    user, groups = spec.get("user") or "", spec.get("groups") or []
    if not user and not groups:
        errors.append(("spec.user", '"": at least one of user or group must be specified'))
    if errors:
        raise invalid(errors)
    user_name, group_names = str(user), tuple(str(g) for g in groups)
    if non_resource is not None:
        found: dict[str, Any] = dict(non_resource)
        verb, path = str(found.get("verb") or ""), str(found.get("path") or "")
        return rbac.Attributes(user=user_name, groups=group_names, verb=verb, path=path)
    found = dict(resource or {})
    return rbac.Attributes(
        user=user_name,
        groups=group_names,
        verb=str(found.get("verb") or ""),
        group=str(found.get("group") or ""),
        resource=str(found.get("resource") or ""),
        subresource=str(found.get("subresource") or ""),
        namespace=str(found.get("namespace") or ""),
        name=str(found.get("name") or ""),
    )


def policy_of(emu: ClusterEmulator) -> rbac.Policy:
    """Every stored Role, ClusterRole, RoleBinding and ClusterRoleBinding, as one :class:`rbac.Policy`."""
    objects: list[dict[str, Any]] = []
    for kind in RBAC_KINDS:
        objects += emu.select(emu.resource_of(RBAC_API_VERSION, kind), None)
    return rbac.Policy.of(objects)


def serve(emu: ClusterEmulator, request: kmock.Request) -> Response:
    """Answer one request to the review endpoint (see the module docstring)."""
    if request.method.value != "POST":
        raise ApiStatus(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )
    review = body_object(request)
    raw = review.get("spec")
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    decision = rbac.authorize(attributes(spec), policy_of(emu))
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    answer = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": copy.deepcopy(review.get("metadata") or {}),
        "spec": copy.deepcopy(spec),
        "status": status,
    }
    headers = {"Content-Type": "application/json"}
    return Response(status=201, payload=answer, headers=headers)
