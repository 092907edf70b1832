"""SubjectAccessReview: ask the API server whether a user (or group) may make one request.

Fed by: ``aiops.approvals.access.KubeAccessReview`` (may this approver make the step's writes?).
Consumes: :meth:`aiops.kube.Kube.request` (so the call is recorded and its failures typed).

``POST /apis/authorization.k8s.io/v1/subjectaccessreviews`` with a SubjectAccessReview whose spec
names the user, groups and resource attributes; the API server answers ``status.allowed`` and
``status.reason`` from its authorizers (RBAC), storing nothing. Reference:
https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/
and "Checking API access" (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access).
The caller needs ``create`` on ``subjectaccessreviews`` (group ``authorization.k8s.io``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.kube.client import Kube

__all__ = ["REVIEWS_PATH", "ResourceAttributes", "review_body", "subject_access_review"]

#: Where reviews are created (cluster-scoped, create only).
REVIEWS_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class ResourceAttributes:
    """One request as the authorizer sees it (a SubjectAccessReview's ``resourceAttributes``):
    ``verb`` on ``group``/``resource``/``subresource`` (``""`` for none), object ``name`` (None:
    any) in ``namespace`` (None: cluster scope, or every namespace for a namespaced resource);
    ``group`` ``""`` is the core group."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        qualified = f"{resource}.{self.group}" if self.group else resource
        where = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {qualified}{named} {where}"


def review_body(attributes: ResourceAttributes, *, user: str | None, groups: Sequence[str]) -> dict[str, Any]:
    """The ``authorization.k8s.io/v1`` SubjectAccessReview asking whether ``user`` (with ``groups``)
    may make the request ``attributes``. Empty fields are left out, as kubectl does."""
    fields = {
        "namespace": attributes.namespace or "",
        "verb": attributes.verb,
        "group": attributes.group,
        "resource": attributes.resource,
        "subresource": attributes.subresource,
        "name": attributes.name or "",
    }
    spec: dict[str, Any] = {"resourceAttributes": {k: v for k, v in fields.items() if v}}
    if user:
        spec["user"] = user
    if groups:
        spec["groups"] = list(groups)
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


async def subject_access_review(
    kube: Kube, attributes: ResourceAttributes, *, user: str | None, groups: Sequence[str]
) -> tuple[bool, str]:
    """(``status.allowed``, ``status.reason``) of a SubjectAccessReview (see :func:`review_body`).

    A missing ``status.allowed`` reads as not allowed (default deny); the reason is ``""`` when the
    server gave none (RBAC gives none for a plain denial). Raises the :class:`aiops.kube.ApiError`
    tree: :class:`aiops.kube.Invalid` (422) when neither ``user`` nor ``groups`` is given,
    :class:`aiops.kube.Forbidden` (403) when aiops may not create reviews, a
    :class:`aiops.kube.TemporaryApiError` when the server does not answer.
    """
    body = review_body(attributes, user=user, groups=groups)
    answer = await kube.request("POST", REVIEWS_PATH, body=body)
    status = (answer.get("status") if isinstance(answer, dict) else None) or {}
    return status.get("allowed") is True, str(status.get("reason") or "")
