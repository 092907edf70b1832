"""Heuristic RCA rules about the cluster around a workload: nodes, scheduling, storage, autoscaling, quotas.

Fed by: :class:`~aiops.enrichment.rca.model.Evidence` (``node_conditions``, ``object``,
``events``, ``incident_type``). Consumed by: :data:`aiops.enrichment.rca.heuristics.RULES`.
Sources: Kubernetes API reference, ``NodeCondition`` (``Ready`` ``False``/``Unknown``, read by
:func:`aiops.bodies.failing_ready`; ``MemoryPressure``/``DiskPressure``/``PIDPressure``),
``PodCondition`` ``PodScheduled``/``Unschedulable``, the scheduler's and kubelet's Event reasons
(``FailedScheduling``, ``FailedMount``, ``FailedAttachVolume``, ``ProvisioningFailed``,
``FailedCreate``, ``NodeNotReady``) and the HorizontalPodAutoscaler ``spec.maxReplicas``.
Confidences: ``docs/rca.md``.
"""

from __future__ import annotations

from aiops import bodies
from aiops.enrichment.rca.heuristics.common import (
    _PRESSURE,
    NODE_PLAYBOOK,
    SCALE_PLAYBOOK,
    R,
    _event_ref,
    _events,
    _i,
    _m,
    _quote,
    _result,
    _s,
)
from aiops.enrichment.rca.model import Evidence, RcaResult

__all__ = ["hpa_maxed", "node", "replica_failure", "scheduling", "storage"]


def node(ev: Evidence) -> RcaResult | None:
    """Node ``Ready`` False/Unknown → node_failure (0.85); a pressure condition True →
    resource_exhaustion (0.75); a ``NodeNotReady`` Event only → node_failure (0.7)."""
    spec = _m(ev.object.get("spec"))
    name = ev.subject.name if ev.subject.kind == "Node" else _s(spec.get("nodeName")) or "?"
    conditions = {_s(c.get("type")): c for c in ev.node_conditions}
    ready = bodies.failing_ready(ev.node_conditions)
    if ready is not None:
        detail = f"{_s(ready.get('reason'))}: {_s(ready.get('message'))}".strip(": ")
        since = _s(ready.get("lastTransitionTime"))
        summary = (
            f"Node {name} is NotReady (Ready={_s(ready.get('status'))}{f' since {since}' if since else ''})"
        )
        summary += f": {detail}." if detail else "."
        refs = [f"node:{name} Ready={_s(ready.get('status'))}", *map(_event_ref, _events(ev, "NodeNotReady"))]
        return _result(R.NODE_FAILURE, 0.85, summary, refs, NODE_PLAYBOOK)
    pressure = [c for t, c in conditions.items() if t in _PRESSURE and _s(c.get("status")) == "True"]
    if pressure:
        kinds = ", ".join(_s(c.get("type")) for c in pressure)
        messages = "; ".join(_s(c.get("message")) for c in pressure if _s(c.get("message")))
        summary = (
            f"Node {name} reports {kinds}{f' ({messages})' if messages else ''}; pods on it may be evicted."
        )
        refs = [f"node:{name} {_s(c.get('type'))}=True" for c in pressure]
        return _result(R.RESOURCE_EXHAUSTION, 0.75, summary, refs, NODE_PLAYBOOK)
    if events := _events(ev, "NodeNotReady"):
        summary = f"Node {name} was reported NotReady: {_s(events[-1].get('message'))}."
        return _result(R.NODE_FAILURE, 0.7, summary, [_event_ref(e) for e in events], NODE_PLAYBOOK)
    return None


def scheduling(ev: Evidence) -> RcaResult | None:
    """``FailedScheduling`` Events or ``PodScheduled=False/Unschedulable`` → scheduling (0.85)."""
    events = _events(ev, "FailedScheduling")
    conds = bodies.conditions(_m(ev.object.get("status")))
    unschedulable = [
        c for c in conds if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
    ]
    if not events and not unschedulable:
        return None
    message = _s(events[-1].get("message")) if events else _s(unschedulable[0].get("message"))
    summary = f"Unschedulable: the scheduler cannot place pod {_s(_m(ev.object.get('metadata')).get('name'))}"
    summary += f": {_quote(message, 300)}." if message else "."
    refs = [_event_ref(e) for e in events] + (
        ["condition:PodScheduled Unschedulable"] if unschedulable else []
    )
    return _result(R.SCHEDULING, 0.85, summary, refs)


def storage(ev: Evidence) -> RcaResult | None:
    """``FailedMount``/``FailedAttachVolume``/``ProvisioningFailed`` Events (0.8) or a Pending PVC (0.7)."""
    events = _events(ev, "FailedMount", "FailedAttachVolume", "ProvisioningFailed")
    if events:
        summary = f"Storage: {_s(events[-1].get('reason'))} {_quote(_s(events[-1].get('message')), 300)}."
        return _result(R.STORAGE, 0.8, summary, [_event_ref(e) for e in events])
    if ev.incident_type == "pvc_pending":
        spec = _m(ev.object.get("spec"))
        klass = _s(spec.get("storageClassName")) or "the default class"
        summary = f"Storage: PersistentVolumeClaim {ev.subject.name} is Pending (storage class {klass})."
        return _result(R.STORAGE, 0.7, summary, ["status:PVC Pending"])
    return None


def hpa_maxed(ev: Evidence) -> RcaResult | None:
    """An autoscaler at ``maxReplicas`` wanting more → resource_exhaustion (0.7), ``scale_up_on_load``."""
    if ev.incident_type != "hpa_maxed":
        return None
    spec, status = _m(ev.object.get("spec")), _m(ev.object.get("status"))
    name = _s(_m(ev.object.get("metadata")).get("name"))
    summary = (
        f"Autoscaler at its ceiling: HPA {name} runs {_i(status.get('currentReplicas'))} of maxReplicas "
        f"{_i(spec.get('maxReplicas'))} (desired {_i(status.get('desiredReplicas'))}); load exceeds capacity."
    )
    return _result(
        R.RESOURCE_EXHAUSTION, 0.7, summary, ["status:ScalingLimited TooManyReplicas"], SCALE_PLAYBOOK
    )


def replica_failure(ev: Evidence) -> RcaResult | None:
    """``FailedCreate`` Events: quota exceeded → resource_exhaustion (0.7), else configuration_error (0.5)."""
    events = _events(ev, "FailedCreate")
    if not events:
        return None
    message = _s(events[-1].get("message"))
    quota = "exceeded quota" in message
    summary = f"Replicas cannot be created: {_quote(message, 300)}."
    category = R.RESOURCE_EXHAUSTION if quota else R.CONFIGURATION_ERROR
    return _result(category, 0.7 if quota else 0.5, summary, [_event_ref(e) for e in events])
