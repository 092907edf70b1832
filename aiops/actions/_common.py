"""Pieces every action module shares: the params base model, name checks, planned-call builders.

Fed by: nothing. Consumed by: ``reads``, ``pods``, ``workloads``, ``nodes`` and ``registry``.
Reading Kubernetes bodies (Ready, the controller owner, label selectors) is :mod:`aiops.bodies`;
:func:`meta` stays here as the *mutable* ``metadata`` accessor the planners edit through.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator

from aiops import bodies, kube
from aiops.actions.plan import Observation, PlannedCall
from aiops.events.model import ObjectRef

#: How a rendered template spells "no value"; optional params treat these as ``None``.
_NONE_STRINGS = frozenset({"", "None", "null", "none"})


@dataclass(frozen=True)
class Reach:
    """Where a step reads or writes: for namespace scoping (``aiops.safety.scope``).

    ``namespaces``: the namespaces it touches objects in. ``cluster``: it also touches
    cluster-scoped objects (a Node) or lists across every namespace (Events of a Node).
    """

    namespaces: frozenset[str] = frozenset()
    cluster: bool = False


class Params(BaseModel):
    """Base of every action's params: unknown keys are errors; lax coercion ("5" → 5, "true" → True).

    Playbook params arrive as strings after Jinja rendering, so an optional param (default ``None``)
    rendered as ``""``/``"None"``/``"null"`` is taken as ``None``.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _none_strings(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if (
            field is not None
            and field.default is None
            and isinstance(value, str)
            and value.strip() in _NONE_STRINGS
        ):
            return None
        return value

    def target(self) -> str:
        """What the action acts on, as ``Kind/namespace/name`` (``-`` for no namespace)."""
        return "-"

    def object_ref(self) -> ObjectRef | None:
        """The one object the action acts on, declared by each params model (shown in approval
        requests); None when it names no single object (a label selector, a notification)."""
        return None

    def reach(self) -> Reach:
        """Where the action reads or writes: the ``namespace`` param when the model has one (a
        model without it touches no namespace); models of cluster-wide actions override this."""
        namespace = getattr(self, "namespace", None)
        return Reach(frozenset({namespace}) if namespace else frozenset())


def ref(kind: str, namespace: str | None, name: str) -> str:
    """``Kind/namespace/name``, with ``-`` for cluster-scoped objects (as ``ObjectRef.key``)."""
    return f"{kind}/{namespace or '-'}/{name}"


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object's ``metadata`` (empty when absent)."""
    found: dict[str, Any] = obj.get("metadata") or {}
    return found


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's annotations as a new dict (empty when absent): :func:`aiops.bodies.annotations_of`."""
    return bodies.annotations_of(obj)


def event_summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """A core/v1 Event as ``{type, reason, message, count, lastTimestamp}``."""
    series = event.get("series") or {}
    return {
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": event.get("message"),
        "count": event.get("count") or series.get("count") or 1,
        "lastTimestamp": kube.event_time(event) or None,
    }


def _name(value: str) -> str:
    try:
        return kube.check_name("object", value)
    except kube.InvalidName as exc:
        raise ValueError(exc.reason) from exc


def _namespace(value: str) -> str:
    try:
        return kube.check_namespace(value)
    except kube.InvalidName as exc:
        raise ValueError(exc.reason) from exc


#: An object name as the API requires it: a DNS-1123 subdomain, never empty (an empty name would
#: turn ``/namespaces/x/pods/NAME`` into the collection: "everything"; a ``/`` would address
#: another object). :func:`aiops.kube.check_name` states the rule.
#: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names
Name = Annotated[str, AfterValidator(_name)]

#: A namespace name: a DNS-1123 label (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names).
Namespace = Annotated[str, AfterValidator(_namespace)]


def pointer_get(obj: Any, pointer: str) -> Any:
    """The value at JSON pointer ``pointer`` (RFC 6901, ``~1`` = ``/``) in ``obj``, or None if absent."""
    current = obj
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return copy.deepcopy(current)


def observe(api_version: str, obj: Mapping[str, Any], *pointers: str) -> Observation:
    """An :class:`Observation` of ``obj`` with the values at ``pointers`` as they are now."""
    m = meta(obj)
    generation = m.get("generation")
    return Observation(
        api_version=api_version,
        kind=str(obj.get("kind") or ""),
        namespace=m.get("namespace"),
        name=str(m.get("name") or ""),
        uid=m.get("uid"),
        resource_version=m.get("resourceVersion"),
        generation=int(generation) if generation is not None else None,
        fields={p: pointer_get(obj, p) for p in pointers},
    )


def patch_call(
    api_version: str,
    kind: str,
    namespace: str | None,
    name: str,
    body: Any,
    *,
    patch_type: kube.PatchType,
    effect: str,
    subresource: str | None = None,
) -> PlannedCall:
    """A planned PATCH of one named object (or its ``subresource``) with ``patch_type``'s content type."""
    return PlannedCall(
        method="PATCH",
        path=kube.resource_path(api_version, kind, namespace, name, subresource),
        body=body,
        content_type=kube.PATCH_CONTENT_TYPES[patch_type],
        object=ref(kind, namespace, name),
        effect=effect,
    )
