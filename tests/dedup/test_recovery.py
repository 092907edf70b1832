"""Incidents resolve when their last member recovers, and the next occurrence is a new incident.

Covers: two pods folded into one Deployment incident stay open while one still fails and resolve
when both recover; a crash after recovery opens a fresh incident id; recovering an unknown or
non-member resource changes nothing; resolved incidents are kept for their retention only; a
recovery racing new events never leaves two open incidents, or an open one no observer finds.
Runs against the real Redis and the in-memory store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiops.events.dedup import Deduplicator
from aiops.events.incident import IncidentStatus
from aiops.events.model import ClusterEvent, EventType, ObjectRef
from aiops.metrics import Metrics
from aiops.store import Store

NOW = datetime(2025, 1, 1, 13, 0, tzinfo=UTC)
SUBJECT = "Deployment/shop/web"


def crash(pod: str) -> ClusterEvent:
    return ClusterEvent(
        type=EventType.CRASH_LOOP,
        resource=ObjectRef(api_version="v1", kind="Pod", namespace="shop", name=pod),
        owner=ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name="web"),
        reason="CrashLoopBackOff",
    )


def dedup_for(store: Store, *, metrics: Metrics | None = None, retention_seconds: int = 3600) -> Deduplicator:
    return Deduplicator(store, metrics=metrics, clock=lambda: NOW, retention_seconds=retention_seconds)


async def recover(dedup: Deduplicator, pod: str, resolution: str = "recovered") -> list[str]:
    resolved = await dedup.recover(
        subject_key=SUBJECT,
        types=[EventType.CRASH_LOOP, "oom_killed"],
        member=f"Pod/shop/{pod}",
        resolution=resolution,
    )
    return [i.id for i in resolved]


async def test_incident_resolves_when_its_last_member_recovers(any_store: Store) -> None:
    metrics = Metrics()
    dedup = dedup_for(any_store, metrics=metrics)
    incident_id = (await dedup.observe(crash("web-1"))).incident.id
    assert (await dedup.observe(crash("web-2"))).incident.id == incident_id

    assert await recover(dedup, "web-1") == []
    still_open = await dedup.get(incident_id)
    assert still_open is not None
    assert still_open.status is IncidentStatus.OPEN
    assert still_open.members == ["Pod/shop/web-2"]

    assert await recover(dedup, "web-2", "deleted") == [incident_id]
    resolved = await dedup.get(incident_id)
    assert resolved is not None
    assert resolved.status is IncidentStatus.RESOLVED
    assert resolved.resolved_at == NOW
    assert resolved.resolution == "deleted"
    assert resolved.members == []
    assert resolved.event_count == 2
    assert await dedup.open_count() == 0
    sample = metrics.registry.get_sample_value
    assert sample("aiops_incidents_resolved_total", {"type": "crash_loop"}) == 1
    assert sample("aiops_incidents_open") == 0


async def test_a_crash_after_recovery_opens_a_new_incident(any_store: Store) -> None:
    dedup = dedup_for(any_store)
    first = (await dedup.observe(crash("web-1"))).incident.id
    assert await recover(dedup, "web-1") == [first]
    again = await dedup.observe(crash("web-1"))
    assert again.new is True
    assert again.incident.id != first
    assert again.incident.event_count == 1
    old = await dedup.get(first)
    assert old is not None and old.status is IncidentStatus.RESOLVED


async def test_recovering_strangers_changes_nothing(any_store: Store) -> None:
    dedup = dedup_for(any_store)
    incident_id = (await dedup.observe(crash("web-1"))).incident.id
    assert await recover(dedup, "web-9") == []  # not a member
    assert (
        await dedup.recover(
            subject_key="Deployment/shop/other", types=["crash_loop"], member="Pod/shop/web-1", resolution="x"
        )
        == []
    )
    incident = await dedup.get(incident_id)
    assert incident is not None and incident.status is IncidentStatus.OPEN


async def test_resolved_incidents_are_kept_for_their_retention_only(any_store: Store) -> None:
    dedup = dedup_for(any_store, retention_seconds=1)
    incident_id = (await dedup.observe(crash("web-1"))).incident.id
    await asyncio.sleep(1.1)
    assert await dedup.get(incident_id) is not None  # open incidents never expire
    await recover(dedup, "web-1")
    assert await dedup.get(incident_id) is not None
    await asyncio.sleep(1.2)
    assert await dedup.get(incident_id) is None
    assert await dedup.list() == []


async def test_recovery_racing_new_events_keeps_one_findable_incident(any_store: Store) -> None:
    dedup = dedup_for(any_store)
    for _ in range(15):
        await dedup.observe(crash("web-1"))
        results = await asyncio.gather(
            recover(dedup, "web-1"),
            dedup.observe(crash("web-1")),
            dedup.observe(crash("web-2")),
            recover(dedup, "web-2"),
            dedup.observe(crash("web-1")),
        )
        open_now = [i for i in await dedup.list(status=IncidentStatus.OPEN)]
        assert len(open_now) <= 1
        probe = await dedup.observe(crash("web-3"))
        if open_now:
            assert probe.new is False and probe.incident.id == open_now[0].id  # the mapping finds it
        assert len(await dedup.list(status=IncidentStatus.OPEN)) == 1
        resolved_ids = {i for r in results if isinstance(r, list) for i in r}
        for incident_id in resolved_ids:
            incident = await dedup.get(incident_id)
            assert incident is not None
            assert incident.status is IncidentStatus.RESOLVED and incident.members == []
        for pod in ("web-1", "web-2", "web-3"):
            await recover(dedup, pod)
        assert await dedup.open_count() == 0
