"""The incident feed: turns "incident X changed" into a fresh chat message and its thread replies.

Fed by: the runtime's hooks, which call :meth:`IncidentFeed.touch` with an incident id when the
incident opens or resolves (the deduplicator), its enrichment is stored (the enricher), one of its
runs is saved (the executor: a step started, waits, ran, was verified) and one of its approval
requests changes (the gate: decided, voted, expired, closed ``not_run``). Consumed by:
:class:`aiops.chat.hub.Notifications`, which queues the message (post, then edit in place) and the
step results (thread replies) in every channel's durable outbox.

``touch`` never waits and never raises: it marks the incident dirty, and one background loop
(:meth:`IncidentFeed.run`) re-reads what is known of each dirty incident from Redis and publishes it
once, however many changes arrived meanwhile (a crash loop's hundred events make one edit). What
is published is read back from the store, never taken from the caller, so every replica publishes
the same message and the last edit shows the last state. A Redis failure leaves the incident dirty
and is retried after :data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiops.approvals.model import ApprovalRequest
from aiops.chat.hub import Notifications
from aiops.chat.message import IncidentMessage, build_message, short
from aiops.enrichment.enricher import Enrichment
from aiops.errors import StoreUnavailable
from aiops.events.incident import Incident
from aiops.playbooks.runs import ENDED_BADLY_STEP_STATES, Run, StepRecord, StepState

__all__ = ["CONCURRENCY", "REPLY_STATES", "RETRY_SECONDS", "IncidentFeed", "step_reply"]

log = logging.getLogger(__name__)

#: Seconds before an incident whose refresh met a Redis failure is tried again.
RETRY_SECONDS = 2.0

#: Most incidents published side by side.
CONCURRENCY = 8

#: Step states that end a step: each is told once in the incident's thread.
REPLY_STATES: frozenset[StepState] = ENDED_BADLY_STEP_STATES | {StepState.SUCCEEDED}


def step_reply(run: Run, record: StepRecord) -> tuple[str, str] | None:
    """(reply key, text) telling how ``record`` of ``run`` ended, or None while it has not ended
    (or was skipped: nothing happened worth a reply). The key (``<run>:<index>.<attempt>:<state>``)
    makes the reply once per outcome, whoever publishes it."""
    if record.state not in REPLY_STATES:
        return None
    key = f"{run.id}:{record.index}.{record.attempt}:{record.state}"
    text = f"{record.name} ({record.action}, {record.risk} risk): {record.state}"
    if record.approved_by:
        text += f", approved by {record.approved_by}"
    detail = record.error if record.error and record.state is not StepState.SUCCEEDED else record.summary
    if detail:
        text += f" — {short(detail, 600)}"
    if record.verification is not None:
        text += f" [verification: {record.verification.state}]"
    return key, text


class IncidentFeed:
    """Publishes the current message of every touched incident to ``notifications``.

    The readers return what the store holds (None when unknown or past retention):
    ``incident(id)``, ``run(id)``, ``enrichment(incident id)`` and ``approval(request id)``.
    ``on_published(message)`` is called after each publish (metrics, the demo's console)."""

    def __init__(
        self,
        notifications: Notifications,
        *,
        incident: Callable[[str], Awaitable[Incident | None]],
        run: Callable[[str], Awaitable[Run | None]],
        enrichment: Callable[[str], Awaitable[Enrichment | None]],
        approval: Callable[[str], Awaitable[ApprovalRequest | None]],
    ) -> None:
        self._notifications = notifications
        self._incident = incident
        self._run = run
        self._enrichment = enrichment
        self._approval = approval
        self._dirty: dict[str, None] = {}  # insertion-ordered set: oldest change first
        self._wake = asyncio.Event()

    def touch(self, incident_id: str | None) -> None:
        """Mark ``incident_id`` changed (None is ignored); returns at once."""
        if incident_id:
            self._dirty[incident_id] = None
            self._wake.set()

    @property
    def pending(self) -> int:
        """Incidents waiting to be published."""
        return len(self._dirty)

    async def message(self, incident_id: str) -> tuple[IncidentMessage, list[tuple[str, str]]] | None:
        """The incident's message as the store has it now, and its step replies (key, text);
        None when the incident is unknown. Raises :class:`aiops.errors.StoreUnavailable`."""
        incident = await self._incident(incident_id)
        if incident is None:
            return None
        runs = [run for run_id in incident.run_ids if (run := await self._run(run_id)) is not None]
        requests: list[ApprovalRequest] = []
        replies: list[tuple[str, str]] = []
        for run in sorted(runs, key=lambda r: r.created_at):
            for record in run.steps:
                if record.approval_id and (request := await self._approval(record.approval_id)) is not None:
                    requests.append(request)
                if (reply := step_reply(run, record)) is not None:
                    replies.append(reply)
        enrichment = await self._enrichment(incident_id)
        return build_message(incident, runs, enrichment, requests), replies

    async def publish(self, incident_id: str) -> IncidentMessage | None:
        """Publish the incident's message now, then its step replies; returns the message (None
        when the incident is unknown). Raises :class:`aiops.errors.StoreUnavailable`."""
        found = await self.message(incident_id)
        if found is None:
            return None
        message, replies = found
        await self._notifications.publish(message)
        for key, text in replies:
            await self._notifications.reply(incident_id, key, text)
        return message

    async def run(self, stop: asyncio.Event) -> None:
        """Publish touched incidents until ``stop`` is set; never raises (a failure is logged and
        the incident is tried again after :data:`RETRY_SECONDS`)."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({stopping, waking}, return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
                self._wake.clear()
                await self._drain(stop)
        finally:
            stopping.cancel()

    async def _drain(self, stop: asyncio.Event) -> None:
        """Publish every dirty incident, :data:`CONCURRENCY` side by side (a burst of incidents
        is not published one round trip at a time); one incident is never published twice at once
        (a touch while it is being published marks it dirty again, for the next pass)."""
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(incident_id: str) -> None:
            async with slots:
                if stop.is_set():
                    self.touch(incident_id)
                    return
                try:
                    await self.publish(incident_id)
                except StoreUnavailable as exc:
                    log.warning("chat feed: Redis unavailable, incident %s retried: %s", incident_id, exc)
                    asyncio.get_running_loop().call_later(RETRY_SECONDS, self.touch, incident_id)
                except Exception:  # a stage boundary: one bad incident never stops the feed
                    log.exception("chat feed: publishing incident %s failed", incident_id)

        while self._dirty and not stop.is_set():
            batch = list(self._dirty)
            self._dirty.clear()
            await asyncio.gather(*(one(incident_id) for incident_id in batch))
