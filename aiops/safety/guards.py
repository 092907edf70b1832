"""Blast-radius guards: may this write step happen now? Decided on its :class:`~aiops.actions.plan.Plan`.

Fed by: the executor, which builds a :class:`WriteDecision` per write step and calls
:meth:`Guards.acquire` before it opens the approval request (reserving budget, rate limit and
leases) and again right before acting (idempotent for the step, on fresh facts), and
:meth:`Guards.release` once the step (and its verification) ended. :meth:`Guards.check` answers
the same question without reserving anything (the benchmark, and callers that only ask).
Consumed by: the executor (a :class:`Block` escalates the run with ``guard`` as the reason), the
metrics (``aiops_guard_blocks_total{guard}``, ``aiops_guard_decision_seconds{phase}``).

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
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from aiops.actions.plan import Plan, PlannedCall, PodRemoval
from aiops.metrics import Metrics
from aiops.settings import SafetySettings
from aiops.store import Store

__all__ = ["GUARDS", "LEASE_TTL_SECONDS", "Block", "Guards", "WriteDecision", "call_target_problem"]

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

#: How long a concurrency lease lives if its holder never releases it (the process died): 2 hours,
#: far above a drain's eviction timeout plus verification, so a live step never loses its lease,
#: yet a crashed one does not block drains for ever. ``release`` normally drops it at once.
LEASE_TTL_SECONDS = 2 * 3600

_CLUSTER_BUDGET = "budget:cluster"
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


@dataclass(frozen=True)
class _Reservation:
    """The Redis names one decision reserves (see the key layout in ``aiops.store.reservations``)."""

    windows: list[str]  # budget windows: one per namespace, then the cluster's
    limits: list[int]
    rate: str | None  # rate-limit claim name, None when disabled
    leases: list[str]  # concurrency claim names

    @property
    def claims(self) -> list[str]:
        """The rate-limit claim (if any), then the leases."""
        return ([self.rate] if self.rate is not None else []) + self.leases


class Guards:
    """The blast-radius guards over one :class:`~aiops.store.Store` (shared by every replica).

    ``settings``: the ``safety`` section. ``protected_namespaces``: added to
    ``settings.protected_namespaces`` (the operator's own namespace). ``clock``: epoch seconds
    for the budget windows (tests inject one). ``metrics``: optional collectors. Every method may
    raise :class:`aiops.errors.StoreUnavailable` when Redis does not answer (a TemporaryError: the
    executor retries later; a guard never lets a write through because Redis was down).
    """

    def __init__(
        self,
        store: Store,
        settings: SafetySettings,
        *,
        metrics: Metrics | None = None,
        protected_namespaces: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._protected = frozenset(settings.protected_namespaces) | frozenset(protected_namespaces)
        self._clock = clock

    @property
    def protected_namespaces(self) -> frozenset[str]:
        """The namespaces never written (nor read, :mod:`aiops.safety.scope`): settings plus the
        operator's own."""
        return self._protected

    # ---------------------------------------------------------------- public API

    async def check(self, decision: WriteDecision) -> Block | None:
        """Read-only: would the write be allowed now? Consulted before the approval request is opened.

        Evaluates every guard (budget, rate limit and leases as they stand; this step's own
        reservations do not count against it) and answers the first :class:`Block`, or None.
        Reserves nothing. Raises StoreUnavailable when Redis does not answer.
        """
        started = time.perf_counter()
        try:
            block = await self._evaluate(decision)
        finally:
            self._observe("check", started)
        return self._count(block)

    async def acquire(self, decision: WriteDecision) -> Block | None:
        """Right before acting: evaluate every guard again and, if all pass, reserve atomically.

        Reserves one unit of each namespace budget and of the cluster budget, the per-playbook
        per-target rate-limit claim and the concurrency leases, in one Lua script that checks all
        of them before writing any: all or nothing (a full window or a held claim leaves nothing
        behind, and the Block is answered). Idempotent for one ``decision.holder``: a
        retry after a crash counts nothing twice. In dry-run (the decision's, the plan's or
        ``safety.dry_run``) it only evaluates, like :meth:`check`. Raises StoreUnavailable.
        """
        started = time.perf_counter()
        try:
            if self._dry_run(decision):
                block = await self._evaluate(decision)
            else:
                block = await self._reserve(decision)
        finally:
            self._observe("acquire", started)
        return self._count(block)

    async def release(self, decision: WriteDecision, *, wrote: bool) -> None:
        """After the step ended (and its verification finished): drop this holder's concurrency leases.

        ``wrote`` False (nothing was written: it failed before its first write, or did not run)
        also gives back this holder's budget unit and the rate-limit claim if this holder took it
        (not one an earlier step of the run holds). Safe to call when acquire blocked or was never
        called: only what ``decision.holder`` owns is dropped. Raises StoreUnavailable.
        """
        if self._dry_run(decision) or decision.plan.noop:
            return
        names = self._names(decision)
        if wrote:
            await self._store.reservations.unreserve(decision.holder, windows=[], claims=names.leases)
        else:
            await self._store.reservations.unreserve(
                decision.holder, windows=names.windows, claims=names.claims
            )

    # ---------------------------------------------------------------- evaluation

    async def _evaluate(self, decision: WriteDecision) -> Block | None:
        """Every guard in order, reading Redis (one round trip) but writing nothing."""
        plan = decision.plan
        if plan.noop:
            return None
        early = self._early_block(plan)
        if early is not None:
            return early
        names = self._names(decision)
        claims = names.claims
        used, owners = await self._store.reservations.probe(
            decision.holder,
            windows=names.windows,
            now_seconds=self._clock(),
            window_seconds=self._settings.budget_window_seconds,
            claims=claims,
        )
        for i, count in enumerate(used):
            if count >= names.limits[i]:
                return self._budget_block(names.windows[i], count, names.limits[i])
        block = self._claims_block(decision, names, dict(zip(claims, owners, strict=True)))
        return block if block is not None else self._late_block(decision)

    async def _reserve(self, decision: WriteDecision) -> Block | None:
        """Evaluate the stateless guards, then take budget, rate limit and leases, or nothing.

        One ``store.reservations.reserve`` (a Lua script: every window and claim checked before anything
        is written), so the reservation is all or nothing without an undo step.
        """
        plan = decision.plan
        if plan.noop:
            return None
        early = self._early_block(plan)
        if early is not None:
            return early
        if self._late_block(decision) is not None:
            # A storm or PDB block stands, but a budget/rate/lease block comes first in the order.
            return await self._evaluate(decision)
        names = self._names(decision)
        claims: list[tuple[str, int | None, str | None]] = []
        if names.rate is not None:
            claims.append((names.rate, self._settings.rate_limit_seconds, decision.run_id))
        claims.extend((lease, LEASE_TTL_SECONDS, None) for lease in names.leases)
        got = await self._store.reservations.reserve(
            decision.holder,
            windows=list(zip(names.windows, names.limits, strict=True)),
            now_seconds=self._clock(),
            window_seconds=self._settings.budget_window_seconds,
            claims=claims,
        )
        if got.full_window is not None:
            i = got.full_window
            return self._budget_block(names.windows[i], got.used, names.limits[i])
        if got.held_claim is not None:
            held = claims[got.held_claim][0]
            block = self._claims_block(decision, names, {held: got.owner})
            return block or Block("concurrency", f"{held} is held by {got.owner}")  # not expected
        return None

    def _dry_run(self, decision: WriteDecision) -> bool:
        return decision.dry_run or decision.plan.dry_run or self._settings.dry_run

    def _early_block(self, plan: Plan) -> Block | None:
        """paused, namespace, protected, empty_target: pure functions of the plan and settings."""
        s = self._settings
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
                block = namespace_block(ns, s, self._protected)
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

    def _late_block(self, decision: WriteDecision) -> Block | None:
        """node_storm, workload_storm, pdb: pure functions of the plan's facts and settings."""
        facts = decision.plan.facts
        s = self._settings
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

    def _claims_block(
        self, decision: WriteDecision, names: _Reservation, owners: dict[str, str | None]
    ) -> Block | None:
        """rate_limit then concurrency, from the owners the claims have (or would have)."""
        if names.rate is not None:
            owner = owners.get(names.rate)
            if owner is not None and _run_of(owner) != decision.run_id:
                return Block(
                    "rate_limit",
                    f"playbook {decision.playbook_id} already wrote to {_rate_target(decision.plan)}"
                    " within the "
                    f"last {self._settings.rate_limit_seconds} s (run {_run_of(owner)}); "
                    "one write-run per playbook and target in that time",
                )
        for lease in names.leases:
            owner = owners.get(lease)
            if owner is not None and owner != decision.holder:
                return Block("concurrency", _lease_reason(lease, owner))
        return None

    def _budget_block(self, window: str, used: int, limit: int) -> Block:
        seconds = self._settings.budget_window_seconds
        if window == _CLUSTER_BUDGET:
            where, setting = "the cluster", "budget_per_cluster"
        else:
            where, setting = f"namespace {window.removeprefix('budget:ns:')}", "budget_per_namespace"
        return Block(
            "budget",
            f"{where} already had {used} writes in the last {seconds} s (budget {limit}, safety.{setting})",
        )

    def _names(self, decision: WriteDecision) -> _Reservation:
        """The Redis names (without prefix) for a decision's budget windows, rate limit and leases."""
        s = self._settings
        facts = decision.plan.facts
        windows = [f"budget:ns:{ns}" for ns in sorted(facts.namespaces)] + [_CLUSTER_BUDGET]
        limits = [s.budget_per_namespace] * len(facts.namespaces) + [s.budget_per_cluster]
        rate = (
            f"rate:{decision.playbook_id}:{_rate_target(decision.plan)}" if s.rate_limit_seconds > 0 else None
        )
        leases: list[str] = []
        if facts.drain:
            leases.append("lease:drain")
        if facts.disruptive and facts.workload:
            leases.append(f"lease:workload:{facts.workload}")
        if facts.disruptive and facts.node:
            leases.append(f"lease:node:{facts.node}")
        return _Reservation(windows=windows, limits=limits, rate=rate, leases=leases)

    # ---------------------------------------------------------------- metrics

    def _observe(self, phase: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.guard_decision_seconds.labels(phase=phase).observe(time.perf_counter() - started)

    def _count(self, block: Block | None) -> Block | None:
        if block is not None and self._metrics is not None:
            self._metrics.guard_blocks_total.labels(guard=block.guard).inc()
        return block


# -------------------------------------------------------------------- pure rules


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


def _run_of(holder: str) -> str:
    """The run id of a ``<run_id>:<step_index>`` holder."""
    return holder.rsplit(":", 1)[0]


def _lease_reason(lease: str, owner: str) -> str:
    step = f"step {owner.rsplit(':', 1)[-1]} of run {_run_of(owner)}"
    if lease == "lease:drain":
        return f"another node drain is in progress ({step}); one drain at a time cluster-wide"
    kind, _, what = lease.removeprefix("lease:").partition(":")
    return f"{kind} {what} is already being disrupted by {step}; one disruptive action per {kind} at a time"


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


def _rate_target(plan: Plan) -> str:
    """What the rate limit counts per playbook: the workload a write disrupts (a Deployment whose
    replacement pods keep crashing is one target, whatever the pods are called), else the target."""
    return plan.facts.workload or plan.target
