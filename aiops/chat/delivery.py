"""Chat delivery: one worker per channel drains its durable outbox queue into the channel.

Fed by: the outbox in Redis (``store.outbox``, :mod:`aiops.store.outbox`), filled by
:class:`aiops.chat.hub.Notifications`. Consumed by: one :class:`aiops.chat.notifier.Notifier`
per worker (the channel), and the logs (a dead letter is logged with its error).

A worker claims the deliveries that are due, oldest first (a lease of ``visibility_seconds``),
and calls the channel: ``post`` for an incident's message that has no location yet, ``update``
once it has one, ``reply`` in its thread. A delivery that may not go yet is deferred: put back at
its place in the queue, not counted as a failure. That is a delivery to a target whose rate-limit
window is full (:mod:`aiops.chat.limits`; deliveries to other targets go on in the same pass), a
reply before its incident's post, and a reply behind an earlier reply of its incident that was
deferred or failed in the same pass; so replies keep their order, except across a failed reply
that is retried later. On :class:`DeliveryRetry` the delivery is rescheduled after
``max(Retry-After, backoff)`` (backoff doubling from ``first_backoff_seconds`` up to
``max_backoff_seconds`` with the failed attempts) and the whole channel pauses for the
``Retry-After`` the service asked (HTTP 429: RFC 6585 §4, RFC 9110 §10.2.3 ``Retry-After``;
Telegram's ``parameters.retry_after``); after ``max_attempts`` failures, or on
:class:`DeliveryFailed` or an unreadable delivery, it is dead-lettered with a log line.
Nothing a channel raises leaves the worker; a Redis fault pauses it with a capped backoff
(:class:`aiops.background.Backoff`). Each channel has its own worker, so a failing or slow
channel never holds up another, nor the pipeline, which only writes to Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from aiops import errors
from aiops.background import Backoff, pause
from aiops.chat.limits import ChannelLimits
from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import DeliveryFailed, DeliveryRetry, MessageLocation, Notifier
from aiops.clock import EPOCH_SECONDS
from aiops.metrics import Metrics
from aiops.store import Store
from aiops.store.outbox import Claimed, incident_of

__all__ = ["ChannelWorker", "backoff_seconds"]

log = logging.getLogger(__name__)


@dataclass
class _Held:
    """What one pass holds back: targets whose rate-limit window is full, incidents with a reply
    deferred or failed (their later replies wait behind it)."""

    targets: set[str] = field(default_factory=set)
    incidents: set[str] = field(default_factory=set)


def backoff_seconds(attempts: int, *, first: float, cap: float) -> float:
    """The wait after the ``attempts``-th failure (1-based): ``first`` doubling, at most ``cap``."""
    return float(min(cap, first * 2 ** max(0, min(attempts - 1, 32))))


class ChannelWorker:
    """Delivers one channel's queue. ``clock``: epoch seconds (the one wall clock,
    :data:`aiops.clock.EPOCH_SECONDS`; tests pass their own). ``visibility_seconds``: the claim
    lease (a worker that dies mid-delivery is replaced after it). ``idle_seconds``: the pause when
    nothing is due (or until :meth:`wake`). ``batch``: most deliveries claimed per pass;
    ``concurrency``: most incidents delivered side by side in a pass."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        clock: Callable[[], float] = EPOCH_SECONDS,
        visibility_seconds: float = 120.0,
        idle_seconds: float = 1.0,
        first_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        max_attempts: int = 20,
        batch: int = 50,
        concurrency: int = 8,
        metrics: Metrics | None = None,
    ) -> None:
        self.notifier = notifier
        self.name = notifier.name
        self._outbox = store.outbox
        self._limits = ChannelLimits(store, notifier.name, notifier.limits)
        self._clock = clock
        self._visibility = visibility_seconds
        self._idle = idle_seconds
        self._first = first_backoff_seconds
        self._cap = max_backoff_seconds
        self._max_attempts = max_attempts
        self._batch = batch
        self._token = uuid.uuid4().hex
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._metrics = metrics
        self._slots = asyncio.Semaphore(max(1, concurrency))

    def _count(self, claimed: Claimed, outcome: str) -> None:
        """Count one delivery in ``aiops_chat_messages_total{channel, op, outcome}``."""
        if self._metrics is None:
            return
        op = "reply" if claimed.kind == "reply" else ("update" if claimed.location else "post")
        self._metrics.chat_messages_total.labels(channel=self.name, op=op, outcome=outcome).inc()

    def wake(self) -> None:
        """Something was enqueued: look at the queue now rather than after the idle pause."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set. Never raises (but CancelledError)."""
        faults = Backoff(first_seconds=0.5, max_seconds=30.0)
        while not stop.is_set():
            self._wake.clear()
            try:
                handled = await self.run_once()
                faults.reset()
            except errors.StoreUnavailable as exc:
                log.warning("chat %s: Redis unavailable, delivery paused: %s", self.name, exc)
                await pause(stop, faults.next(exc.delay_seconds))
                continue
            except Exception:
                log.exception("chat %s: delivery pass failed", self.name)
                await pause(stop, faults.next())
                continue
            if handled == 0:
                waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
                try:
                    await asyncio.wait(waiters, timeout=self._idle, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()

    async def run_once(self) -> int:
        """One pass: claim what is due, oldest first, and deliver it. Returns how many deliveries
        were settled (delivered, rescheduled after a failure or dead-lettered); deferred ones (a
        full rate-limit window, a reply before its post) go back to their place in the queue.
        Deliveries of one incident go one after the other, in queue order (so its replies follow
        its post and each other); those of different incidents go side by side, at most
        ``concurrency`` at once (a burst of incidents is not delivered one round trip at a time;
        the rate limits, kept in Redis, hold whatever the concurrency).
        Raises :class:`aiops.errors.StoreUnavailable`; nothing a channel raises."""
        now = self._clock()
        if now < self._paused_until:
            return 0
        held = _Held()
        by_incident: dict[str, list[str]] = {}
        for delivery_id in await self._outbox.due(self.name, now=now, limit=self._batch):
            by_incident.setdefault(incident_of(delivery_id), []).append(delivery_id)
        results = await asyncio.gather(
            *(self._deliver_in_turn(ids, held) for ids in by_incident.values()), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        return sum(r for r in results if isinstance(r, int))

    async def _deliver_in_turn(self, delivery_ids: list[str], held: _Held) -> int:
        """Deliver one incident's due deliveries in order; how many were settled."""
        settled = 0
        async with self._slots:
            for delivery_id in delivery_ids:
                if self._clock() < self._paused_until:
                    break
                claimed = await self._outbox.claim(
                    self.name,
                    delivery_id,
                    now=self._clock(),
                    visibility_seconds=self._visibility,
                    token=self._token,
                )
                if claimed is not None and await self._deliver(claimed, held):
                    settled += 1
        return settled

    async def _deliver(self, claimed: Claimed, held: _Held) -> bool:
        """Deliver one claimed delivery; False when it was deferred (put back in its place)."""
        try:
            location = MessageLocation.model_validate_json(claimed.location) if claimed.location else None
            message = IncidentMessage.model_validate_json(claimed.body) if claimed.kind == "message" else None
        except ValidationError as exc:
            await self._dead(claimed, f"unreadable delivery: {exc.error_count()} validation errors")
            return True
        if message is None:  # a reply waits for its incident's post and for its earlier replies
            if location is None or claimed.incident_id in held.incidents:
                return await self._defer(claimed, held)
            target = location.target
        else:
            target = location.target if location is not None else self.notifier.target_for(message)
        if target in held.targets or not await self._limits.admit(target, now=self._clock()):
            held.targets.add(target)
            return await self._defer(claimed, held)
        try:
            posted = await self._call(claimed, message, location)
        except DeliveryFailed as exc:
            await self._dead(claimed, str(exc))
            return True
        except DeliveryRetry as exc:
            await self._retry(claimed, held, str(exc), exc.retry_after_seconds)
            return True
        except Exception as exc:  # a channel's bug: retried like a temporary failure, never raised
            log.exception("chat %s: %s failed unexpectedly", self.name, claimed.id)
            await self._retry(claimed, held, f"{type(exc).__name__}: {exc}", 0.0)
            return True
        self._count(claimed, "ok")
        await self._outbox.ack(
            claimed, now=self._clock(), location=posted.model_dump_json() if posted is not None else None
        )
        return True

    async def _call(
        self, claimed: Claimed, message: IncidentMessage | None, location: MessageLocation | None
    ) -> MessageLocation | None:
        if message is None:
            assert location is not None
            await self.notifier.reply(location, claimed.body)
            return None
        if location is None:
            return await self.notifier.post(message)
        await self.notifier.update(location, message)
        return None

    async def _defer(self, claimed: Claimed, held: _Held) -> bool:
        if claimed.kind == "reply":
            held.incidents.add(claimed.incident_id)
        await self._outbox.reschedule(claimed, not_before=claimed.due_at, count_attempt=False)
        return False

    async def _retry(self, claimed: Claimed, held: _Held, error: str, retry_after: float) -> None:
        if claimed.kind == "reply":
            held.incidents.add(claimed.incident_id)
        self._count(claimed, "retry")
        attempts = claimed.attempts + 1
        if attempts >= self._max_attempts:
            await self._dead(claimed, f"gave up after {attempts} attempts: {error}")
            return
        now = self._clock()
        if retry_after > 0:
            self._paused_until = max(self._paused_until, now + retry_after)
        delay = max(retry_after, backoff_seconds(attempts, first=self._first, cap=self._cap))
        log.info(
            "chat %s: %s failed (attempt %d), retry in %.1fs: %s",
            self.name,
            claimed.id,
            attempts,
            delay,
            error,
        )
        await self._outbox.reschedule(claimed, not_before=now + delay, count_attempt=True)

    async def _dead(self, claimed: Claimed, error: str) -> None:
        letter = {
            "id": claimed.id,
            "kind": claimed.kind,
            "incident": claimed.incident_id,
            "attempts": claimed.attempts,
            "error": error,
            "at": self._clock(),
        }
        self._count(claimed, "failed")
        log.error("chat %s: delivery %s dead-lettered: %s", self.name, claimed.id, error)
        await self._outbox.dead_letter(claimed, json.dumps(letter))
