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
import json
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


def invalid(errors: list[tuple[str, Any, str]]) -> ApiStatus:
    """422 ``SubjectAccessReview.authorization.k8s.io "" is invalid: FIELD: Invalid value: VALUE: ...``
    with one ``details.causes`` entry per (field, value, message); the value is shown as JSON."""
    texts = [f"{path}: Invalid value: {json.dumps(value)}: {message}" for path, value, message in errors]
    shown = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [
        {"reason": "FieldValueInvalid", "message": text, "field": path}
        for text, (path, _, _) in zip(texts, errors, strict=True)
    ]
    details = {"group": "authorization.k8s.io", "kind": "SubjectAccessReview", "causes": causes}
    return ApiStatus(
        422, "Invalid", f'SubjectAccessReview.authorization.k8s.io "" is invalid: {shown}', details
    )


def _object(spec: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, dict):
        raise ApiStatus(400, "BadRequest", f"spec.{key}: expected an object")
    return value


def attributes(spec: dict[str, Any]) -> rbac.Attributes:
    """The :class:`rbac.Attributes` a SubjectAccessReviewSpec asks about; 422 when it is invalid,
    400 when ``resourceAttributes``/``nonResourceAttributes`` is not an object."""
    resource, non_resource = _object(spec, "resourceAttributes"), _object(spec, "nonResourceAttributes")
    errors: list[tuple[str, Any, str]] = []
    if resource is not None and non_resource is not None:
        message = "cannot be specified in combination with resourceAttributes"
        errors.append(("spec.nonResourceAttributes", non_resource, message))
    if resource is None and non_resource is None:
        message = "exactly one of nonResourceAttributes or resourceAttributes must be specified"
        errors.append(("spec.resourceAttributes", None, message))
    user, groups = spec.get("user") or "", spec.get("groups") or []
    if not user and not groups:
        errors.append(("spec.user", user, "at least one of user or group must be specified"))
    if errors:
        raise invalid(errors)
    user_name, group_names = str(user), tuple(str(g) for g in groups)
    if non_resource is not None:
        verb, path = str(non_resource.get("verb") or ""), str(non_resource.get("path") or "")
        return rbac.Attributes(user=user_name, groups=group_names, verb=verb, path=path)
    found = resource or {}
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
