"""Alert intake: record a webhook payload's alerts durably, then feed them to the pipeline once.

Fed by: the webhook route (``record``) and the runtime (``run``, one consumer per process).
Consumes: ``aiops.store.alerts.AlertStream`` (Redis Stream + consumer group) and a ``handle``
callable wired to the pipeline in ``aiops.runtime.services`` (this layer never imports the pipeline).

Semantics (the Alertmanager webhook is at-least-once: retries on 5xx, one copy per HA replica):

* ``record`` stores the payload once and appends one entry per alert in one atomic step, with an
  idempotency key of (groupKey, fingerprint, startsAt, status). The receiver answers 2xx only
  after it returns, so an alert acknowledged to Alertmanager is never lost. Alerts become
  ClusterEvents in the consumer, off the request path.
* ``run`` reads with a consumer group: first its own unacknowledged entries (a restart), then
  new ones, and periodically takes over entries a dead consumer left unacknowledged. An entry is
  acknowledged only after ``handle`` succeeded; a failure that is not temporary moves it to the
  dead-letter stream with its error (a poison alert never blocks the rest).
* A temporary failure (Redis does not answer or refuses writes: ``OOM``, ``READONLY``; or the
  handler asks to retry) leaves the entry unacknowledged and pauses the consumer (0.5 s doubling
  to 30 s, counted in ``aiops_pipeline_errors_total{stage="alert-intake"}`` and logged once per
  pause); it then reads its own unacknowledged entries first again. So an alert acknowledged to
  Alertmanager is never lost, nor dead-lettered, because Redis was full or read-only. A consumer
  group Redis lost (restart without persistence, FLUSHALL) is recreated (``AlertStream``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from aiops import background, errors
from aiops.events.model import ClusterEvent
from aiops.metrics import Metrics
from aiops.sources.alertmanager import parse_payload
from aiops.sources.alertmanager.mapping import DEFAULT, AlertMapping, alert_event
from aiops.sources.alertmanager.model import Alert, Payload
from aiops.store.alerts import AlertStream, StreamEntry

log = logging.getLogger(__name__)

#: ``handle(event, duplicate)``: route one alert event; duplicate deliveries never open incidents.
Handle = Callable[[ClusterEvent, bool], Awaitable[object]]

#: Parsed payloads kept by a consumer (a payload's alerts are consecutive entries).
_PARSED_CACHE = 64

#: How often a consumer looks for entries abandoned by dead consumers (seconds).
RECLAIM_INTERVAL_SECONDS = 30.0

#: Entries read per XREADGROUP.
_BATCH = 100


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
        scrub: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self._stream = stream
        self._scrub = scrub
        self._consumer = consumer
        self._handle = handle
        self._mapping = mapping
        self._metrics = metrics
        self._parsed: dict[str, Payload] = {}

    async def record(self, payload: Payload, body: bytes) -> tuple[int, int]:
        """Record ``body`` (the payload as received, already validated as ``payload``) and one
        entry per alert; returns (first deliveries, duplicate deliveries). Conversion to events
        happens in the consumer, off the request path. ``body`` is stored as ``scrub`` returns it
        (the runtime's scrubber: no secret from an annotation or a generator URL is stored); the
        idempotency keys come from ``payload``, so scrubbing never changes what is a duplicate."""
        if self._scrub is not None:
            body = self._scrub(body)
        payload_id = hashlib.sha256(body).hexdigest()[:32]
        entries = [(idempotency_key(payload, alert), i) for i, alert in enumerate(payload.alerts)]
        flags = await self._stream.record(payload_id, body, entries)
        first = sum(flags)
        return first, len(flags) - first

    async def run(self, stop: asyncio.Event, *, block_ms: int = 500) -> None:
        """Consume until ``stop`` is set: own pending entries first, then new ones; pause and start
        over from the own pending entries after a temporary failure (see the module docstring).
        Raises ConfigError without a ``handle``; any other exception is a bug and ends it (the
        runtime supervises it)."""
        if self._handle is None:
            raise errors.ConfigError("Intake.run needs a handle")
        backoff = background.Backoff()
        while not stop.is_set():
            try:
                await self._consume(stop, block_ms, backoff)
            except errors.TemporaryError as exc:
                delay = backoff.next(exc.delay_seconds)
                log.warning("alert intake paused for %.1f s (alerts stay queued): %s", delay, exc)
                if self._metrics is not None:
                    self._metrics.pipeline_errors_total.labels(stage="alert-intake").inc()
                await background.pause(stop, delay)

    async def _consume(self, stop: asyncio.Event, block_ms: int, backoff: background.Backoff) -> None:
        await self._stream.ensure_group()
        while batch := await self._stream.read(self._consumer, pending=True, count=_BATCH):
            for entry in batch:
                await self._process(entry)
            if len(batch) < _BATCH:
                break
        backoff.reset()
        loop = asyncio.get_running_loop()
        next_reclaim = loop.time()
        while not stop.is_set():
            if loop.time() >= next_reclaim:
                for entry in await self._stream.reclaim(self._consumer):
                    await self._process(entry)
                await self._stream.trim_acknowledged()
                next_reclaim = loop.time() + RECLAIM_INTERVAL_SECONDS
            for entry in await self._stream.read(self._consumer, count=_BATCH, block_ms=block_ms):
                await self._process(entry)
            backoff.reset()

    async def _payload(self, payload_id: str) -> Payload:
        """The recorded payload, parsed once per payload (its alerts arrive one entry each)."""
        cached = self._parsed.get(payload_id)
        if cached is not None:
            return cached
        body = await self._stream.payload_body(payload_id)
        if body is None:
            raise errors.PermanentError(f"payload {payload_id} is no longer stored (retention ran out)")
        payload = parse_payload(body)
        if len(self._parsed) >= _PARSED_CACHE:
            self._parsed.pop(next(iter(self._parsed)))
        self._parsed[payload_id] = payload
        return payload

    async def _process(self, entry: StreamEntry) -> None:
        assert self._handle is not None
        alert_json = ""
        try:
            payload = await self._payload(entry.payload)
            if not 0 <= entry.index < len(payload.alerts):
                raise errors.PermanentError(f"payload {entry.payload} has no alert {entry.index}")
            alert = payload.alerts[entry.index]
            alert_json = alert.model_dump_json(by_alias=True)
            event = alert_event(alert, self._mapping, payload=payload)
            await self._handle(event, entry.kind == "duplicate")
        except errors.TemporaryError:
            raise  # not acknowledged: read again after the pause
        except (errors.AiopsError, ValidationError, ValueError) as exc:
            await self._dead(entry, exc, alert_json)
            return
        except Exception as exc:  # stage boundary: a poison alert must not block the stream
            log.exception("alert %s failed", entry.id)
            await self._dead(entry, exc, alert_json)
            return
        await self._stream.ack(entry.id)

    async def _dead(self, entry: StreamEntry, exc: Exception, alert_json: str) -> None:
        log.error("alert %s moved to the dead-letter stream: %s", entry.id, exc)
        if self._metrics is not None:
            self._metrics.pipeline_errors_total.labels(stage="alert-intake").inc()
        await self._stream.dead_letter(entry, f"{type(exc).__name__}: {exc}", alert_json)
