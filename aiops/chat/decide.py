"""The channel-neutral click handler: who may approve, one vote per person, one decision.

Fed by: each chat channel's interaction handler (Slack ``block_actions``, Telegram
``callback_query``), which turns a button press into an :class:`aiops.chat.clicks.Click` and
calls :meth:`Decider.handle`. Consumed by: the approval gate (``aiops.approvals.gate``), or the
executor (which decides on the gate and then continues the run), the audit log, the store (to
drop retried deliveries) and the metrics (``aiops_chat_decision_seconds{channel}``).

The checks, in order (docs/chat.md, "Who may approve"):

1. a retried delivery of a click already handled (same channel and delivery id within a day) →
   ``duplicate``: Slack retries an interaction it got no 200 for, Telegram re-sends an update
   (https://api.slack.com/interactivity/handling#acknowledgment_response,
   https://core.telegram.org/bots/api#getting-updates);
2. a chat the service was not configured for (``allowed_chats``) → ``refused``;
3. an unknown request → ``refused``; one no longer pending → ``late``, saying by whom and when;
4. an identity not on the risk's approver list (``ApprovalPolicy.allows``; Telegram's anonymous
   admin and service ids never) → ``refused``;
5. optionally, an approval the :class:`AccessReview` (a Kubernetes SubjectAccessReview of the
   person on the step's verb and target) does not allow → ``refused``;
6. the gate: ``decided``, ``voted`` (more distinct approvers needed), ``refused`` (the person
   triggered the run, or already voted) or ``late`` (a concurrent decision or the expiry won).

Every refusal, vote and decision is written to the audit log (``approval.refused``,
``approval.vote``, ``approval.decided``) with the clicker's identity key, channel and chat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from aiops import errors
from aiops.actions.base import AuditEntry
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.approvals.policy import not_a_person
from aiops.audit import AuditLog
from aiops.chat.clicks import Click, ClickAnswer, ClickOutcome
from aiops.clock import EPOCH_SECONDS
from aiops.metrics import Metrics
from aiops.playbooks.executor import Executor
from aiops.store import Store

__all__ = ["DUPLICATE_WINDOW_SECONDS", "AccessReview", "Decider"]

log = logging.getLogger(__name__)

#: How long a delivery id is remembered to drop its retries (seconds): one day, far beyond
#: Slack's three retries within minutes and Telegram's redelivery of an unanswered update.
DUPLICATE_WINDOW_SECONDS = 86400


class AccessReview(Protocol):
    """Whether the Kubernetes API server allows ``person`` (a person's name from
    ``approvals.people``, or an identity key) the verb of ``request``'s step on its target: a
    SubjectAccessReview as that person's ``kubernetes:``/``kubernetes-group:`` identities
    (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access).
    Returns (allowed, why: a short sentence the clicker is shown when refused)."""

    async def allows(self, person: str, request: ApprovalRequest) -> tuple[bool, str]:
        """(allowed, reason)."""
        ...


class Decider:
    """The :class:`aiops.chat.clicks.ClickHandler` of the runtime.

    ``gate``: the approval gate (its ``policy`` says who may approve). ``audit``: where refusals,
    votes and decisions are recorded. ``store``: remembers delivery ids (``claim`` with a TTL of
    :data:`DUPLICATE_WINDOW_SECONDS`). ``allowed_chats``: channel name (``slack``, ``telegram``) →
    the chat ids clicks are accepted from (a channel missing from the map: none). ``access``: the
    optional SubjectAccessReview of an approval. ``executor``: when given, decisions go through
    :meth:`aiops.playbooks.executor.Executor.decide` so the run continues at once (the gate alone
    otherwise). ``clock``: epoch seconds, for the audit entries' time.
    """

    def __init__(
        self,
        gate: ApprovalGate,
        audit: AuditLog,
        store: Store,
        *,
        allowed_chats: Mapping[str, frozenset[str]],
        access: AccessReview | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = EPOCH_SECONDS,
        executor: Executor | None = None,
    ) -> None:
        self._gate = gate
        self._audit = audit
        self._store = store
        self._allowed_chats = allowed_chats
        self._access = access
        self._metrics = metrics
        self._clock = clock
        self._executor = executor

    async def handle(self, click: Click) -> ClickAnswer:
        """Authorize the clicker, then vote or decide; audit it; the answer to show the clicker.

        Never raises for what the clicker did wrong (that is a ``refused`` or ``late`` answer);
        raises :class:`aiops.errors.StoreUnavailable` when Redis does not answer (the delivery is
        then not remembered, so the service's retry is handled)."""
        claim = f"click:{click.channel}:{click.delivery_id}" if click.delivery_id else None
        if claim is not None and not await self._store.claim(
            claim, "handled", ttl_seconds=DUPLICATE_WINDOW_SECONDS
        ):
            return ClickAnswer(outcome=ClickOutcome.DUPLICATE, text="already handled")
        try:
            answer = await self._handle(click)
        except errors.StoreUnavailable:
            if claim is not None:
                await _forget(self._store, claim)
            raise
        return self._observe_decision(click, answer)

    async def _handle(self, click: Click) -> ClickAnswer:
        identity = click.identity
        if identity.chat_id is None or identity.chat_id not in self._allowed_chats.get(
            click.channel, frozenset()
        ):
            return await self._refuse(click, None, "this chat may not decide")
        request = await self._gate.get(click.request_id)
        if request is None:
            return await self._refuse(click, None, "this approval request is unknown or no longer kept")
        if request.state is not ApprovalState.PENDING:
            return _late(request)
        policy, key = self._gate.policy, identity.key()
        if not_a_person(key):
            return await self._refuse(
                click, request, "an anonymous group admin or a channel cannot approve: click as yourself"
            )
        if not policy.allows(request.risk, key, identity.groups):
            return await self._refuse(click, request, _not_an_approver(request))
        person = policy.person(key)
        if click.approve and self._access is not None:
            allowed, why = await self._access.allows(person, request)
            if not allowed:
                return await self._refuse(click, request, why)
        try:
            now = await self._decide(click, key, identity.groups, person)
        except errors.AlreadyVoted as exc:
            return await self._refuse(
                click, request, f"your vote already counts (votes {len(exc.votes)}/{exc.votes_needed})"
            )
        except errors.NotAllowed:
            text = (
                "you triggered this run and may not approve it"
                if click.approve and request.requested_by is not None
                else _not_an_approver(request)
            )
            return await self._refuse(click, request, text)
        except errors.ApprovalNotFound:
            return await self._refuse(click, request, "this approval request is unknown or no longer kept")
        except (errors.AlreadyDecided, errors.ApprovalExpired):
            return _late(await self._gate.get(click.request_id) or request)
        if now.state is ApprovalState.PENDING:
            text = f"vote {len(now.votes)}/{now.votes_needed} recorded"
            return ClickAnswer(outcome=ClickOutcome.VOTED, text=text, request=now)
        return ClickAnswer(outcome=ClickOutcome.DECIDED, text=now.state.value, request=now)

    async def _decide(self, click: Click, key: str, groups: Iterable[str], person: str) -> ApprovalRequest:
        """Vote or decide on the gate; the vote or decision is audited as soon as the gate has
        it, before the run continues (so the audit log shows the approval ahead of the write)."""
        reason = f"clicked in {click.channel}"

        async def audited(now: ApprovalRequest) -> None:
            if now.state is ApprovalState.PENDING:
                text = f"vote {len(now.votes)}/{now.votes_needed} recorded"
                await self._record(click, now, "approval.vote", ok=True, summary=f"{person}: {text}")
                return
            summary = f"{now.state.value} by {now.decided_by}: {now.reason or ''}"
            await self._record(click, now, "approval.decided", ok=True, summary=summary)

        if self._executor is not None:
            decided, _ = await self._executor.decide(
                click.request_id,
                approve=click.approve,
                actor=key,
                groups=groups,
                reason=reason,
                on_decided=audited,
            )
            return decided
        decided = await self._gate.decide(
            click.request_id, approve=click.approve, actor=key, groups=groups, reason=reason
        )
        await audited(decided)
        return decided

    async def _refuse(self, click: Click, request: ApprovalRequest | None, text: str) -> ClickAnswer:
        log.info(
            "click refused: %s in %s chat %s on request %s: %s",
            click.identity.key(),
            click.channel,
            click.identity.chat_id,
            click.request_id,
            text,
        )
        await self._record(click, request, "approval.refused", ok=False, summary=text)
        return ClickAnswer(outcome=ClickOutcome.REFUSED, text=text, request=request)

    async def _record(
        self, click: Click, request: ApprovalRequest | None, action: str, *, ok: bool, summary: str
    ) -> None:
        """One audit entry for ``click``: the identity key, channel, chat and request."""
        identity = click.identity
        key = identity.key()
        await self._audit.record(
            AuditEntry(
                action=action,
                target=(request.target.key if request and request.target else "-"),
                params={
                    "identity": key,
                    "channel": click.channel,
                    "chat": identity.chat_id,
                    "request_id": click.request_id,
                    "approve": click.approve,
                    "step": request.step_name if request else None,
                    "risk": request.risk.value if request else None,
                },
                actor=self._gate.policy.person(key),
                run_id=request.run_id if request else None,
                request_id=click.request_id,
                ok=ok,
                summary=summary,
                api_calls=[],
                at=datetime.fromtimestamp(self._clock(), UTC),
                incident_id=request.incident_id if request else None,
            )
        )

    def _observe_decision(self, click: Click, answer: ClickAnswer) -> ClickAnswer:
        """Observe ``aiops_chat_decision_seconds{channel}`` for a click that decided (from the
        request, whose chat post follows within the outbox's delay, to the decision). The clicks
        themselves are counted by the channels, which also see the clicks that never get here."""
        request = answer.request
        if (
            self._metrics is not None
            and answer.outcome is ClickOutcome.DECIDED
            and request is not None
            and request.decided_at is not None
        ):
            waited = max(0.0, (request.decided_at - request.created_at).total_seconds())
            self._metrics.chat_decision_seconds.labels(channel=click.channel).observe(waited)
        return answer


def _late(request: ApprovalRequest) -> ClickAnswer:
    """The answer to a click on a request decided or expired before: who and when."""
    if request.state is ApprovalState.EXPIRED:
        text = f"already expired at {_when(request.expires_at)}"
    else:
        by = f" by {request.decided_by}" if request.decided_by else ""
        at = f" at {_when(request.decided_at)}" if request.decided_at else ""
        text = f"already {request.state.value}{by}{at}"
    return ClickAnswer(outcome=ClickOutcome.LATE, text=text, request=request)


def _not_an_approver(request: ApprovalRequest) -> str:
    return f"you are not an approver for {request.risk.value}-risk steps"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


async def _forget(store: Store, claim: str) -> None:
    """Best effort: let the service's retry of a click Redis failed under be handled."""
    try:
        await store.release(claim)
    except errors.StoreUnavailable:
        log.warning("could not forget delivery %s: its retry will be dropped as a duplicate", claim)
