"""Blast-radius guards: may this write step happen now? Decided on its :class:`~aiops.actions.plan.Plan`.

Fed by: the executor, which builds a :class:`WriteDecision` per write step and calls
:meth:`Guards.acquire` before it opens the approval request (reserving budget, rate limit and
leases) and again right before acting (idempotent for the step, on fresh facts), and
:meth:`Guards.release` once the step (and its verification) ended. :meth:`Guards.check` answers
the same question without reserving anything (the benchmark, and callers that only ask).
Consumed by: the executor (a :class:`Block` escalates the run with ``guard`` as the reason), the
metrics (``aiops_guard_blocks_total{guard}``, ``aiops_guard_decision_seconds{phase}``).

The guards and their order are in :mod:`aiops.safety.guard_rules` (the pure rules: paused,
namespace, protected, empty_target, node_storm, workload_storm, pdb); this module keeps what
needs Redis: the budget windows, the rate-limit claim and the concurrency leases (guards 4-6),
reserved all or nothing and given back by :meth:`Guards.release`. What a plan may do (and why a
no-op plan reserves nothing) is said there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiops.clock import EPOCH_SECONDS
from aiops.metrics import Metrics
from aiops.safety import guard_rules
from aiops.safety.guard_rules import Block, WriteDecision
from aiops.settings import SafetySettings
from aiops.store import Store

__all__ = ["LEASE_TTL_SECONDS", "Guards"]

#: How long a concurrency lease lives if its holder never releases it (the process died): 2 hours,
#: far above a drain's eviction timeout plus verification, so a live step never loses its lease,
#: yet a crashed one does not block drains for ever. ``release`` normally drops it at once.
LEASE_TTL_SECONDS = 2 * 3600

_CLUSTER_BUDGET = "budget:cluster"


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
        clock: Callable[[], float] = EPOCH_SECONDS,
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
        early = guard_rules.early_block(plan, self._settings, self._protected)
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
        return block if block is not None else guard_rules.late_block(decision, self._settings)

    async def _reserve(self, decision: WriteDecision) -> Block | None:
        """Evaluate the stateless guards, then take budget, rate limit and leases, or nothing.

        One ``store.reservations.reserve`` (a Lua script: every window and claim checked before anything
        is written), so the reservation is all or nothing without an undo step.
        """
        plan = decision.plan
        if plan.noop:
            return None
        early = guard_rules.early_block(plan, self._settings, self._protected)
        if early is not None:
            return early
        if guard_rules.late_block(decision, self._settings) is not None:
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

    def _claims_block(
        self, decision: WriteDecision, names: _Reservation, owners: dict[str, str | None]
    ) -> Block | None:
        """rate_limit then concurrency, from the owners the claims have (or would have)."""
        if names.rate is not None:
            owner = owners.get(names.rate)
            if owner is not None and _run_of(owner) != decision.run_id:
                return Block(
                    "rate_limit",
                    f"playbook {decision.playbook_id} already wrote to "
                    f"{guard_rules.rate_target(decision.plan)}"
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
        target = guard_rules.rate_target(decision.plan)
        rate = f"rate:{decision.playbook_id}:{target}" if s.rate_limit_seconds > 0 else None
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


def _run_of(holder: str) -> str:
    """The run id of a ``<run_id>:<step_index>`` holder."""
    return holder.rsplit(":", 1)[0]


def _lease_reason(lease: str, owner: str) -> str:
    step = f"step {owner.rsplit(':', 1)[-1]} of run {_run_of(owner)}"
    if lease == "lease:drain":
        return f"another node drain is in progress ({step}); one drain at a time cluster-wide"
    kind, _, what = lease.removeprefix("lease:").partition(":")
    return f"{kind} {what} is already being disrupted by {step}; one disruptive action per {kind} at a time"
