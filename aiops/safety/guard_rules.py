"""The blast-radius guard rules: the pure checks of a write step's :class:`~aiops.actions.plan.Plan`.

Fed by: :class:`aiops.safety.guards.Guards`, which evaluates these rules around its Redis-backed
reservations (guards 4-6: budget, rate limit, leases), and :mod:`aiops.safety.scope`
(:func:`namespace_block` for every step). Consumed by: the same two; the :class:`Block` they
answer reaches the executor, which escalates the run with ``guard`` as the reason.
Split from :mod:`aiops.safety.guards` (bookkeeping of reservations), which changes for other
reasons: a new guard rule is added here.

The guards, in the order they are evaluated (the first that blocks answers):

1. ``paused``: ``safety.paused``, or a namespace the plan writes in annotated
   ``<pause_annotation>: "true"`` (case-insensitive).
2. ``namespace`` / ``protected``: every namespace written in matches ``safety.namespaces`` and
   none of ``safety.exclude_namespaces`` (fnmatch globs, case-sensitive), and is not protected
   (``safety.protected_namespaces`` plus the operator's own). A drain skips both: the node is
   cluster-scoped and ``kubectl drain`` evicts ``kube-system`` pods too, under their
   PodDisruptionBudgets (the ``pdb`` guard); a paused namespace still stops it.
3. ``empty_target``: every PATCH/PUT/DELETE addresses one named object and every POST is a pod
   eviction; never a collection (defence in depth against "empty selector means everything").
4. ``budget``: writes per namespace and per cluster in a rolling window (Redis sorted sets).
5. ``rate_limit``: one write-run per (playbook, target) per ``rate_limit_seconds``; the target of
   a pod action is its workload (a replacement pod has a new name: it is the same problem).
6. ``concurrency``: one drain at a time cluster-wide; one disruptive action per workload and per
   node at a time (leases in Redis).
7. ``node_storm``: no disruptive action while too many nodes are NotReady (cluster-autoscaler
   ``--ok-total-unready-count`` and ``--max-total-unready-percentage``).
8. ``workload_storm``: no disruptive action on a workload whose pods are mostly unavailable
   (medik8s NodeHealthCheck ``minHealthy``, applied to a workload's pods), except a rollback.
9. ``pdb``: no pod removal a PodDisruptionBudget forbids (the Eviction API's rules).

``playbook_namespace`` (a ``Playbook`` resource acts only in its own namespace) and the
``namespace``/``protected`` rules for read steps are decided on the step's params by
:mod:`aiops.safety.scope`, before any plan; they share this module's :class:`Block` and names.

A no-op plan (no calls) passes every guard and reserves nothing: nothing is written.
The guards only read the plan's :class:`~aiops.actions.plan.Facts`, observed while planning; the
executor re-plans right before acting, so the facts are fresh when :meth:`Guards.acquire` runs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from dataclasses import dataclass

from aiops.actions.plan import Plan, PlannedCall, PodRemoval
from aiops.settings import SafetySettings

__all__ = [
    "GUARDS",
    "Block",
    "WriteDecision",
    "call_target_problem",
    "early_block",
    "late_block",
    "namespace_block",
    "rate_target",
]

#: Every guard name, in evaluation order (the ``guard`` label of ``aiops_guard_blocks_total``).
GUARDS = (
    "paused",
    "namespace",
    "protected",
    "playbook_namespace",
    "empty_target",
    "budget",
    "rate_limit",
    "concurrency",
    "node_storm",
    "workload_storm",
    "pdb",
)

_WRITE_METHODS = frozenset({"PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class WriteDecision:
    """One write step about to be put up for approval or about to run.

    ``run_id``/``step_index``: the step (``holder`` = ``"<run_id>:<step_index>"`` owns what
    :meth:`Guards.acquire` reserves). ``action``: the catalog action name (``delete_pod``,
    ``drain``, ``cordon``, ``scale``, ``rollback``, ...). ``plan``: what the step will write.
    ``dry_run``: the step sends its writes with ``dryRun=All``, so nothing is reserved.
    """

    run_id: str
    step_index: int
    playbook_id: str
    incident_id: str
    action: str
    plan: Plan
    dry_run: bool = False

    @property
    def holder(self) -> str:
        """``<run_id>:<step_index>``: the owner of this step's reservations."""
        return f"{self.run_id}:{self.step_index}"


@dataclass(frozen=True)
class Block:
    """Why a guard refused a write: ``guard`` is one of :data:`GUARDS`; ``reason`` is a sentence for
    the person paged, with the numbers (e.g. ``namespace shop already had 5 writes in the last
    3600 s (budget 5)``)."""

    guard: str
    reason: str


def early_block(plan: Plan, s: SafetySettings, protected: Collection[str]) -> Block | None:
    """Guards 1-3 (paused, namespace, protected, empty_target) on ``plan``: the first :class:`Block`,
    or None. Pure: a function of the plan, the ``safety`` settings ``s`` and the protected namespaces."""
    if s.paused:
        return Block("paused", "all automated writes are paused (safety.paused is true)")
    for ns, notes in plan.facts.namespaces.items():
        if _annotation_true(notes, s.pause_annotation):
            return Block(
                "paused",
                f'namespace {ns} is paused: it is annotated {s.pause_annotation}="true"; '
                "remove the annotation to allow automated writes there",
            )
    if not plan.facts.drain:
        for ns in plan.facts.namespaces:
            block = namespace_block(ns, s, protected)
            if block is not None:
                return block
    for call in plan.calls:
        problem = call_target_problem(call)
        if problem is not None:
            return Block(
                "empty_target",
                f"refusing {call.method} {call.path}: {problem} (a write must name exactly one object)",
            )
    return None


def late_block(decision: WriteDecision, s: SafetySettings) -> Block | None:
    """Guards 7-9 (node_storm, workload_storm, pdb) on the decision's plan facts: the first
    :class:`Block`, or None. Pure: a function of the decision and the ``safety`` settings ``s``."""
    facts = decision.plan.facts
    if facts.disruptive and facts.nodes_total and facts.nodes_not_ready is not None:
        bad, total = facts.nodes_not_ready, facts.nodes_total
        if bad > s.ok_not_ready_nodes and bad / total > s.max_not_ready_node_share:
            return Block(
                "node_storm",
                f"{bad} of {total} nodes are NotReady ({bad / total:.0%}), more than "
                f"{s.ok_not_ready_nodes} node(s) and more than {s.max_not_ready_node_share:.0%} of the "
                "cluster: no disruptive action until nodes recover (as cluster-autoscaler halts "
                "scale-down, --ok-total-unready-count / --max-total-unready-percentage)",
            )
    if (
        facts.disruptive
        and decision.action != "rollback"
        and facts.workload_replicas is not None
        and facts.workload_unavailable is not None
        and facts.workload_replicas >= s.workload_min_pods
        and facts.workload_unavailable / facts.workload_replicas > s.max_unavailable_workload_share
    ):
        replicas, down = facts.workload_replicas, facts.workload_unavailable
        return Block(
            "workload_storm",
            f"{down} of {replicas} pods of {facts.workload or 'the workload'} are unavailable "
            f"({down / replicas:.0%} > {s.max_unavailable_workload_share:.0%}): a disruptive action "
            "now could take the rest down; only a rollback is allowed (medik8s minHealthy)",
        )
    for removal in facts.pod_removals:
        block = _pdb_block(removal, _verb(decision.plan, removal))
        if block is not None:
            return block
    return None


def namespace_block(namespace: str, settings: SafetySettings, protected: Collection[str]) -> Block | None:
    """The :class:`Block` (guard ``namespace`` or ``protected``) that keeps aiops out of
    ``namespace``, reads and writes alike, or None when it may act there.

    Out of scope: matching none of ``safety.namespaces`` or one of ``safety.exclude_namespaces``
    (fnmatch globs); protected: in ``protected`` (``safety.protected_namespaces`` plus the
    operator's own namespace). Used by the write guards on a plan's facts and by
    :mod:`aiops.safety.scope` for every step.
    """
    if not any(fnmatch.fnmatchcase(namespace, p) for p in settings.namespaces):
        return Block(
            "namespace",
            f"namespace {namespace} is outside safety.namespaces {settings.namespaces}: "
            "aiops neither reads nor writes there",
        )
    excluded = next((p for p in settings.exclude_namespaces if fnmatch.fnmatchcase(namespace, p)), None)
    if excluded is not None:
        return Block(
            "namespace",
            f"namespace {namespace} matches safety.exclude_namespaces entry {excluded!r}: "
            "aiops neither reads nor writes there",
        )
    if namespace in protected:
        return Block("protected", f"namespace {namespace} is protected: aiops neither reads nor writes there")
    return None


def call_target_problem(call: PlannedCall) -> str | None:
    """Why ``call`` does not address exactly one named object, or None when it does.

    Parses the Kubernetes REST path (API concepts, "Resource URIs"):
    ``/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]`` and
    ``/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]``.
    PATCH/PUT/DELETE need ``<name>`` (a collection DELETE is "delete everything"); POST is allowed
    only to a pod's ``eviction`` subresource (the Eviction API). An empty segment (``//``), a
    trailing ``/``, a query string in the path or a path of another shape is refused.
    """
    path = call.path
    if "?" in path or not path.startswith("/") or path.endswith("/"):
        return "the path is not a plain object path"
    segments = path[1:].split("/")
    if any(not seg for seg in segments):
        return "the path has an empty segment"
    if segments[0] == "api" and len(segments) >= 2:
        rest = segments[2:]
    elif segments[0] == "apis" and len(segments) >= 3:
        rest = segments[3:]
    else:
        return "the path is not a Kubernetes API resource path"
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]  # namespaced: /namespaces/<ns>/<resource>...; /namespaces/<ns> is a Namespace
    if len(rest) < 2:
        return f"it addresses the collection {rest[0] if rest else path!r}, not one named object"
    if len(rest) > 3:
        return "the path is deeper than resource/name/subresource"
    if call.method == "POST":
        if len(rest) == 3 and rest[0] == "pods" and rest[2] == "eviction":
            return None
        return "the only POST allowed is a pod eviction"
    if call.method not in _WRITE_METHODS:
        return f"method {call.method} is not a write aiops makes"
    return None


def _annotation_true(annotations: dict[str, str], key: str) -> bool:
    return str(annotations.get(key, "")).strip().lower() == "true"


def _verb(plan: Plan, removal: PodRemoval) -> str:
    suffix = f"/namespaces/{removal.namespace}/pods/{removal.name}/eviction"
    if plan.facts.drain or any(c.method == "POST" and c.path.endswith(suffix) for c in plan.calls):
        return "evicting"
    return "deleting"


def _pdb_block(removal: PodRemoval, verb: str) -> Block | None:
    """The Eviction API's PodDisruptionBudget rules, applied before acting.

    Kubernetes "API-initiated eviction" and the PodDisruptionBudget v1 reference: a pod covered by
    more than one budget cannot be evicted (the API answers 500); a Ready pod needs
    ``status.disruptionsAllowed`` ≥ 1; a pod that is not Ready may go when
    ``spec.unhealthyPodEvictionPolicy`` is ``AlwaysAllow``, else (``IfHealthyBudget``, the
    default) only while ``currentHealthy`` ≥ ``desiredHealthy``. Missing numbers count as 0.
    """
    pod = f"{removal.namespace}/{removal.name}"
    if len(removal.budgets) > 1:
        names = ", ".join(f"{removal.namespace}/{b.get('name', '?')}" for b in removal.budgets)
        return Block(
            "pdb",
            f"{verb} {pod} is refused: it is covered by {len(removal.budgets)} PodDisruptionBudgets "
            f"({names}) and the Eviction API refuses pods under more than one",
        )
    for budget in removal.budgets:
        allowed = int(budget.get("disruptions_allowed") or 0)
        healthy = int(budget.get("current_healthy") or 0)
        desired = int(budget.get("desired_healthy") or 0)
        policy = str(budget.get("unhealthy_pod_eviction_policy") or "IfHealthyBudget")
        name = f"{removal.namespace}/{budget.get('name', '?')}"
        if removal.ready and allowed < 1:
            return Block(
                "pdb",
                f"{verb} {pod} would violate PodDisruptionBudget {name} "
                f"(needs {desired} healthy pods, has {healthy}; {allowed} disruptions allowed)",
            )
        if not removal.ready and policy != "AlwaysAllow" and healthy < desired:
            return Block(
                "pdb",
                f"{verb} the unready pod {pod} is refused by PodDisruptionBudget {name} "
                f"(needs {desired} healthy pods, has {healthy}; unhealthyPodEvictionPolicy {policy})",
            )
    return None


def rate_target(plan: Plan) -> str:
    """What the rate limit counts per playbook: the workload a write disrupts (a Deployment whose
    replacement pods keep crashing is one target, whatever the pods are called), else the target."""
    return plan.facts.workload or plan.target
