"""Alert intake: record a webhook payload's alerts durably, then feed them to the pipeline once.

Fed by: the webhook route (``record``) and the runtime (``run``, one consumer per process).
Consumes: ``aiops.store.alerts.AlertStream`` (Redis Stream + consumer group) and a ``handle``
callable wired to the pipeline in ``runtime.py`` (this layer never imports the pipeline).

Semantics (the Alertmanager webhook is at-least-once: retries on 5xx, one copy per HA replica):

* ``record`` converts every alert to a ClusterEvent and appends all of them in one atomic step
  with an idempotency key of (groupKey, fingerprint, startsAt, status). The receiver answers 2xx
  only after it returns, so an alert acknowledged to Alertmanager is never lost.
* ``run`` reads with a consumer group: first its own unacknowledged entries (a restart), then
  new ones, and periodically takes over entries a dead consumer left unacknowledged. An entry is
  acknowledged only after ``handle`` succeeded; a failure that is not temporary moves it to the
  dead-letter stream with its error (a poison alert never blocks the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from aiops import errors
from aiops.events.model import ClusterEvent
from aiops.metrics import Metrics
from aiops.sources.alertmanager.mapping import DEFAULT, AlertMapping, alert_event
from aiops.sources.alertmanager.model import Alert, Payload
from aiops.store.alerts import AlertStream, StreamEntry

log = logging.getLogger(__name__)

#: ``handle(event, duplicate)``: route one alert event; duplicate deliveries never open incidents.
Handle = Callable[[ClusterEvent, bool], Awaitable[object]]

#: How often a consumer looks for entries abandoned by dead consumers (seconds).
RECLAIM_INTERVAL_SECONDS = 30.0


def idempotency_key(payload: Payload, alert: Alert) -> str:
    """SHA-256 (hex) of groupKey, fingerprint, startsAt and status: one key per delivery's meaning.

    A repeat notification (repeat_interval) or an HA peer's copy has the same key; the resolution
    of the same alert (status ``resolved``) has another.
    """
    parts = (payload.group_key, alert.fingerprint or "", alert.starts_at.isoformat(), alert.status.value)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Intake:
    """Records alerts and consumes them. Raises StoreUnavailable from ``record`` when Redis is down."""

    def __init__(
        self,
        stream: AlertStream,
        *,
        consumer: str,
        handle: Handle | None = None,
        mapping: AlertMapping = DEFAULT,
        metrics: Metrics | None = None,
    ) -> None:
        self._stream = stream
        self._consumer = consumer
        self._handle = handle
        self._mapping = mapping
        self._metrics = metrics

    async def record(self, payload: Payload) -> tuple[int, int]:
        """Append every alert of ``payload``; returns (first deliveries, duplicate deliveries)."""
        entries = []
        for alert in payload.alerts:
            event = alert_event(alert, self._mapping, payload=payload)
            entries.append((idempotency_key(payload, alert), event.model_dump_json()))
        flags = await self._stream.record(entries)
        first = sum(flags)
        return first, len(flags) - first

    async def run(self, stop: asyncio.Event, *, block_ms: int = 500) -> None:
        """Consume until ``stop`` is set: own pending entries first, then new ones."""
        if self._handle is None:
            raise errors.ConfigError("Intake.run needs a handle")
        await self._stream.ensure_group()
        for entry in await self._stream.read(self._consumer, pending=True, count=1000):
            await self._process(entry)
        loop = asyncio.get_running_loop()
        next_reclaim = loop.time()
        while not stop.is_set():
            try:
                if loop.time() >= next_reclaim:
                    for entry in await self._stream.reclaim(self._consumer):
                        await self._process(entry)
                    await self._stream.trim_acknowledged()
                    next_reclaim = loop.time() + RECLAIM_INTERVAL_SECONDS
                for entry in await self._stream.read(self._consumer, block_ms=block_ms):
                    await self._process(entry)
            except errors.TemporaryError as exc:
                log.warning("alert intake paused: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=getattr(exc, "delay_seconds", 1.0))

    async def _process(self, entry: StreamEntry) -> None:
        assert self._handle is not None
        try:
            event = ClusterEvent.model_validate_json(entry.alert)
            await self._handle(event, entry.kind == "duplicate")
        except errors.TemporaryError:
            raise  # not acknowledged: read again after the pause
        except (errors.AiopsError, ValidationError, ValueError) as exc:
            await self._dead(entry, exc)
            return
        except Exception as exc:  # stage boundary: a poison alert must not block the stream
            log.exception("alert %s failed", entry.id)
            await self._dead(entry, exc)
            return
        await self._stream.ack(entry.id)

    async def _dead(self, entry: StreamEntry, exc: Exception) -> None:
        log.error("alert %s moved to the dead-letter stream: %s", entry.id, exc)
        if self._metrics is not None:
            self._metrics.pipeline_errors_total.labels(stage="alert-intake").inc()
        await self._stream.dead_letter(entry, f"{type(exc).__name__}: {exc}")
