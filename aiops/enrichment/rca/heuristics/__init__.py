"""Heuristic RCA: ordered, deterministic rules over :class:`~.model.Evidence` → :class:`~.model.RcaResult`.

Fed by: :mod:`.evidence` (live or from files for ``aiops rca``). Consumed by: the incident
enricher, the LLM RCA (as its fallback when the model fails), the CLI, API and chat.

Always available, offline, no clock: the same evidence gives the same result. The first rule
that matches answers (order and confidences in ``docs/rca.md``): OOM kill, node failure or
pressure, image pull, container config error, bad rollout, crash explained by log findings,
probe misconfiguration, crash explained by its exit code only, scheduling, storage, autoscaler
at its ceiling, replica creation failure, log findings without a crash, and else ``unknown``.
Each result cites its evidence (``status:OOMKilled``, ``event:BackOff x14``, ``log:postgres line
12``, ``rollout:revision 15``...). Sources: Kubernetes API reference (``ContainerStateTerminated``
reasons and exit codes, ``NodeCondition``, Deployment conditions, scheduler/kubelet Event reasons);
exit codes above 128 are 128 + the signal number (137 = SIGKILL, 139 = SIGSEGV, 143 = SIGTERM).

The rules live by failure family: :mod:`.containers` (OOM, image, container config, crashes,
probes, log findings), :mod:`.rollout` (bad rollout), :mod:`.cluster` (node, scheduling,
storage, autoscaler, replica creation); :mod:`.common` holds their shared readers and constants.
This module orders them and answers.
"""

from __future__ import annotations

from aiops.enrichment.rca.heuristics.cluster import hpa_maxed, node, replica_failure, scheduling, storage
from aiops.enrichment.rca.heuristics.common import (
    CRASH_PLAYBOOK,
    LOG_GROUPS,
    NODE_PLAYBOOK,
    OOM_PLAYBOOK,
    ROLLBACK_PLAYBOOK,
    SCALE_PLAYBOOK,
    R,
    Rule,
    _event_ref,
    _result,
)
from aiops.enrichment.rca.heuristics.containers import (
    container_config,
    crash_exit_code,
    crash_with_logs,
    image,
    logs_only,
    oom,
    probe,
)
from aiops.enrichment.rca.heuristics.rollout import bad_rollout
from aiops.enrichment.rca.model import Evidence, RcaResult

__all__ = [
    "CRASH_PLAYBOOK",
    "LOG_GROUPS",
    "NODE_PLAYBOOK",
    "OOM_PLAYBOOK",
    "ROLLBACK_PLAYBOOK",
    "RULES",
    "SCALE_PLAYBOOK",
    "Rule",
    "analyze",
    "bad_rollout",
    "container_config",
    "crash_exit_code",
    "crash_with_logs",
    "hpa_maxed",
    "image",
    "logs_only",
    "node",
    "oom",
    "probe",
    "replica_failure",
    "scheduling",
    "storage",
    "unknown",
]


def unknown(ev: Evidence) -> RcaResult:
    """Nothing matched: 0.2 when an incident was detected, 0.1 when the object looks healthy."""
    subject = ev.subject.key
    if ev.incident_type == "unknown" and not ev.events and not ev.log_findings:
        return _result(
            R.UNKNOWN, 0.1, f"No problem found: {subject} shows no failing status, event or error log.", []
        )
    refs = [_event_ref(e) for e in ev.events if e.get("type") == "Warning"][:5]
    summary = f"Unknown cause: {ev.incident_type} on {subject}; the evidence matches no known pattern."
    return _result(R.UNKNOWN, 0.2, summary, [f"incident:{ev.incident_type}", *refs])


#: The rules in the order they are tried; the first result wins, then :func:`unknown`.
RULES: tuple[Rule, ...] = (
    oom,
    node,
    image,
    container_config,
    bad_rollout,
    crash_with_logs,
    probe,
    crash_exit_code,
    scheduling,
    storage,
    hpa_maxed,
    replica_failure,
    logs_only,
)


def analyze(evidence: Evidence) -> RcaResult:
    """The heuristic RCA of ``evidence`` (``source="heuristic"``): the first matching rule of
    :data:`RULES`, else ``unknown`` with confidence 0.1-0.2. Pure and deterministic."""
    for rule in RULES:
        if (result := rule(evidence)) is not None:
            return result
    return unknown(evidence)
