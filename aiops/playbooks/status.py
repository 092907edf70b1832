"""The ``status`` of a ``Playbook`` resource, and the core/v1 Events that report its problems.

Fed by: :meth:`aiops.playbooks.resources.LivePlaybooks.apply` (the outcome of loading one resource)
and :func:`aiops.playbooks.resources.status_writer` (the Events). Consumed by: the Kubernetes API
(the ``status`` subresource, shown by ``kubectl get playbooks`` through the CRD's printer columns
``ID``, ``Steps``, ``Risk`` and ``Ready``; see :mod:`aiops.playbooks.crd`) and ``kubectl describe``.

Status shape (``status`` in the CRD)::

    accepted: bool            # the playbook loaded
    playbookId: str | None    # the id rules and runs use
    steps: int                # how many steps (0 when refused)
    highestRisk: str | None   # low | medium | high: the highest declared risk, compensations included
    problems: [str]           # why it was refused ("Playbook/ns/name: spec.steps.0.risk: ...")
    observedGeneration: int | None
    conditions: [Condition]   # Ready and Invalid

Conditions follow ``metav1.Condition`` (Kubernetes API reference, "Condition"; API conventions,
"Typical status properties"): ``type``, ``status`` (``True``/``False``), ``reason`` (CamelCase),
``message``, ``lastTransitionTime`` (RFC 3339, changed only when ``status`` changes) and
``observedGeneration``. ``Ready`` is True (reason ``Loaded``) when the playbook loaded;
``Invalid`` is True (reason ``ValidationFailed``) with the problems as its message when refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiops.actions import catalog
from aiops.playbooks.model import Playbook

__all__ = ["EVENT_REASON", "MAX_EVENTS", "problem_events", "resource_status"]

#: The ``reason`` of the Warning Event posted for each problem of a refused Playbook resource.
EVENT_REASON = "InvalidPlaybook"

#: At most this many Events per refusal (one per problem; the status lists them all).
MAX_EVENTS = 10

#: ``metav1.Condition.message`` is at most 32768 characters (API reference); Event messages are
#: kept to 1024 (as ``events.k8s.io/v1`` ``note``), the status keeps the whole list.
_CONDITION_MESSAGE_MAX = 32768
_EVENT_MESSAGE_MAX = 1024


def rfc3339(at: datetime) -> str:
    """``at`` (timezone-aware UTC) as ``metav1.Time`` spells it: ``2026-01-02T03:04:05Z``."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def highest_risk(playbook: Playbook) -> catalog.Risk:
    """The highest declared risk of ``playbook``'s steps and their compensations."""
    risks = [step.risk for step in playbook.steps]
    risks += [step.compensate.risk for step in playbook.steps if step.compensate is not None]
    return max(risks, key=catalog.risk_rank)


def _condition(
    previous: Sequence[Mapping[str, Any]],
    kind: str,
    true: bool,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    status = "True" if true else "False"
    before = next((c for c in previous if isinstance(c, Mapping) and c.get("type") == kind), None)
    since = (
        before.get("lastTransitionTime") if before is not None and before.get("status") == status else None
    )
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message[:_CONDITION_MESSAGE_MAX],
        "lastTransitionTime": since or rfc3339(now),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def resource_status(
    previous: Mapping[str, Any] | None,
    *,
    generation: int | None,
    playbook: Playbook | None,
    problems: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """The status of a Playbook resource: loaded as ``playbook``, or refused for ``problems``.

    ``previous`` is the resource's current ``status`` (its conditions keep their
    ``lastTransitionTime`` while their ``status`` holds); ``generation`` its
    ``metadata.generation``; ``now`` the time a changed condition is stamped with.
    """
    before = (previous or {}).get("conditions") or []
    conditions = before if isinstance(before, list) else []
    if playbook is not None:
        return {
            "observedGeneration": generation,
            "accepted": True,
            "playbookId": playbook.id,
            "steps": len(playbook.steps),
            "highestRisk": highest_risk(playbook).value,
            "problems": [],
            "conditions": [
                _condition(
                    conditions,
                    "Ready",
                    True,
                    "Loaded",
                    f"playbook {playbook.id} loaded: {len(playbook.steps)} step(s)",
                    generation=generation,
                    now=now,
                ),
                _condition(conditions, "Invalid", False, "Valid", "", generation=generation, now=now),
            ],
        }
    return {
        "observedGeneration": generation,
        "accepted": False,
        "playbookId": None,
        "steps": 0,
        "highestRisk": None,
        "problems": list(problems),
        "conditions": [
            _condition(
                conditions,
                "Ready",
                False,
                "Invalid",
                f"refused: {len(problems)} problem(s); see the Invalid condition",
                generation=generation,
                now=now,
            ),
            _condition(
                conditions,
                "Invalid",
                True,
                "ValidationFailed",
                "\n".join(problems),
                generation=generation,
                now=now,
            ),
        ],
    }


def problem_events(
    body: Mapping[str, Any], problems: Sequence[str], *, now: datetime, component: str = "aiops"
) -> list[dict[str, Any]]:
    """One core/v1 ``Event`` (type ``Warning``, reason :data:`EVENT_REASON`) per problem of the
    Playbook resource ``body``, at most :data:`MAX_EVENTS`, in the resource's namespace with
    ``involvedObject`` naming it (Kubernetes API reference, Event v1: ``involvedObject.namespace``
    must equal the Event's namespace). Names are ``<resource name>.<random hex>``, as kubectl's
    recorder names them, so each is created anew."""
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    involved = {
        "apiVersion": str(body.get("apiVersion") or "aiops.dev/v1alpha1"),
        "kind": "Playbook",
        "name": str(meta.get("name")),
        "namespace": namespace,
    }
    for field in ("uid", "resourceVersion"):
        if meta.get(field):
            involved[field] = str(meta[field])
    stamp = rfc3339(now)
    return [
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{involved['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": involved,
            "type": "Warning",
            "reason": EVENT_REASON,
            "message": problem[:_EVENT_MESSAGE_MAX],
            "source": {"component": component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        for problem in problems[:MAX_EVENTS]
    ]
