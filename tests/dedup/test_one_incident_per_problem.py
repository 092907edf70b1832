"""One incident per ongoing problem, however many events, observers and restarts.

Covers: repeated events fold into one incident (event_count, duplicate counter, last_event,
highest severity); 50 concurrent observers of a new problem and two replicas open exactly one
incident; pods of one Deployment fold into one incident as members; a restarted Deduplicator on
the same store sees the same open incident; listings, suppress counters, run links, metrics.
Runs against the real Redis and the in-memory store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from aiops import errors
from aiops.events.dedup import Deduplicator
from aiops.events.incident import IncidentStatus, SuppressReason
from aiops.events.model import ClusterEvent, EventType, ObjectRef, Severity
from aiops.metrics import Metrics
from aiops.store import Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def crash(
    pod: str = "web-1",
    *,
    deployment: str = "web",
    severity: Severity = Severity.WARNING,
    at: datetime = T0,
    kind: EventType = EventType.CRASH_LOOP,
) -> ClusterEvent:
    return ClusterEvent(
        type=kind,
        severity=severity,
        resource=ObjectRef(api_version="v1", kind="Pod", namespace="shop", name=pod),
        owner=ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name=deployment),
        reason="CrashLoopBackOff",
        details={"restart_count": 3},
        observed_at=at,
    )


async def test_further_events_fold_into_the_open_incident(any_store: Store) -> None:
    metrics = Metrics()
    dedup = Deduplicator(any_store, metrics=metrics)
    first = await dedup.observe(crash())
    assert first.new is True
    assert first.incident.id.startswith("inc-")
    assert first.incident.dedup_key == "crash_loop:Deployment/shop/web"
    assert first.incident.status is IncidentStatus.OPEN
    assert first.incident.event_count == 1
    assert first.incident.members == ["Pod/shop/web-1"]

    for i in range(50):
        later = await dedup.observe(crash(at=T0 + timedelta(seconds=i + 1)))
        assert later.new is False
        assert later.incident.id == first.incident.id

    incident = await dedup.get(first.incident.id)
    assert incident is not None
    assert incident.event_count == 51
    assert incident.suppressed == {"duplicate": 50}
    assert incident.first_seen == T0
    assert incident.last_seen == T0 + timedelta(seconds=50)
    assert incident.first_event == crash()
    assert incident.last_event.observed_at == T0 + timedelta(seconds=50)

    sample = metrics.registry.get_sample_value
    assert sample("aiops_incidents_opened_total", {"type": "crash_loop"}) == 1
    assert sample("aiops_incidents_open") == 1
    assert sample("aiops_suppressed_events_total", {"reason": "duplicate", "type": "crash_loop"}) == 50


async def test_fifty_concurrent_observers_open_exactly_one_incident(any_store: Store) -> None:
    dedup = Deduplicator(any_store)
    observations = await asyncio.gather(*(dedup.observe(crash(f"web-{i % 5}")) for i in range(50)))
    assert [o.new for o in observations].count(True) == 1
    assert len({o.incident.id for o in observations}) == 1
    incident = await dedup.get(observations[0].incident.id)
    assert incident is not None
    assert incident.event_count == 50
    assert incident.suppressed["duplicate"] == 49
    assert incident.members == [f"Pod/shop/web-{i}" for i in range(5)]
    assert await dedup.open_count() == 1


async def test_two_replicas_share_one_incident(any_store: Store) -> None:
    replica_a, replica_b = Deduplicator(any_store), Deduplicator(any_store)
    observations = await asyncio.gather(
        *(replica.observe(crash()) for _ in range(10) for replica in (replica_a, replica_b))
    )
    assert [o.new for o in observations].count(True) == 1
    assert len({o.incident.id for o in observations}) == 1


async def test_a_restarted_deduplicator_sees_the_same_open_incident(any_store: Store) -> None:
    before = await Deduplicator(any_store).observe(crash())
    restarted = Deduplicator(any_store)
    assert await restarted.open_count() == 1
    after = await restarted.observe(crash("web-2"))
    assert after.new is False
    assert after.incident.id == before.incident.id
    assert after.incident.members == ["Pod/shop/web-1", "Pod/shop/web-2"]


async def test_different_problems_get_different_incidents(any_store: Store) -> None:
    dedup = Deduplicator(any_store)
    a = await dedup.observe(crash(deployment="web"))
    b = await dedup.observe(crash(deployment="api"))
    c = await dedup.observe(crash(deployment="web", kind=EventType.OOM_KILLED))
    assert a.new and b.new and c.new
    assert len({a.incident.id, b.incident.id, c.incident.id}) == 3
    assert await dedup.open_count() == 3


async def test_severity_is_the_highest_seen(any_store: Store) -> None:
    dedup = Deduplicator(any_store)
    await dedup.observe(crash(severity=Severity.WARNING))
    await dedup.observe(crash(severity=Severity.CRITICAL))
    last = await dedup.observe(crash(severity=Severity.INFO))
    assert last.incident.severity == "critical"
    assert last.incident.last_event.severity is Severity.INFO


async def test_explicit_member_overrides_the_resource_key(any_store: Store) -> None:
    dedup = Deduplicator(any_store)
    observation = await dedup.observe(crash(), member="Pod/shop/web-1/container-app")
    assert observation.incident.members == ["Pod/shop/web-1/container-app"]


async def test_suppress_and_attach_run_are_recorded(any_store: Store) -> None:
    metrics = Metrics()
    dedup = Deduplicator(any_store, metrics=metrics)
    incident = (await dedup.observe(crash())).incident
    await dedup.suppress(incident.id, SuppressReason.COOLDOWN, event_type="crash_loop")
    await dedup.suppress(incident.id, SuppressReason.COOLDOWN, event_type="crash_loop")
    await dedup.suppress(incident.id, SuppressReason.BUDGET, event_type="crash_loop")
    await dedup.suppress("inc-unknown", SuppressReason.MUTED, event_type="crash_loop")  # no-op on Redis
    await dedup.attach_run(incident.id, "run-2")
    await dedup.attach_run(incident.id, "run-1")
    await dedup.attach_run(incident.id, "run-2")  # idempotent
    stored = await dedup.get(incident.id)
    assert stored is not None
    assert stored.suppressed == {"cooldown": 2, "budget": 1}
    assert stored.run_ids == ["run-2", "run-1"]
    assert await dedup.get("inc-unknown") is None
    with pytest.raises(errors.PermanentError):
        await dedup.attach_run("inc-unknown", "run-3")
    sample = metrics.registry.get_sample_value
    assert sample("aiops_suppressed_events_total", {"reason": "cooldown", "type": "crash_loop"}) == 2
    assert sample("aiops_suppressed_events_total", {"reason": "muted", "type": "crash_loop"}) == 1


async def test_list_is_newest_first_and_filters_by_status(any_store: Store) -> None:
    dedup = Deduplicator(any_store)
    ids = []
    for i, name in enumerate(["a", "b", "c"]):
        observation = await dedup.observe(crash(f"{name}-1", deployment=name, at=T0 + timedelta(minutes=i)))
        ids.append(observation.incident.id)
    await dedup.recover(
        subject_key="Deployment/shop/b", types=[EventType.CRASH_LOOP], member="Pod/shop/b-1", resolution="x"
    )
    assert [i.id for i in await dedup.list()] == ids[::-1]
    assert [i.id for i in await dedup.list(limit=2)] == ids[:0:-1]
    assert [i.id for i in await dedup.list(status=IncidentStatus.OPEN)] == [ids[2], ids[0]]
    assert [i.id for i in await dedup.list(status=IncidentStatus.RESOLVED)] == [ids[1]]
