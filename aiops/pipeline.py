"""The pipeline, assembled once: detect → filter → dedup → rules → cooldown → executor.

Fed by: the operator's watch handlers (``observe``/``deleted`` with raw Kubernetes bodies), the
Alertmanager intake (``alert`` with the ClusterEvent of each alert the webhook receiver queued,
``aiops.sources.alertmanager.intake``) and its own scheduled re-checks. Consumes: the detectors,
the Deduplicator, the RuleEngine, the Store (cooldown claims), the Executor, and the owner index
(``owner_lookup``) and Playbook resources' routes (``extra_routes``) it is handed.

For each watched object the pipeline also proves recovery: every event type the object's kind
is authoritative for (``kubewatch.DETECTABLE``) that its detector no longer reports, and that is
not still settling (``kubewatch.settling``: a crash-looping container's brief ``running`` phase
is not a recovery), clears that member from the open incident; the incident resolves when no
member still shows the problem, so the next occurrence opens a fresh one. When the detectors'
answer would change with time alone (a back-off reset, an OOM window ending), the pipeline
schedules one re-check of that object at that moment: a timer per object, not a polling loop.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops import correlation
from aiops.clock import Clock, utcnow
from aiops.enrichment.scrub import Scrubber
from aiops.events import dedup as dedup_mod
from aiops.events.incident import SuppressReason
from aiops.events.model import WORKLOAD_KINDS, ClusterEvent, EventType, ObjectRef
from aiops.metrics import Metrics
from aiops.playbooks import executor as executor_mod
from aiops.rules import engine as engine_mod
from aiops.sources import kubewatch
from aiops.store import Store

log = logging.getLogger(__name__)

#: Looks up the owning workload of a pod or ReplicaSet by its ``Kind/namespace/name`` key.
OwnerLookup = Callable[[str], ObjectRef | None]

#: Reads the current body of an object (apiVersion, kind, namespace, name); None when it is gone.
Fetch = Callable[[str, str, str | None, str], Awaitable[Mapping[str, Any] | None]]

#: Kinds whose Events may arrive without an owner and are folded onto their workload.
_FOLDED_KINDS = frozenset({"Pod", "ReplicaSet"})


@dataclass(frozen=True)
class NamespaceFilter:
    """fnmatch globs: an object is in scope when its namespace matches ``include`` and not
    ``exclude``. Cluster-scoped objects (no namespace) are always in scope."""

    include: Sequence[str] = ("*",)
    exclude: Sequence[str] = ()

    def allows(self, namespace: str | None) -> bool:
        """True when events about ``namespace`` should be processed."""
        if namespace is None:
            return True
        if any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.exclude):
            return False
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.include)


@dataclass(frozen=True)
class Outcome:
    """What the pipeline did with one event: the observation and the playbooks launched."""

    event: ClusterEvent
    observation: dedup_mod.Observation | None
    launched: tuple[str, ...] = ()
    suppressed: SuppressReason | None = None


class Pipeline:
    """Routes events to incidents and new incidents to playbooks. Safe to share across tasks."""

    def __init__(
        self,
        *,
        dedup: dedup_mod.Deduplicator,
        rules: Callable[[], engine_mod.RuleEngine],
        executor: executor_mod.Executor,
        store: Store,
        metrics: Metrics,
        namespaces: NamespaceFilter | None = None,
        owner_lookup: OwnerLookup | None = None,
        fetch: Fetch | None = None,
        extra_routes: Callable[[ClusterEvent], list[engine_mod.RuleMatch]] | None = None,
        on_incident: Callable[[str, ClusterEvent], None] | None = None,
        clock: Clock = utcnow,
        scrub: Scrubber | None = None,
    ) -> None:
        self._dedup = dedup
        self._rules = rules
        self._executor = executor
        self._store = store
        self._metrics = metrics
        self._namespaces = namespaces or NamespaceFilter()
        self._owner_lookup = owner_lookup
        self._fetch = fetch
        self._extra_routes = extra_routes
        self._on_incident = on_incident
        self._clock = clock
        self._scrub = scrub or Scrubber()
        self._rechecks: dict[str, asyncio.TimerHandle] = {}
        self._recheck_tasks: set[asyncio.Task[None]] = set()

    async def observe(self, body: Mapping[str, Any]) -> list[Outcome]:
        """A watched object was added or modified: submit its events and clear what recovered."""
        now = self._clock()
        events = kubewatch.detect(body, now=now)
        member = kubewatch.member_key(body)
        kind = str(body.get("kind", ""))
        authoritative = kubewatch.DETECTABLE.get(kind, frozenset())
        if member is not None and authoritative:
            settling = kubewatch.settling(body, now=now)
            healthy_types = authoritative - {event.type for event in events} - settling.types
            if healthy_types:
                await self._recover(body, member, healthy_types, resolution="recovered")
            self._schedule_recheck(body, member, settling.recheck_at, now)
        return [await self.submit(event, member=member if authoritative else None) for event in events]

    async def deleted(self, body: Mapping[str, Any]) -> None:
        """A watched object was deleted: every problem it showed is over for it."""
        member = kubewatch.member_key(body)
        if member is not None and member in self._rechecks:
            self._rechecks.pop(member).cancel()
        authoritative = kubewatch.DETECTABLE.get(str(body.get("kind", "")), frozenset())
        if member is not None and authoritative:
            await self._recover(body, member, authoritative, resolution="deleted")

    async def submit(self, event: ClusterEvent, *, member: str | None = None) -> Outcome:
        """Route one event: filter, dedup, and for a new incident run the matching playbooks."""
        self._metrics.events_total.labels(type=event.type.value, source=event.source.value).inc()
        if (muted := self._muted(event)) is not None:
            return muted
        event = self._scrub.event(self._with_owner(event))  # the incident keeps no secret
        observation = await self._dedup.observe(event, member=member)
        if not observation.new:
            return Outcome(event, observation, suppressed=SuppressReason.DUPLICATE)
        with correlation.incident(observation.incident.id):  # its enrichment and runs carry it
            return await self._opened(event, observation)

    async def _opened(self, event: ClusterEvent, observation: dedup_mod.Observation) -> Outcome:
        """A new incident: enrich it and launch its playbooks (cooldowns permitting)."""
        incident = observation.incident
        if self._on_incident is not None:
            self._on_incident(incident.id, event)  # enrichment, in the background
        launched: list[str] = []
        suppressed: SuppressReason | None = None
        for match in self._routes(event):
            if match.cooldown_seconds > 0:
                claim = engine_mod.cooldown_key(match, event)
                if not await self._store.claim(claim, incident.id, ttl_seconds=match.cooldown_seconds):
                    await self._dedup.suppress(
                        incident.id, SuppressReason.COOLDOWN, event_type=event.type.value
                    )
                    suppressed = SuppressReason.COOLDOWN
                    continue
            self._executor.launch(incident_id=incident.id, event=event, playbook_id=match.playbook_id)
            launched.append(match.playbook_id)
        log.info(
            "incident %s opened by %s event %s (%s, fingerprint %s)%s",
            incident.id,
            event.source.value,
            event.dedup_key,
            event.reason,
            event.fingerprint,
            f"; playbooks {', '.join(launched)}" if launched else "",
        )
        return Outcome(event, observation, tuple(launched), suppressed)

    def _muted(self, event: ClusterEvent) -> Outcome | None:
        """The outcome for an event outside the namespaces in scope (counted as muted), else None."""
        if self._namespaces.allows(event.resource.namespace):
            return None
        self._metrics.suppressed_total.labels(reason=SuppressReason.MUTED.value, type=event.type.value).inc()
        return Outcome(event, None, suppressed=SuppressReason.MUTED)

    async def alert(self, event: ClusterEvent, duplicate: bool) -> Outcome | None:
        """Route one Alertmanager alert (see ``sources.alertmanager.intake``).

        Firing: like any event, with the alert's resource as the member. A repeated delivery of
        the same firing alert only counts as a duplicate on the open incident (it never opens
        one). Resolved (``details["status"] == "resolved"``): the alert's resource leaves the
        incident for that key; the incident resolves when no member still shows the problem.
        """
        if (muted := self._muted(event)) is not None:
            return muted
        event = self._with_owner(event)
        member = event.resource.key
        if event.details.get("status") == "resolved":
            resolved = await self._dedup.recover(
                subject_key=event.subject.key, types=[event.type], member=member, resolution="alert resolved"
            )
            for incident in resolved:
                log.info("incident %s resolved by its alert: %s", incident.id, incident.dedup_key)
            return None
        if duplicate:
            self._metrics.events_total.labels(type=event.type.value, source=event.source.value).inc()
            await self._dedup.count_duplicate(self._scrub.event(event), member=member)
            return Outcome(event, None, suppressed=SuppressReason.DUPLICATE)
        return await self.submit(event, member=member)

    def _routes(self, event: ClusterEvent) -> list[engine_mod.RuleMatch]:
        """The rules' matches, then Playbook resources' (a playbook routed twice starts once)."""
        matches = list(self._rules().match(event))
        if self._extra_routes is not None:
            seen = {m.playbook_id for m in matches}
            matches.extend(m for m in self._extra_routes(event) if m.playbook_id not in seen)
        return matches

    def close(self) -> None:
        """Cancel scheduled re-checks (on shutdown; a restart re-derives them from the watch)."""
        for handle in self._rechecks.values():
            handle.cancel()
        self._rechecks.clear()
        for task in self._recheck_tasks:
            task.cancel()

    def _schedule_recheck(
        self, body: Mapping[str, Any], member: str, at: datetime | None, now: datetime
    ) -> None:
        previous = self._rechecks.pop(member, None)
        if previous is not None:
            previous.cancel()
        if at is None or self._fetch is None:
            return
        meta = body.get("metadata") or {}
        ref = (
            str(body.get("apiVersion", "v1")),
            str(body.get("kind")),
            meta.get("namespace"),
            str(meta.get("name")),
        )
        delay = max(0.0, (at - now).total_seconds()) + 1.0
        loop = asyncio.get_running_loop()
        self._rechecks[member] = loop.call_later(delay, self._start_recheck, member, ref)

    def _start_recheck(self, member: str, ref: tuple[str, str, str | None, str]) -> None:
        self._rechecks.pop(member, None)
        task = asyncio.get_running_loop().create_task(self._recheck(ref), name=f"recheck:{member}")
        self._recheck_tasks.add(task)
        task.add_done_callback(self._recheck_tasks.discard)

    async def _recheck(self, ref: tuple[str, str, str | None, str]) -> None:
        assert self._fetch is not None
        try:
            body = await self._fetch(*ref)
            if body is not None:
                await self.observe(body)
        except Exception:  # stage boundary: a failed re-check waits for the next watch event
            log.exception("re-check of %s/%s failed", ref[1], ref[3])
            self._metrics.pipeline_errors_total.labels(stage="recheck").inc()

    def _with_owner(self, event: ClusterEvent) -> ClusterEvent:
        """Fold an Event-sourced pod/ReplicaSet problem onto its workload, as their watches do."""
        if event.owner is None and event.resource.kind in _FOLDED_KINDS and self._owner_lookup is not None:
            owner = self._owner_lookup(event.resource.key)
            if owner is not None:
                return event.model_copy(update={"owner": owner})
        return event

    async def _recover(
        self, body: Mapping[str, Any], member: str, types: frozenset[EventType], *, resolution: str
    ) -> None:
        owner = kubewatch.owner_of(body)
        subject_key = owner.key if owner is not None and owner.kind in WORKLOAD_KINDS else member
        resolved = await self._dedup.recover(
            subject_key=subject_key, types=types, member=member, resolution=resolution
        )
        for incident in resolved:
            log.info("incident %s resolved: %s (%s)", incident.id, incident.dedup_key, resolution)
