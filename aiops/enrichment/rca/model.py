"""The RCA contract: what evidence an analysis reads and what it answers.

Fed by: the evidence builders (live: from the Kubernetes API through ``aiops.kube``; offline:
``kubectl get -o json`` / events / log files for ``aiops rca``). Consumed by: the heuristic RCA
(always available, offline), the LLM RCA (validated structured output, falling back to the
heuristic), the incident store and the API/chat renderers.

Nothing an RCA says executes: ``recommended_playbook`` can only name an existing playbook id
(checked by the caller against the registry), whose medium/high steps still wait at the gate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiops.events.model import ObjectRef


class RootCause(StrEnum):
    """The root-cause categories an RCA may name."""

    OUT_OF_MEMORY = "out_of_memory"
    APPLICATION_CRASH = "application_crash"
    CONFIGURATION_ERROR = "configuration_error"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"
    IMAGE_PROBLEM = "image_problem"
    PROBE_MISCONFIGURED = "probe_misconfigured"
    BAD_ROLLOUT = "bad_rollout"
    NODE_FAILURE = "node_failure"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    SCHEDULING = "scheduling"
    STORAGE = "storage"
    PERMISSIONS = "permissions"
    NETWORK = "network"
    UNKNOWN = "unknown"


class LogFinding(BaseModel):
    """One log finding as evidence (the shape of ``enrichment.logs.analyze.Finding``, decoupled)."""

    model_config = ConfigDict(frozen=True)

    category: str
    severity: str
    count: int
    first_line: int
    last_line: int
    samples: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    """Everything known about an incident's subject. Raw Kubernetes data stays plain JSON dicts.

    ``object``: the resource as the API returns it. ``owner_chain``: refs from the resource up
    (Pod → ReplicaSet → Deployment). ``events``: core/v1 Events involving it, newest last, each
    ``{type, reason, message, count, last_timestamp}``. ``container_statuses``: the pod's
    ``status.containerStatuses`` (with ``lastState``). ``log_findings``: from the log analyzer
    (previous container first). ``node_conditions``: the node's ``status.conditions``.
    ``rollout_history``: ``{revision, replicaset, images, created}`` oldest first.
    ``resources``: container name → ``{requests, limits}``. Every list may be empty.
    """

    incident_type: str
    subject: ObjectRef
    object: dict[str, Any] = Field(default_factory=dict)
    owner_chain: list[ObjectRef] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    container_statuses: list[dict[str, Any]] = Field(default_factory=list)
    log_findings: list[LogFinding] = Field(default_factory=list)
    log_excerpt: list[str] = Field(default_factory=list)
    node_conditions: list[dict[str, Any]] = Field(default_factory=list)
    rollout_history: list[dict[str, Any]] = Field(default_factory=list)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)


class RcaResult(BaseModel):
    """An RCA: the JSON schema the LLM must answer in, and what the heuristic produces.

    ``confidence`` is 0..1. ``evidence`` lists short references to what supports the
    conclusion (``"event:BackOff x14"``, ``"log:java_oom line 212"``, ``"status:OOMKilled"``).
    ``recommended_playbook`` must be an existing playbook id or null; ``recommended_steps`` are
    plain-language suggestions for a person, never executed. ``source`` says who produced it.
    """

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=2000)
    category: RootCause
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, max_length=20)
    recommended_playbook: str | None = None
    recommended_steps: list[str] = Field(default_factory=list, max_length=10)
    source: str = "heuristic"
