"""The notifications facade: one incident change fanned out to every configured chat channel.

Fed by: the runtime (wired in a later step of issue 11), which calls :meth:`Notifications.publish`
with an :class:`aiops.chat.message.IncidentMessage` whenever an incident changes (opened, a step
ran, a decision landed, verification ended, resolved) and :meth:`Notifications.reply` with a step
result. Consumed by: the durable outbox (``store.outbox``) and one
:class:`aiops.chat.delivery.ChannelWorker` per channel, run side by side by :meth:`Notifications.run`.

Enqueuing only writes to Redis (one short Lua script per channel), so the pipeline is never held
up by a chat service; the workers deliver in the background and never raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiops.background import pause
from aiops.chat.delivery import ChannelWorker
from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import Notifier
from aiops.clock import EPOCH_SECONDS
from aiops.errors import StoreUnavailable
from aiops.metrics import Metrics
from aiops.store import Store

__all__ = ["DEPTH_EVERY_SECONDS", "Notifications"]

#: How often :meth:`Notifications.run` reads the outbox depth for the gauge (seconds).
DEPTH_EVERY_SECONDS = 15.0


class Notifications:
    """Every configured channel's worker (``workers``, unique channel names) over one ``store``.
    ``clock``: epoch seconds; ``metrics``: where :meth:`run` sets the outbox depth gauge (None:
    nowhere). Raises ValueError for two channels of one name. :meth:`of` builds the workers with
    their defaults."""

    def __init__(
        self,
        store: Store,
        workers: Sequence[ChannelWorker],
        *,
        clock: Callable[[], float] = EPOCH_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        names = [w.name for w in workers]
        if len(set(names)) != len(names):
            raise ValueError(f"chat channels need unique names, got {names}")
        self._store = store
        self._clock = clock
        self.workers = tuple(workers)
        self._metrics = metrics

    @classmethod
    def of(
        cls,
        store: Store,
        notifiers: Sequence[Notifier],
        *,
        clock: Callable[[], float] = EPOCH_SECONDS,
        metrics: Metrics | None = None,
    ) -> Notifications:
        """One default :class:`ChannelWorker` per channel in ``notifiers``, counting its deliveries
        in ``metrics`` (``aiops_chat_messages_total``, and the outbox depth while :meth:`run` runs)."""
        workers = [ChannelWorker(store, n, clock=clock, metrics=metrics) for n in notifiers]
        return cls(store, workers, clock=clock, metrics=metrics)

    async def publish(self, message: IncidentMessage) -> None:
        """Queue this render of the incident's message in every channel: posted the first time,
        edited in place afterwards; renders not yet delivered coalesce to this one. Raises
        :class:`aiops.errors.StoreUnavailable`."""
        body = message.model_dump_json()
        for worker in self.workers:
            await self._store.outbox.put_message(worker.name, message.incident_id, body, now=self._clock())
            worker.wake()

    async def reply(self, incident_id: str, key: str, text: str) -> None:
        """Queue ``text`` in the incident's thread in every channel, once per ``key`` (e.g.
        ``<run>:<step>:<state>``), after the incident's post. Raises
        :class:`aiops.errors.StoreUnavailable`."""
        for worker in self.workers:
            await self._store.outbox.put_reply(worker.name, incident_id, key, text, now=self._clock())
            worker.wake()

    async def depth(self) -> dict[str, int]:
        """Deliveries waiting per channel (for metrics). Raises :class:`aiops.errors.StoreUnavailable`."""
        return {w.name: await self._store.outbox.depth(w.name) for w in self.workers}

    async def run(self, stop: asyncio.Event) -> None:
        """Run every channel's worker side by side until ``stop`` is set; with ``metrics``, set
        the outbox depth gauge every :data:`DEPTH_EVERY_SECONDS`."""
        async with asyncio.TaskGroup() as group:
            for worker in self.workers:
                group.create_task(worker.run(stop), name=f"chat-{worker.name}")
            if self._metrics is not None and self.workers:
                group.create_task(self._gauge(stop, self._metrics), name="chat-depth")

    async def _gauge(self, stop: asyncio.Event, metrics: Metrics) -> None:
        while not stop.is_set():
            try:
                for name, depth in (await self.depth()).items():
                    metrics.chat_outbox_depth.labels(channel=name).set(depth)
            except StoreUnavailable:
                pass  # the workers log Redis outages; the gauge keeps its last value
            await pause(stop, DEPTH_EVERY_SECONDS)
