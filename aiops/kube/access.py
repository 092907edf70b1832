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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.kube.client import Kube

__all__ = ["REVIEWS_PATH", "review_body", "subject_access_review"]

#: Where reviews are created (cluster-scoped, create only).
REVIEWS_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def review_body(
    *,
    user: str | None,
    groups: Sequence[str],
    verb: str,
    group: str,
    resource: str,
    subresource: str = "",
    namespace: str | None,
    name: str | None,
) -> dict[str, Any]:
    """The ``authorization.k8s.io/v1`` SubjectAccessReview asking whether ``user`` (with ``groups``)
    may ``verb`` the ``group``/``resource``/``subresource`` object ``name`` in ``namespace``.

    ``namespace`` None (or ``""``) asks about cluster scope or every namespace; ``name`` None about
    any object; ``group`` ``""`` is the core group. Empty fields are left out, as kubectl does.
    """
    attributes = {
        "namespace": namespace or "",
        "verb": verb,
        "group": group,
        "resource": resource,
        "subresource": subresource,
        "name": name or "",
    }
    spec: dict[str, Any] = {"resourceAttributes": {k: v for k, v in attributes.items() if v}}
    if user:
        spec["user"] = user
    if groups:
        spec["groups"] = list(groups)
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


async def subject_access_review(
    kube: Kube,
    *,
    user: str | None,
    groups: Sequence[str],
    verb: str,
    group: str,
    resource: str,
    subresource: str = "",
    namespace: str | None,
    name: str | None,
) -> tuple[bool, str]:
    """(``status.allowed``, ``status.reason``) of a SubjectAccessReview (see :func:`review_body`).

    A missing ``status.allowed`` reads as not allowed (default deny); the reason is ``""`` when the
    server gave none (RBAC gives none for a plain denial). Raises the :class:`aiops.kube.ApiError`
    tree: :class:`aiops.kube.Invalid` (422) when neither ``user`` nor ``groups`` is given,
    :class:`aiops.kube.Forbidden` (403) when aiops may not create reviews, a
    :class:`aiops.kube.TemporaryApiError` when the server does not answer.
    """
    body = review_body(
        user=user,
        groups=groups,
        verb=verb,
        group=group,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )
    answer = await kube.request("POST", REVIEWS_PATH, body=body)
    status = (answer.get("status") if isinstance(answer, dict) else None) or {}
    return status.get("allowed") is True, str(status.get("reason") or "")
