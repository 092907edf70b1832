"""Pieces every action module shares: the params base model and small readers of API objects.

Fed by: nothing. Consumed by: ``reads``, ``pods``, ``workloads``, ``nodes`` and ``registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from aiops import kube

#: How a rendered template spells "no value"; optional params treat these as ``None``.
_NONE_STRINGS = frozenset({"", "None", "null", "none"})


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


def ref(kind: str, namespace: str | None, name: str) -> str:
    """``Kind/namespace/name``, with ``-`` for cluster-scoped objects (as ``ObjectRef.key``)."""
    return f"{kind}/{namespace or '-'}/{name}"


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object's ``metadata`` (empty when absent)."""
    found: dict[str, Any] = obj.get("metadata") or {}
    return found


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's annotations (empty when absent)."""
    found: dict[str, str] = meta(obj).get("annotations") or {}
    return found


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true``, if any (the object's managing controller)."""
    for owner in meta(obj).get("ownerReferences") or []:
        if owner.get("controller"):
            found: dict[str, Any] = owner
            return found
    return None


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A ``metav1.LabelSelector`` as a ``labelSelector`` query string: ``app=web,tier in (a,b)``.

    https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
    """
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(parts)


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
