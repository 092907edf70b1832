"""The incident feed against a real Redis outbox and a recording channel.

Covers: many touches of one incident publish it once (coalescing) with what the readers hold
then, not what the toucher saw; the pending approval of a run step reaches the message; ended
steps are replied once each (a second publish adds none); an unknown incident publishes nothing;
a reader failing with StoreUnavailable leaves the incident to be retried, and the feed goes on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiops.approvals.model import ApprovalRequest
from aiops.chat import feed as feed_mod
from aiops.chat.feed import IncidentFeed, step_reply
from aiops.chat.hub import Notifications
from aiops.enrichment.enricher import Enrichment
from aiops.errors import StoreUnavailable
from aiops.events.incident import Incident
from aiops.playbooks.runs import Run
from aiops.store import Store
from tests.chat import domain
from tests.chat.doubles import RecordingChannel
from tests.support.operator_fixtures import eventually


class Readers:
    """What the store would hold; ``fail`` makes the incident reader raise StoreUnavailable."""

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.runs: dict[str, Run] = {}
        self.requests: dict[str, ApprovalRequest] = {}
        self.fail = 0
        self.reads = 0

    async def incident(self, incident_id: str) -> Incident | None:
        self.reads += 1
        if self.fail:
            self.fail -= 1
            raise StoreUnavailable("redis is down")
        return self.incidents.get(incident_id)

    async def run(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)

    async def enrichment(self, incident_id: str) -> Enrichment | None:
        return domain.enrichment(incident_id)

    async def approval(self, request_id: str) -> ApprovalRequest | None:
        return self.requests.get(request_id)


def feed_of(store: Store, readers: Readers, channel: RecordingChannel) -> IncidentFeed:
    notifications = Notifications.of(store, [channel])
    return IncidentFeed(
        notifications,
        incident=readers.incident,
        run=readers.run,
        enrichment=readers.enrichment,
        approval=readers.approval,
    )


def seeded() -> Readers:
    readers = Readers()
    run = domain.run()
    run.steps[1].approval_id = "a" * 32
    incident = domain.incident(count=7)
    incident.run_ids = [run.id]
    readers.incidents[incident.id] = incident
    readers.runs[run.id] = run
    readers.requests["a" * 32] = domain.request("a" * 32)
    return readers


async def test_touches_coalesce_into_one_publish_of_what_the_store_holds(store: Store) -> None:
    readers, channel = seeded(), RecordingChannel("rec")
    feed = feed_of(store, readers, channel)
    for _ in range(50):
        feed.touch("inc-1")
    feed.touch(None)
    assert feed.pending == 1
    message = await feed.publish("inc-1")
    assert message is not None and message.header.count == 7
    assert message.pending is not None and message.pending.request_id == "a" * 32
    assert message.rca is not None and "heap" in message.rca
    await feed._notifications.workers[0].run_once()
    ops = channel.ops()
    assert ops[0] == ("post", "7")
    replies = [detail for op, detail in ops if op == "reply"]
    assert len(replies) == 2  # the succeeded read and the failed scale; the waiting restart not yet
    assert any("409 Conflict" in r for r in replies)


async def test_a_second_publish_edits_and_adds_no_reply(store: Store) -> None:
    readers, channel = seeded(), RecordingChannel("rec")
    feed = feed_of(store, readers, channel)
    await feed.publish("inc-1")
    await feed._notifications.workers[0].run_once()
    readers.incidents["inc-1"] = domain.incident(count=9)
    readers.incidents["inc-1"].run_ids = ["run-1"]
    await feed.publish("inc-1")
    await feed._notifications.workers[0].run_once()
    ops = channel.ops()
    assert [op for op, _ in ops].count("reply") == 2
    assert ops[-1] == ("update", "9")


async def test_unknown_incident_publishes_nothing(store: Store) -> None:
    channel = RecordingChannel("rec")
    feed = feed_of(store, Readers(), channel)
    assert await feed.publish("inc-404") is None
    assert await feed._notifications.depth() == {"rec": 0}


async def test_run_loop_retries_after_a_store_failure(store: Store, monkeypatch: Any) -> None:
    monkeypatch.setattr(feed_mod, "RETRY_SECONDS", 0.05)  # the feed's own pacing, not a Redis call
    readers, channel = seeded(), RecordingChannel("rec")
    readers.fail = 1
    feed = feed_of(store, readers, channel)
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    feed.touch("inc-1")

    async def published() -> bool:
        return readers.reads >= 2 and feed.pending == 0 and await feed._notifications.depth() == {"rec": 3}

    await eventually(published, timeout_seconds=5, what="the retried publish")
    stop.set()
    async with asyncio.timeout(5):
        await task


def test_step_reply_names_state_approver_and_error() -> None:
    run = domain.run()
    assert step_reply(run, run.steps[1]) is None  # still waiting
    key, text = step_reply(run, run.steps[2]) or ("", "")
    assert key == "run-1:2.0:failed"
    assert "scale" in text and "failed" in text and "409 Conflict" in text
