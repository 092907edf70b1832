"""The catalog of actions a playbook step may name, each with its base risk.

Fed by: nothing (static data). Consumed by: playbook validation (a step may not declare a risk
below its action's base risk, so a write can never be smuggled through as ``low``), the executor
(risk routing) and the action implementations in this package, which must cover every name here.

Risk levels: ``low`` runs at once (reads only); ``medium`` and ``high`` wait at the approval gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Risk(StrEnum):
    """How much harm a step can do; ordered low < medium < high (see :func:`risk_rank`)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


_RISK_RANK = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2}


def risk_rank(risk: Risk) -> int:
    """0 for low, 1 for medium, 2 for high."""
    return _RISK_RANK[risk]


@dataclass(frozen=True)
class ActionInfo:
    """What the rest of aiops may know about an action without importing its implementation.

    ``writes`` is True when the action changes the cluster; every such action has a base risk of
    at least ``medium`` and lands in the audit log.
    """

    name: str
    base_risk: Risk
    writes: bool
    summary: str


CATALOG: dict[str, ActionInfo] = {
    info.name: info
    for info in (
        ActionInfo("describe", Risk.LOW, False, "Read an object and the events that involve it"),
        ActionInfo("logs", Risk.LOW, False, "Read a container's log (current or previous), tail N lines"),
        ActionInfo("events", Risk.LOW, False, "List the core/v1 Events that involve an object"),
        ActionInfo("rollout_history", Risk.LOW, False, "List a Deployment's ReplicaSet revisions"),
        ActionInfo("notify", Risk.LOW, False, "Record a message on the incident"),
        ActionInfo("delete_pod", Risk.MEDIUM, True, "Delete a pod so its controller replaces it"),
        ActionInfo("rollout_restart", Risk.MEDIUM, True, "Restart a workload's pods via its template"),
        ActionInfo("scale", Risk.MEDIUM, True, "Set a workload's replicas through the scale subresource"),
        ActionInfo("cordon", Risk.MEDIUM, True, "Mark a node unschedulable"),
        ActionInfo("uncordon", Risk.MEDIUM, True, "Mark a node schedulable"),
        ActionInfo("patch_resources", Risk.HIGH, True, "Patch a container's requests/limits, bounded"),
        ActionInfo("rollback", Risk.HIGH, True, "Roll a Deployment back to its previous ReplicaSet revision"),
        ActionInfo("drain", Risk.HIGH, True, "Cordon a node and evict its pods through the Eviction API"),
    )
}
