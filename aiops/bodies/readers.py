"""Lenient readers of Kubernetes object bodies: Ready, the controller owner, selectors, containers.

Fed by: raw bodies as the API server serves them (``kubectl get -o json`` shapes: camelCase
JSON through :mod:`aiops.kube`, watch events, saved dumps). Consumed by: the detectors
(:mod:`aiops.sources.kubewatch`, which validate strictly first), the actions, the RCA evidence
and heuristics and the emulator.

Lenient: a missing, ``null`` or wrongly typed field reads as absent (``{}``, ``[]``, ``""``,
``None``, ``False``); no reader raises, except :func:`selector_string` on a requirement
without ``key`` or ``operator`` (it builds a query and must not widen it). Semantics follow
the Kubernetes API reference:
``PodCondition``/``NodeCondition`` ``Ready`` (status ``"True"``, ``"False"`` or ``"Unknown"``),
``OwnerReference`` ``controller: true``, ``ContainerStatus`` ``state``/``lastState``/
``restartCount`` and ``LabelSelector`` ``matchLabels``/``matchExpressions`` (In, NotIn, Exists,
DoesNotExist), https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from aiops.bodies.views import (
    Condition,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    ObjectMeta,
    OwnerReference,
)

__all__ = [
    "CONTAINER_STATUS_KEYS",
    "MIRROR_ANNOTATION",
    "annotations_of",
    "condition",
    "conditions",
    "container_statuses",
    "controller_owner",
    "failing_ready",
    "labels_of",
    "last_terminated",
    "mapping",
    "maps",
    "meta",
    "mirror_pod",
    "node_not_ready",
    "node_ready",
    "owner_references",
    "pod_finished",
    "pod_ready",
    "primary_owner",
    "restart_count",
    "selector_matches",
    "selector_string",
    "state_terminated",
    "string",
    "terminating",
    "waiting",
]


# ---- generic lenient access ----


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else ``{}``."""
    return value if isinstance(value, Mapping) else {}


def maps(value: object) -> list[Mapping[str, Any]]:
    """The JSON objects in ``value`` when it is a list (other items dropped), else ``[]``."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def string(value: object) -> str:
    """``value`` when it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def meta(body: Mapping[str, Any]) -> ObjectMeta:
    """``metadata`` (``{}`` when absent or not an object)."""
    return cast(ObjectMeta, mapping(body.get("metadata")))


def labels_of(body: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.labels`` as a new ``{str: str}`` (non-string entries dropped)."""
    found = mapping(meta(body).get("labels"))
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def annotations_of(body: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.annotations`` as a new ``{str: str}`` (non-string entries dropped)."""
    found = mapping(meta(body).get("annotations"))
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


#: The annotation the kubelet puts on a mirror pod: the API object of a static pod, which the
#: API cannot delete or evict (kubectl drain skips it).
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def mirror_pod(body: Mapping[str, Any]) -> bool:
    """Whether a Pod carries :data:`MIRROR_ANNOTATION` (it mirrors a static pod)."""
    return MIRROR_ANNOTATION in mapping(meta(body).get("annotations"))


def pod_finished(body: Mapping[str, Any]) -> bool:
    """Whether a Pod's ``status.phase`` is ``Succeeded`` or ``Failed``: every container has
    terminated and none will be restarted (Pod lifecycle, "Pod phase"); it runs nothing."""
    return mapping(body.get("status")).get("phase") in ("Succeeded", "Failed")


def terminating(body: Mapping[str, Any]) -> bool:
    """Whether ``metadata.deletionTimestamp`` is set: the object is being deleted."""
    return bool(meta(body).get("deletionTimestamp"))


# ---- owners ----


def owner_references(body: Mapping[str, Any]) -> list[OwnerReference]:
    """``metadata.ownerReferences`` (entries that are not objects dropped)."""
    return cast(list[OwnerReference], maps(meta(body).get("ownerReferences")))


def controller_owner(body: Mapping[str, Any]) -> OwnerReference | None:
    """The ownerReference with ``controller: true`` (the managing controller), else ``None``.

    Only the boolean ``true`` counts, as the API types it (``*bool``). The API allows at most
    one controller reference; should several claim it, the first is returned.
    """
    return next((ref for ref in owner_references(body) if ref.get("controller") is True), None)


def primary_owner(body: Mapping[str, Any]) -> OwnerReference | None:
    """The controller ownerReference, else the first one, else ``None`` (how aiops folds an
    object onto a workload even when no reference claims ``controller``)."""
    refs = owner_references(body)
    return controller_owner(body) or (refs[0] if refs else None)


# ---- conditions ----


def conditions(status: Mapping[str, Any]) -> list[Condition]:
    """``status.conditions`` of a status object (entries that are not objects dropped)."""
    return cast(list[Condition], maps(status.get("conditions")))


def condition(found: Iterable[Mapping[str, Any]], type_: str) -> Condition | None:
    """The condition of ``type_`` among ``found`` (e.g. :func:`conditions`), else ``None``.

    Conditions are a list keyed by ``type``; should a type repeat, the *last* entry wins (as the
    detectors' strict map ``aiops.sources.kubewatch.fields.conditions`` keys them).
    """
    match: Condition | None = None
    for entry in found:
        if isinstance(entry, Mapping) and entry.get("type") == type_:
            match = cast(Condition, entry)
    return match


def _any_true(body: Mapping[str, Any], type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in conditions(mapping(body.get("status")))
    )


def pod_ready(body: Mapping[str, Any], *, exclude_terminating: bool = False) -> bool:
    """Whether a Pod's ``Ready`` PodCondition has status ``"True"`` (any such entry counts).

    ``Unknown``, ``False``, a missing condition or a missing ``status`` read as not Ready. With
    ``exclude_terminating`` a pod with ``metadata.deletionTimestamp`` is never Ready (it is
    going away: Pod lifecycle, "Termination of Pods"), as the disruption facts count it.
    """
    if exclude_terminating and terminating(body):
        return False
    return _any_true(body, "Ready")


def node_ready(body: Mapping[str, Any]) -> bool:
    """Whether a Node's ``Ready`` NodeCondition has status ``"True"`` (any such entry counts).

    Not the negation of :func:`node_not_ready`: a Node without a ``Ready`` condition (or with
    another status) is neither Ready here nor NotReady there.
    """
    return _any_true(body, "Ready")


def failing_ready(found: Iterable[Mapping[str, Any]]) -> Condition | None:
    """The ``Ready`` condition among ``found`` when its status is ``"False"`` (the kubelet reports
    the node unhealthy) or ``"Unknown"`` (the node lifecycle controller stopped hearing from it),
    else ``None``. A repeated type: the last entry wins (:func:`condition`)."""
    ready = condition(found, "Ready")
    return ready if ready is not None and ready.get("status") in ("False", "Unknown") else None


def node_not_ready(body: Mapping[str, Any]) -> bool:
    """Whether a Node is NotReady: its ``Ready`` NodeCondition says ``"False"`` or ``"Unknown"``
    (:func:`failing_ready`). A Node without a ``Ready`` condition is *not* NotReady (nothing
    proves it)."""
    return failing_ready(conditions(mapping(body.get("status")))) is not None


# ---- containers ----

#: The ``PodStatus`` lists of container statuses, init containers first.
CONTAINER_STATUS_KEYS = ("initContainerStatuses", "containerStatuses")


def container_statuses(body: Mapping[str, Any], *, init: bool = True) -> list[ContainerStatus]:
    """A Pod's ``status.initContainerStatuses`` (unless ``init`` is false) then
    ``status.containerStatuses``; entries that are not objects dropped."""
    status = mapping(body.get("status"))
    keys = CONTAINER_STATUS_KEYS if init else CONTAINER_STATUS_KEYS[1:]
    return [cast(ContainerStatus, s) for key in keys for s in maps(status.get(key))]


def restart_count(status: Mapping[str, Any]) -> int:
    """A ContainerStatus's ``restartCount`` (0 when absent or not an integer)."""
    value = status.get("restartCount")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def waiting(status: Mapping[str, Any]) -> ContainerStateWaiting:
    """A ContainerStatus's ``state.waiting`` (``{}`` when it is not waiting)."""
    return cast(ContainerStateWaiting, mapping(mapping(status.get("state")).get("waiting")))


def state_terminated(status: Mapping[str, Any]) -> ContainerStateTerminated:
    """A ContainerStatus's ``state.terminated`` (``{}`` when it has not terminated)."""
    return cast(ContainerStateTerminated, mapping(mapping(status.get("state")).get("terminated")))


def last_terminated(status: Mapping[str, Any]) -> ContainerStateTerminated:
    """A ContainerStatus's ``lastState.terminated``: the previous run's end (``{}`` when none)."""
    return cast(ContainerStateTerminated, mapping(mapping(status.get("lastState")).get("terminated")))


# ---- label selectors ----


def _requirement_holds(expr: Mapping[str, Any], found: Mapping[str, str]) -> bool:
    key, op = expr.get("key"), expr.get("operator")
    values = set(expr.get("values") or [])
    present = key in found
    if op == "In":
        return present and found[cast(str, key)] in values
    if op == "NotIn":
        return not (present and found[cast(str, key)] in values)
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return True  # an operator the API would reject: ignored


def selector_matches(selector: Mapping[str, Any] | None, found: Mapping[str, str]) -> bool:
    """Whether labels ``found`` satisfy a meta/v1 ``LabelSelector``.

    Every ``matchLabels`` pair must be present with that value and every ``matchExpressions``
    requirement hold: ``In`` (key present, value in ``values``), ``NotIn`` (key absent, or value
    not in ``values``), ``Exists``, ``DoesNotExist``; an unknown operator is ignored. An empty
    selector (``{}``) matches everything and a null one (``None``) nothing, as the
    PodDisruptionBudget policy/v1 reference defines ``spec.selector``.
    https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
    """
    if selector is None:
        return False
    for key, value in mapping(selector.get("matchLabels")).items():
        if found.get(key) != value:
            return False
    return all(_requirement_holds(expr, found) for expr in maps(selector.get("matchExpressions")))


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A ``LabelSelector`` as a ``labelSelector`` query string: ``app=web,tier in (a,b),!x``
    (matchLabels sorted by key, then matchExpressions in order; ``""`` for an empty or null one).

    Raises ``KeyError`` when a ``matchExpressions`` entry lacks ``key`` or ``operator``: dropping
    it would widen the query."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted(mapping(selector.get("matchLabels")).items())]
    for expr in maps(selector.get("matchExpressions")):
        key, op = expr["key"], expr["operator"]
        values = ",".join(expr.get("values") or [])
        spelled = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}
        parts.append(spelled.get(op, f"!{key}"))
    return ",".join(parts)
