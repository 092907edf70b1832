"""The approval gate: a medium/high step waits here until one person decides it, exactly once.

Fed by: the playbook executor (``request``), the API / CLI / chat buttons (``decide``) and a
periodic sweeper (``expire_due``). Consumed by: the executor, which runs a step only once its
request is approved (it tracks execution itself through ``Store.claim``), and the API listings.

Exactly once: every way out of ``pending`` (approve, reject, expire) goes through one
``store.approvals.decide`` (:mod:`aiops.store.approvals`), an HSETNX of the request's ``decision``
field inside one Lua script. Of any
number of concurrent deciders on any number of replicas, one wins; the others get the winner's
decision back and raise. Requests and decisions live only in Redis, so a restart loses nothing.
"""

from __future__ import annotations

import builtins
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiops import errors, store
from aiops.actions.catalog import Risk
from aiops.actions.plan import Plan
from aiops.approvals.model import ApprovalRequest, ApprovalState, Outcome, RequestOutcome
from aiops.clock import Clock, utcnow
from aiops.events.model import ObjectRef
from aiops.metrics import Metrics

__all__ = ["DEFAULT_TTL_SECONDS", "ApprovalGate", "ApprovalPolicy"]

#: How long a request waits for a decision when the policy names no TTL for its risk (seconds).
DEFAULT_TTL_SECONDS = 900
_PAGE = 200


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who may decide what, and for how long requests wait.

    ``ttl_seconds``: per risk, seconds from request to expiry (default 900 for medium and high;
    other risks fall back to :data:`DEFAULT_TTL_SECONDS`). ``approvers``: per risk, the identities
    allowed to decide; a missing or empty set lets any authenticated (non-empty) identity decide.
    ``retention_seconds``: how long decided requests stay queryable (default 7 days).
    """

    ttl_seconds: Mapping[Risk, int] = field(
        default_factory=lambda: {Risk.MEDIUM: DEFAULT_TTL_SECONDS, Risk.HIGH: DEFAULT_TTL_SECONDS}
    )
    approvers: Mapping[Risk, frozenset[str]] = field(default_factory=dict)
    retention_seconds: int = 7 * 24 * 3600

    def ttl_for(self, risk: Risk) -> int:
        """Seconds a request of ``risk`` waits before it expires."""
        return self.ttl_seconds.get(risk, DEFAULT_TTL_SECONDS)

    def allows(self, risk: Risk, actor: str) -> bool:
        """Whether ``actor`` may decide a request of ``risk``."""
        allowed = self.approvers.get(risk, frozenset())
        return bool(actor) and (not allowed or actor in allowed)


class ApprovalGate:
    """Opens, decides and expires :class:`ApprovalRequest` objects kept in ``store``.

    ``clock`` returns timezone-aware UTC "now". ``scrub`` (JSON data → JSON data; the runtime
    passes ``aiops.enrichment.scrub.Scrubber``) is applied to a request's params and plan (a
    dry-run answer can carry a pod template's env values) and to every reason before they are
    stored. Every method raises :class:`aiops.errors.StoreUnavailable` when Redis does not answer.
    """

    def __init__(
        self,
        store: store.Store,
        policy: ApprovalPolicy,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utcnow,
        scrub: Callable[[Any], Any] | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._metrics = metrics
        self._clock = clock
        self._scrub: Callable[[Any], Any] = scrub or (lambda value: value)

    async def request(
        self,
        *,
        run_id: str,
        incident_id: str,
        playbook_id: str,
        step_index: int,
        step_name: str,
        action: str,
        risk: Risk,
        target: ObjectRef | None,
        params: dict[str, Any],
        plan: Plan | None = None,
        attempt: int = 0,
        dry_run: bool = False,
    ) -> ApprovalRequest:
        """Open a pending request for one step (``params`` JSON-compatible and ``plan``: exactly
        what will run), expiring ``policy.ttl_for(risk)`` seconds from now.

        Idempotent per (``run_id``, ``step_index``, ``attempt``): a repeated call (a retried
        executor, another replica) returns the request already open for that step and plan
        attempt, whatever its state."""
        now = self._clock()
        fresh = ApprovalRequest(
            id=secrets.token_hex(16),
            run_id=run_id,
            incident_id=incident_id,
            playbook_id=playbook_id,
            step_index=step_index,
            step_name=step_name,
            action=action,
            risk=risk,
            target=target,
            params=self._scrub(params),
            plan=Plan.model_validate(self._scrub(plan.model_dump(mode="json"))) if plan is not None else None,
            attempt=attempt,
            dry_run=dry_run,
            created_at=now,
            expires_at=now + timedelta(seconds=self._policy.ttl_for(risk)),
        )
        standing = await self._store.approvals.create(
            run_id,
            step_index,
            new_id=fresh.id,
            request_json=fresh.model_dump_json(),
            created=fresh.created_at.timestamp(),
            expires=fresh.expires_at.timestamp(),
            attempt=attempt,
        )
        if standing == fresh.id:
            await self._update_pending_gauge()
            return fresh
        existing = await self.get(standing)
        if existing is None:  # only if its retention ran out within this call
            raise errors.TemporaryError(f"approval request {standing} vanished while opening it")
        return existing

    async def decide(
        self, request_id: str, *, approve: bool, actor: str, reason: str | None = None
    ) -> ApprovalRequest:
        """Approve or reject a pending request as ``actor``; returns it as decided.

        Raises, in this order of checks: :class:`~aiops.errors.ApprovalNotFound` (unknown id);
        :class:`~aiops.errors.NotAllowed` (``actor`` may not decide this risk; nothing is
        claimed); :class:`~aiops.errors.ApprovalExpired` (now ≥ ``expires_at``: the request is
        moved to ``expired`` first, or it already was); :class:`~aiops.errors.AlreadyDecided`
        (approved or rejected before, by this or a concurrent call; names the state and actor).
        """
        current = await self.get(request_id)
        if current is None:
            raise errors.ApprovalNotFound(f"no approval request {request_id}")
        if not self._policy.allows(current.risk, actor):
            raise errors.NotAllowed(f"{actor!r} may not decide {current.risk.value}-risk requests")
        if current.state is not ApprovalState.PENDING:
            raise _refusal(current)
        now = self._clock()
        if now >= current.expires_at:
            _, settled = await self._expire(current, now)
            raise _refusal(settled)
        state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
        reason = self._scrub(reason) if reason is not None else None
        won, decided = await self._settle(current, state, actor=actor, reason=reason, now=now)
        if not won:
            raise _refusal(decided)
        if self._metrics is not None and decided.decided_at is not None:
            waited = max(0.0, (decided.decided_at - decided.created_at).total_seconds())
            self._metrics.approval_decision_seconds.labels(decision=state.value).observe(waited)
        await self._update_pending_gauge()
        return decided

    async def expire_due(self) -> builtins.list[ApprovalRequest]:
        """Move every pending request with ``expires_at`` ≤ now to ``expired``; returns those this
        call expired (a request a concurrent decision won is left to that decision)."""
        now = self._clock()
        expired: builtins.list[ApprovalRequest] = []
        for request_id in await self._store.approvals.due(now.timestamp()):
            current = await self.get(request_id)
            if current is None or current.state is not ApprovalState.PENDING or now < current.expires_at:
                continue
            won, settled = await self._expire(current, now)
            if won:
                expired.append(settled)
        return expired

    async def expire(self, request: ApprovalRequest, *, reason: str | None = None) -> ApprovalRequest:
        """Move a pending ``request`` to expired now (it is overdue, or its run gave up waiting,
        ``reason`` says why); returns the request as it stands: expired, or the decision a
        concurrent call took first. The executor calls this for an overdue request it meets."""
        if request.state is not ApprovalState.PENDING:
            return request
        _, settled = await self._expire(request, self._clock(), reason=reason)
        return settled

    async def get(self, request_id: str) -> ApprovalRequest | None:
        """The request with its decision, or None when unknown or past retention."""
        stored = await self._store.approvals.fetch(request_id)
        if stored is None:
            return None
        request_json, decision_json, outcome_json = stored
        request = _assemble(request_json, decision_json)
        if outcome_json is not None:
            request.closed = RequestOutcome.model_validate_json(outcome_json)
        return request

    async def close(
        self, request_id: str, outcome: Outcome, reason: str, *, guard: str | None = None
    ) -> ApprovalRequest | None:
        """Record what became of a decided request: ``executed``, ``dry_run`` or ``not_run`` with
        ``reason`` (and the ``guard`` that blocked it). The last call stands. Returns the request
        as closed, or None when it is unknown or past retention."""
        note = RequestOutcome(outcome=outcome, reason=self._scrub(reason), at=self._clock(), guard=guard)
        if not await self._store.approvals.close(request_id, note.model_dump_json()):
            return None
        return await self.get(request_id)

    async def list(
        self, *, state: ApprovalState | None = None, limit: int = 100
    ) -> builtins.list[ApprovalRequest]:
        """Up to ``limit`` requests: pending ones oldest first (the queue to work through);
        otherwise retained ones newest first, optionally of one ``state``."""
        pending_only = state is ApprovalState.PENDING
        found: builtins.list[ApprovalRequest] = []
        offset = 0
        while len(found) < limit:
            ids = await self._store.approvals.ids(pending_only=pending_only, offset=offset, count=_PAGE)
            for request_id in ids:
                request = await self.get(request_id)
                if request is None:
                    await self._store.approvals.forget(request_id)
                    offset -= 1
                elif state is None or request.state is state:
                    found.append(request)
            if len(ids) < _PAGE:
                break
            offset += _PAGE
        return found[:limit]

    async def pending_count(self) -> int:
        """How many requests are pending (across every replica)."""
        return await self._store.approvals.pending_count()

    async def _expire(
        self, current: ApprovalRequest, now: datetime, *, reason: str | None = None
    ) -> tuple[bool, ApprovalRequest]:
        """Try to move ``current`` to expired: (this call did, the request as it now stands)."""
        reason = reason or f"nobody decided within {self._policy.ttl_for(current.risk)} seconds"
        won, settled = await self._settle(current, ApprovalState.EXPIRED, actor=None, reason=reason, now=now)
        if won and self._metrics is not None:
            self._metrics.approvals_expired_total.inc()
            await self._update_pending_gauge()
        return won, settled

    async def _settle(
        self,
        current: ApprovalRequest,
        state: ApprovalState,
        *,
        actor: str | None,
        reason: str | None,
        now: datetime,
    ) -> tuple[bool, ApprovalRequest]:
        decision = {
            "state": state.value,
            "decided_by": actor,
            "decided_at": now.isoformat(),
            "reason": reason,
        }
        won, standing = await self._store.approvals.decide(
            current.id,
            json.dumps(decision),
            run_id=current.run_id,
            step_index=current.step_index,
            retention_seconds=self._policy.retention_seconds,
            attempt=current.attempt,
        )
        return won, _assemble(current.model_dump_json(include=_REQUEST_FIELDS), standing)

    async def _update_pending_gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.approvals_pending.set(await self.pending_count())


_DECISION_FIELDS = {"state", "decided_by", "decided_at", "reason"}
_REQUEST_FIELDS = set(ApprovalRequest.model_fields) - _DECISION_FIELDS - {"closed"}


def _assemble(request_json: str, decision_json: str | None) -> ApprovalRequest:
    data = json.loads(request_json)
    if decision_json is not None:
        data.update({k: v for k, v in json.loads(decision_json).items() if k in _DECISION_FIELDS})
    return ApprovalRequest.model_validate(data)


def _refusal(request: ApprovalRequest) -> errors.ApprovalError:
    """The error for deciding ``request``, which is no longer pending."""
    if request.state is ApprovalState.EXPIRED:
        return errors.ApprovalExpired(f"approval request {request.id} expired at {request.expires_at}")
    return errors.AlreadyDecided(request.id, request.state.value, request.decided_by)
