"""Plans: the exact Kubernetes API calls a write step will make, computed before anyone approves it.

Fed by: each write action's planner (``aiops.actions.pods``, ``.workloads``, ``.nodes``), which
reads the live objects and returns a :class:`Plan`; ``aiops.actions.facts`` adds what the
blast-radius guards need; ``aiops.actions.preview`` asks the API server, with ``dryRun=All``,
what each call would do and stores the answer as a diff.
Consumed by: the executor (the plan is persisted on the step and carried by the approval
request), the safety re-check (``aiops.safety.recheck``: the approved plan against a fresh one),
the guards (``aiops.safety.guards``: :class:`Facts`), the verifier (``aiops.safety.verify``:
:class:`Expectation`), the API, the CLI and chat, which show it.

A plan is JSON (pydantic), so what a person approved is stored byte for byte next to the
decision. ``calls`` are executed in order by ``aiops.actions.apply``; nothing else is written.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

#: Metadata the API server maintains on every write; a diff leaves it out (it is not the change).
NOISE_POINTERS = (
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/managedFields",
    "/metadata/creationTimestamp",
    "/metadata/uid",
)


class PlannedCall(BaseModel):
    """One write the step will send, exactly.

    ``path`` has no query string; ``query`` holds parameters (``dryRun`` is added by dry-run mode
    only). ``body`` is the JSON request body (a patch, DeleteOptions, an Eviction).
    ``object`` names what it writes, ``Kind/namespace/name`` (``-`` for cluster scope).
    ``diff`` is RFC 6902 operations from the live object to what the server answered a
    ``dryRun=All`` of this call would store (metadata the server maintains left out; see
    :data:`NOISE_POINTERS`); for a deletion or eviction it is ``[{"op": "remove", "path": ""}]``.
    ``preview`` is the dry-run answer's summary (``{"code": 201}``, or a refusal such as
    ``{"code": 429, "reason": "TooManyRequests", "causes": [...]}``); None until previewed.
    ``retry_429_seconds``: for an eviction, how long a 429 (a PodDisruptionBudget) is retried.
    """

    method: Literal["POST", "PUT", "PATCH", "DELETE"]
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    content_type: str | None = None
    object: str
    effect: str = ""
    diff: list[dict[str, Any]] = Field(default_factory=list)
    preview: dict[str, Any] | None = None
    retry_429_seconds: float | None = None

    def intent(self) -> tuple[str, str, str]:
        """What the call does, ignoring its ``resourceVersion`` precondition: (method, path, body JSON).

        Two plans whose calls have equal intents make the same change; the precondition is what
        the re-check refreshes when the planned fields did not move.
        """
        return self.method, self.path, json.dumps(_without_resource_version(self.body), sort_keys=True)


def _without_resource_version(body: Any) -> Any:
    if isinstance(body, list):  # a JSON patch: drop the op that pins the resourceVersion
        pinned = "/metadata/resourceVersion"
        return [op for op in body if not (isinstance(op, dict) and op.get("path") == pinned)]
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        meta = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
        rest = {k: v for k, v in body.items() if k != "metadata"}
        return rest | ({"metadata": meta} if meta else {})
    return body


class Observation(BaseModel):
    """An object the plan was computed from, as it was then.

    ``fields`` maps JSON pointers (RFC 6901) the plan depends on or writes to their values at plan
    time; a pointer absent from the object maps to None. The re-check re-reads the object: another
    ``uid`` means it was replaced, another value at any pointer means it changed under the plan.
    """

    api_version: str
    kind: str
    namespace: str | None = None
    name: str
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    fields: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """``Kind/namespace/name`` (``-`` for cluster scope)."""
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"


ExpectationCheck = Literal[
    "pod_replaced",
    "rollout_complete",
    "replicas_ready",
    "autoscaler_ceiling",
    "node_unschedulable",
    "node_schedulable",
    "node_drained",
]


class Expectation(BaseModel):
    """What the cluster should look like once the write took effect (checked by the verifier).

    ``check`` names the condition, on the object ``api_version``/``kind``/``namespace``/``name``;
    ``values`` carries its numbers, per check:

    * ``pod_replaced`` (object: the deleted Pod): ``old_uid``, ``controller_uid``,
      ``controller`` (``Kind/name``); holds when the old pod is gone and every pod of that
      controller is Ready, with no container restarting during the settle period.
    * ``rollout_complete`` (a Deployment, StatefulSet or DaemonSet): ``min_generation``; holds as
      ``kubectl rollout status`` says done: observedGeneration ≥ it, and updated = available =
      desired replicas with no old ones left.
    * ``replicas_ready`` (a Deployment, StatefulSet or ReplicaSet): ``replicas``.
    * ``autoscaler_ceiling`` (a HorizontalPodAutoscaler): ``max_replicas``.
    * ``node_unschedulable`` / ``node_schedulable`` (a Node).
    * ``node_drained`` (a Node): unschedulable, and no pod left on it but DaemonSet-managed,
      mirror or finished ones.

    ``settle_seconds``: how long the condition must hold without interruption;
    ``timeout_seconds``: when to give up (both from the step's ``verify`` or the defaults).
    """

    check: ExpectationCheck
    api_version: str
    kind: str
    namespace: str | None = None
    name: str
    values: dict[str, Any] = Field(default_factory=dict)
    settle_seconds: float = 0.0
    timeout_seconds: float = 300.0

    @property
    def key(self) -> str:
        """``Kind/namespace/name`` (``-`` for cluster scope)."""
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"


class PodRemoval(BaseModel):
    """A pod the plan deletes or evicts, for the PodDisruptionBudget pre-check.

    ``ready``: the pod's Ready condition at plan time; ``labels``: its labels (budgets select by
    them). ``budgets``: the PodDisruptionBudgets whose selector matches it, each as ``{name,
    disruptions_allowed, current_healthy, desired_healthy, unhealthy_pod_eviction_policy}`` from
    the budget's ``status`` (PodDisruptionBudget v1 reference).
    """

    namespace: str
    name: str
    uid: str | None = None
    ready: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    budgets: list[dict[str, Any]] = Field(default_factory=list)


class Facts(BaseModel):
    """What the blast-radius guards decide on, observed while planning (so a fresh plan has fresh facts).

    ``namespaces``: every namespace the plan writes in, with that namespace's annotations
    (``{name: annotations}``; a cluster-scoped write adds none). ``workload``: the workload the
    write disrupts, ``Kind/namespace/name``, with its desired and unavailable pod counts.
    ``node``: the node a node action acts on. ``nodes_total``/``nodes_not_ready``: the cluster's
    nodes when the action is disruptive. ``pod_removals``: pods deleted or evicted.
    ``disruptive``: the write can take running pods away (restart, roll back, patch a template,
    scale down, delete, cordon, drain). ``drain``: the plan drains a node.
    """

    namespaces: dict[str, dict[str, str]] = Field(default_factory=dict)
    workload: str | None = None
    workload_replicas: int | None = None
    workload_unavailable: int | None = None
    node: str | None = None
    nodes_total: int | None = None
    nodes_not_ready: int | None = None
    pod_removals: list[PodRemoval] = Field(default_factory=list)
    disruptive: bool = False
    drain: bool = False


class Plan(BaseModel):
    """Everything a write step will do and why, fixed before the approval request is opened.

    ``planned_at`` is when it was computed (timezone-aware UTC); a re-plan for the re-check reuses
    it, so values derived from time (``kubectl.kubernetes.io/restartedAt``) come out equal.
    ``calls`` run in order; an empty list is a no-op (the target is already as wanted, or the
    target set is empty: never "everything"). ``summary``/``output`` are what the step will report.
    """

    action: str
    target: str
    planned_at: datetime
    calls: list[PlannedCall] = Field(default_factory=list)
    observed: list[Observation] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    facts: Facts = Field(default_factory=Facts)
    summary: str = ""
    output: Any = None
    dry_run: bool = False

    @property
    def noop(self) -> bool:
        """True when the plan makes no call."""
        return not self.calls
