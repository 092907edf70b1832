"""The approval gate: a medium/high step waits here until people decide it, exactly once.

Fed by: the playbook executor (``request``), the API / CLI / chat buttons (``decide``) and a
periodic sweeper (``expire_due``). Consumed by: the executor, which runs a step only once its
request is approved (it tracks execution itself through ``Store.claim``), the API listings and
the chat click handler (``aiops.chat.decide``), which asks ``policy`` who may approve.

Who and how many (:class:`aiops.approvals.policy.ApprovalPolicy`): approvers per risk by identity
(API names, Slack, Telegram), people who own several identities (one vote per person across every
channel), and ``votes_needed`` distinct people per risk or action (default: two for ``drain``).
One reject ends a request; the person who triggered a run may not approve it.

Exactly once: every way out of ``pending`` (approve, reject, expire) goes through one Lua script
of :mod:`aiops.store.approvals`: ``decide`` (an HSETNX of the request's ``decision`` field) or
``vote`` (adds the person's vote once and, at the needed count, sets the decision). Of any number
of concurrent deciders and voters on any number of replicas, one decision wins; the others get
it back and raise. Requests, votes and decisions live only in Redis, so a restart loses nothing.
"""

from __future__ import annotations

import builtins
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from aiops import errors, store
from aiops.actions.catalog import Risk
from aiops.actions.plan import Plan
from aiops.approvals.model import ApprovalRequest, ApprovalState, Outcome, RequestOutcome
from aiops.approvals.policy import ApprovalPolicy
from aiops.clock import Clock, utcnow
from aiops.events.model import ObjectRef
from aiops.metrics import Metrics

__all__ = ["ApprovalGate", "OnChange"]

log = logging.getLogger(__name__)

#: Told of every change a gate made to a request (decided, voted, expired, closed), with the
#: request as it now stands; the runtime updates the chat messages that show it.
OnChange = Callable[[ApprovalRequest], Awaitable[None]]

#: How often a vote is counted again when concurrent votes moved the count under it.
_VOTE_ATTEMPTS = 20
_PAGE = 200


class ApprovalGate:
    """Opens, decides and expires :class:`ApprovalRequest` objects kept in ``store``.

    ``clock`` returns timezone-aware UTC "now". ``scrub`` (JSON data → JSON data; the runtime
    passes ``aiops.enrichment.scrub.Scrubber``) is applied to a request's params and plan (a
    dry-run answer can carry a pod template's env values) and to every reason before they are
    stored. ``on_change`` (:data:`OnChange`) is awaited after every change this gate made (a
    decision, a counted vote, an expiry, a close) with the request as it now stands; what it
    raises is logged, never raised. Every method raises :class:`aiops.errors.StoreUnavailable`
    when Redis does not answer.
    """

    def __init__(
        self,
        store: store.Store,
        policy: ApprovalPolicy,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utcnow,
        scrub: Callable[[Any], Any] | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._metrics = metrics
        self._clock = clock
        self._scrub: Callable[[Any], Any] = scrub or (lambda value: value)
        self._on_change = on_change

    @property
    def policy(self) -> ApprovalPolicy:
        """Who may decide what, and how many must approve (the chat click handler asks it)."""
        return self._policy

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
        requested_by: str | None = None,
    ) -> ApprovalRequest:
        """Open a pending request for one step (``params`` JSON-compatible and ``plan``: exactly
        what will run), expiring ``policy.ttl_for(risk)`` seconds from now and needing
        ``policy.votes_needed(risk, action)`` distinct approvers. ``requested_by``: who triggered
        the run (None: the operator), who may not approve it.

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
            votes_needed=self._policy.votes_needed(risk, action),
            requested_by=requested_by,
        )
        standing = await self._store.approvals.create(
            run_id,
            step_index,
            new_id=fresh.id,
            request_json=fresh.model_dump_json(exclude={"votes"}),
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
        self,
        request_id: str,
        *,
        approve: bool,
        actor: str,
        groups: Iterable[str] = (),
        reason: str | None = None,
    ) -> ApprovalRequest:
        """Approve or reject a pending request as ``actor`` (an identity key; ``groups``: the Slack
        user groups of a chat clicker); returns the request as it now stands. The decision or vote
        is recorded under ``policy.person(actor)``.

        One reject ends the request. An approval decides it when the request needs one approver;
        when it needs ``votes_needed`` > 1 distinct people, it is a vote: counted (the request is
        returned still pending, with its ``votes``) until the one that reaches the count, which
        approves it with ``decided_by`` = that last voter and a ``reason`` naming every voter.

        Raises, in this order of checks: :class:`~aiops.errors.ApprovalNotFound` (unknown id);
        :class:`~aiops.errors.NotAllowed` (``actor`` may not decide this risk, or approves a run
        they triggered themselves (``requested_by``, same person); nothing is written);
        :class:`~aiops.errors.AlreadyDecided` (approved or rejected before, by this or a concurrent
        call; names the state and actor); :class:`~aiops.errors.ApprovalExpired` (now ≥
        ``expires_at``: the request is moved to ``expired`` first, or it already was);
        :class:`~aiops.errors.AlreadyVoted` (this person's vote already counts).
        """
        current = await self.get(request_id)
        if current is None:
            raise errors.ApprovalNotFound(f"no approval request {request_id}")
        groups = tuple(groups)
        if not self._policy.allows(current.risk, actor, groups):
            raise errors.NotAllowed(f"{actor!r} may not decide {current.risk.value}-risk requests")
        person = self._policy.person(actor)
        if approve and current.requested_by is not None and self._same_person(person, current.requested_by):
            raise errors.NotAllowed(f"{person} triggered run {current.run_id} and may not approve its steps")
        if current.state is not ApprovalState.PENDING:
            raise _refusal(current)
        now = self._clock()
        if now >= current.expires_at:
            _, settled = await self._expire(current, now)
            raise _refusal(settled)
        reason = self._scrub(reason) if reason is not None else None
        if approve and current.votes_needed > 1:
            return await self._vote(current, person, reason=reason, now=now)
        state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
        won, decided = await self._settle(current, state, actor=person, reason=reason, now=now)
        if not won:
            raise _refusal(decided)
        await self._decided(decided)
        return decided

    async def _vote(
        self, current: ApprovalRequest, person: str, *, reason: str | None, now: datetime
    ) -> ApprovalRequest:
        """Count ``person``'s approval of ``current`` (pending, needing several votes), or take the
        decision when it is the last vote needed; see :meth:`decide`."""
        votes = builtins.list(current.votes)
        for _ in range(_VOTE_ATTEMPTS):
            if person in votes:
                raise errors.AlreadyVoted(current.id, person, votes, current.votes_needed)
            voters = ", ".join([*votes, person])
            decision = {
                "state": ApprovalState.APPROVED.value,
                "decided_by": person,
                "decided_at": now.isoformat(),
                "reason": f"approved by {voters}" + (f": {reason}" if reason else ""),
            }
            result = await self._store.approvals.vote(
                current.id,
                person,
                needed=current.votes_needed,
                decision_json_if_won=json.dumps(decision),
                run_id=current.run_id,
                step_index=current.step_index,
                retention_seconds=self._policy.retention_seconds,
                attempt=current.attempt,
                seen=len(votes),
            )
            request_json = current.model_dump_json(include=_REQUEST_FIELDS)
            if result.status == "unknown":
                raise errors.ApprovalNotFound(f"no approval request {current.id}")
            if result.status == "decided":
                raise _refusal(_assemble(request_json, result.decision, result.votes))
            if result.status == "again":
                raise errors.AlreadyVoted(current.id, person, result.votes, current.votes_needed)
            if result.status == "counted":
                counted = current.model_copy(update={"votes": result.votes})
                log.info(
                    "approval %s: vote %d/%d by %s",
                    current.id,
                    len(result.votes),
                    current.votes_needed,
                    person,
                )
                await self._changed(counted)
                return counted
            if result.status == "decided-now":
                decided = _assemble(request_json, result.decision, result.votes)
                await self._decided(decided)
                return decided
            votes = result.votes  # "stale": votes landed meanwhile; count again
        raise errors.TemporaryError(f"approval request {current.id}: votes kept changing; try again")

    async def _decided(self, decided: ApprovalRequest) -> None:
        """After this gate decided ``decided``: metrics, the pending gauge, ``on_change``."""
        if self._metrics is not None and decided.decided_at is not None:
            waited = max(0.0, (decided.decided_at - decided.created_at).total_seconds())
            self._metrics.approval_decision_seconds.labels(decision=decided.state.value).observe(waited)
        await self._update_pending_gauge()
        await self._changed(decided)

    def _same_person(self, person: str, requested_by: str) -> bool:
        return person == self._policy.person(requested_by) or requested_by in self._policy.identities(person)

    async def _changed(self, request: ApprovalRequest) -> None:
        """Tell ``on_change`` of ``request`` as it now stands; log (never raise) what it raises."""
        if self._on_change is None:
            return
        try:
            await self._on_change(request)
        except Exception:
            log.exception("approval %s: telling of its change failed", request.id)

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
        request = _assemble(stored.request, stored.decision, stored.votes)
        if stored.outcome is not None:
            request.closed = RequestOutcome.model_validate_json(stored.outcome)
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
        closed = await self.get(request_id)
        if closed is not None:
            await self._changed(closed)
        return closed

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
        if won:
            if self._metrics is not None:
                self._metrics.approvals_expired_total.inc()
                await self._update_pending_gauge()
            await self._changed(settled)
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
        return won, _assemble(current.model_dump_json(include=_REQUEST_FIELDS), standing, current.votes)

    async def _update_pending_gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.approvals_pending.set(await self.pending_count())


_DECISION_FIELDS = {"state", "decided_by", "decided_at", "reason"}
_REQUEST_FIELDS = set(ApprovalRequest.model_fields) - _DECISION_FIELDS - {"closed", "votes"}


def _assemble(request_json: str, decision_json: str | None, votes: builtins.list[str]) -> ApprovalRequest:
    data = json.loads(request_json)
    if decision_json is not None:
        data.update({k: v for k, v in json.loads(decision_json).items() if k in _DECISION_FIELDS})
    data["votes"] = votes
    return ApprovalRequest.model_validate(data)


def _refusal(request: ApprovalRequest) -> errors.ApprovalError:
    """The error for deciding ``request``, which is no longer pending."""
    if request.state is ApprovalState.EXPIRED:
        return errors.ApprovalExpired(f"approval request {request.id} expired at {request.expires_at}")
    return errors.AlreadyDecided(request.id, request.state.value, request.decided_by)
