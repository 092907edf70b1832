"""Deduplication: one incident per ongoing problem, however many events and observers report it.

Fed by: the pipeline, with every :class:`~aiops.events.model.ClusterEvent` (``observe``) and with
recoveries and deletions seen by the watchers (``recover``). Consumed by: the pipeline (rules and
playbooks start only for ``Observation.new``), the API and the CLI (``get``/``list``).

All state lives in Redis through :class:`aiops.store.Store`: the dedup key maps to the id of the
OPEN incident; the incident is a hash with atomic counters. ``store.incidents.observe`` and
``store.incidents.leave`` (:mod:`aiops.store.incidents`) are Lua scripts, atomic, so two replicas
and fifty concurrent events open exactly one incident, and a resolve racing an observe leaves
either the open incident with its mapping or a resolved one plus, for the late event, a fresh
incident.
"""

from __future__ import annotations

import builtins
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiops import errors, store
from aiops.clock import Clock, utcnow
from aiops.events.incident import Incident, IncidentStatus, SuppressReason
from aiops.events.model import ClusterEvent, EventType, Severity, severity_rank
from aiops.metrics import Metrics

__all__ = ["DEFAULT_RETENTION_SECONDS", "Deduplicator", "Observation"]

#: How long a resolved incident stays queryable (seconds).
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600

_HEAD_FIELDS = {"id", "dedup_key", "fingerprint", "type", "subject", "first_seen", "first_event"}
_PAGE = 200
_SEVERITIES = frozenset(s.value for s in Severity)


@dataclass(frozen=True)
class Observation:
    """The incident an event landed in; ``new`` is True for exactly one observer of a new problem."""

    incident: Incident
    new: bool


class Deduplicator:
    """Folds ClusterEvents into incidents kept in ``store``.

    ``clock`` returns timezone-aware UTC "now" (used for ``resolved_at``); event times come from
    ``ClusterEvent.observed_at``. ``retention_seconds`` is how long a resolved incident stays.
    ``on_change(incident_id)`` is called when an incident opens or resolves (the chat feed; it
    returns at once and never raises).
    Every method raises :class:`aiops.errors.StoreUnavailable` when Redis does not answer.
    """

    def __init__(
        self,
        store: store.Store,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utcnow,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._retention_seconds = retention_seconds
        self._on_change = on_change

    async def observe(self, event: ClusterEvent, *, member: str | None = None) -> Observation:
        """Open an incident for ``event.dedup_key`` or fold the event into the open one.

        New: event_count 1, ``member`` (default ``event.resource.key``) as first member,
        ``new=True``. Existing: event_count +1, last_seen/last_event replaced (last writer wins),
        ``suppressed["duplicate"]`` +1, ``member`` added, severity raised to the highest seen.
        """
        member = member or event.resource.key
        update = {"last_seen": event.observed_at.isoformat(), "last_event": json.dumps(_event_data(event))}
        record = await self._store.incidents.touch(
            event.dedup_key, update=update, member=member, severity=event.severity.value
        )
        new = False
        if record is None:  # no open incident (or a resolve won a race): open one, exactly once
            first_seen = event.observed_at
            new_id = "inc-" + secrets.token_hex(8)
            head = {
                "id": new_id,
                "dedup_key": event.dedup_key,
                "fingerprint": event.fingerprint,
                "type": event.type.value,
                "subject": event.subject.model_dump(mode="json"),
                "first_seen": first_seen.isoformat(),
                "first_event": _event_data(event),
            }
            incident_id, new = await self._store.incidents.observe(
                event.dedup_key,
                new_id=new_id,
                opening={"head": json.dumps(head), "status": IncidentStatus.OPEN.value},
                update=update,
                member=member,
                severity=event.severity.value,
                score=first_seen.timestamp(),
            )
            record = await self._store.incidents.fetch(incident_id)
        if record is None:  # only if retention ran out within this call
            raise errors.TemporaryError(f"the incident for {event.dedup_key} vanished while observing it")
        incident = _assemble(record)
        if new and self._on_change is not None:
            self._on_change(incident.id)
        if self._metrics is not None:
            if new:
                self._metrics.incidents_opened_total.labels(type=event.type.value).inc()
                self._metrics.incidents_open.set(await self.open_count())
            else:
                reason = SuppressReason.DUPLICATE.value
                self._metrics.suppressed_total.labels(reason=reason, type=event.type.value).inc()
        return Observation(incident=incident, new=new)

    async def count_duplicate(self, event: ClusterEvent, *, member: str | None = None) -> Incident | None:
        """Count ``event`` as a duplicate on the OPEN incident for its key; never opens one.

        For repeated deliveries of the same alert (Alertmanager retries, HA copies): returns the
        incident, or None when no incident is open for the key (nothing is counted then).
        """
        update = {"last_seen": event.observed_at.isoformat(), "last_event": json.dumps(_event_data(event))}
        record = await self._store.incidents.touch(
            event.dedup_key, update=update, member=member or event.resource.key, severity=event.severity.value
        )
        if record is None:
            return None
        if self._metrics is not None:
            reason = SuppressReason.DUPLICATE.value
            self._metrics.suppressed_total.labels(reason=reason, type=event.type.value).inc()
        return _assemble(record)

    async def recover(
        self, *, subject_key: str, types: Iterable[str | EventType], member: str, resolution: str
    ) -> builtins.list[Incident]:
        """``member`` stopped showing the problem (recovered or deleted).

        For each type, removes ``member`` from the open incident keyed ``f"{type}:{subject_key}"``
        (``subject_key`` is ``Kind/namespace/name`` of the subject); an incident left without
        members is resolved with ``resolution`` (e.g. ``"recovered"``, ``"deleted"``) and
        unmapped, so the next occurrence opens a fresh incident. Returns the incidents resolved.
        """
        resolved: builtins.list[Incident] = []
        member_of = await self._store.incidents.member_keys(member)
        for event_type in types:
            dedup_key = f"{event_type}:{subject_key}"
            if dedup_key not in member_of:
                continue  # not a member of that open incident: nothing to leave
            incident_id = await self._store.incidents.leave(
                dedup_key,
                member,
                resolved={
                    "status": IncidentStatus.RESOLVED.value,
                    "resolved_at": self._clock().isoformat(),
                    "resolution": resolution,
                },
                retention_seconds=self._retention_seconds,
            )
            incident = await self.get(incident_id) if incident_id else None
            if incident is not None:
                resolved.append(incident)
                if self._on_change is not None:
                    self._on_change(incident.id)
                if self._metrics is not None:
                    self._metrics.incidents_resolved_total.labels(type=incident.type).inc()
        if resolved and self._metrics is not None:
            self._metrics.incidents_open.set(await self.open_count())
        return resolved

    async def suppress(self, incident_id: str, reason: SuppressReason, *, event_type: str) -> None:
        """Count one event of ``event_type`` that started nothing for ``reason`` (cooldown, muted,
        budget, ...) on the incident and in ``suppressed_total``. Unknown ids count only the metric."""
        await self._store.incidents.suppress(incident_id, reason.value)
        if self._metrics is not None:
            self._metrics.suppressed_total.labels(reason=reason.value, type=event_type).inc()

    async def attach_run(self, incident_id: str, run_id: str) -> None:
        """Record that playbook run ``run_id`` started for the incident (idempotent, in order).

        Raises :class:`aiops.errors.PermanentError` for an unknown (or purged) incident id."""
        if not await self._store.incidents.attach_run(incident_id, run_id, self._clock().timestamp()):
            raise errors.PermanentError(f"no incident {incident_id}")

    async def get(self, incident_id: str) -> Incident | None:
        """The incident, or None when unknown or past retention."""
        record = await self._store.incidents.fetch(incident_id)
        return None if record is None else _assemble(record)

    async def list(
        self, *, status: IncidentStatus | None = None, limit: int = 100
    ) -> builtins.list[Incident]:
        """Up to ``limit`` incidents, newest ``first_seen`` first, optionally of one ``status``."""
        found: builtins.list[Incident] = []
        offset = 0
        open_only = status is IncidentStatus.OPEN
        while len(found) < limit:
            ids = await self._store.incidents.ids(open_only=open_only, offset=offset, count=_PAGE)
            for incident_id in ids:
                incident = await self.get(incident_id)
                if incident is None:
                    await self._store.incidents.forget(incident_id)
                    offset -= 1
                elif status is None or incident.status is status:
                    found.append(incident)
            if len(ids) < _PAGE:
                break
            offset += _PAGE
        return found[:limit]

    async def open_count(self) -> int:
        """How many incidents are open (across every replica)."""
        return await self._store.incidents.open_count()


def _event_data(event: ClusterEvent) -> dict[str, Any]:
    """The event as JSON data that validates back to an equal event (override included)."""
    return {**event.model_dump(mode="json"), "fingerprint_override": event.fingerprint_override}


def _assemble(record: store.IncidentRecord) -> Incident:
    fields = record.fields
    data: dict[str, Any] = {k: v for k, v in json.loads(fields["head"]).items() if k in _HEAD_FIELDS}
    known = [Severity(s) for s in record.severities if s in _SEVERITIES]
    data.update(
        severity=max(known, key=severity_rank).value if known else Severity.WARNING.value,
        status=fields.get("status", IncidentStatus.OPEN.value),
        last_seen=fields.get("last_seen", data["first_seen"]),
        last_event=json.loads(fields["last_event"]) if "last_event" in fields else data["first_event"],
        resolved_at=fields.get("resolved_at"),
        resolution=fields.get("resolution"),
        event_count=record.event_count,
        members=sorted(record.members),
        suppressed=record.suppressed,
        run_ids=record.run_ids,
    )
    return Incident.model_validate(data)
