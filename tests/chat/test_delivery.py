"""The delivery workers against a real Redis outbox and a recording test channel.

Covers: renders coalesce (one post of the latest, then one edit of the latest); the post's
location survives a new worker (edits, never a second post); a delivery claimed by a worker that
died mid-call is delivered again after its lease, not before; replies wait for the post and keep
their order; rate limits hold per target (one full target does not hold another); a channel told
to retry is retried after Retry-After and then delivered, while another channel goes on; a
permanent failure, too many attempts or an unreadable delivery is dead-lettered; a channel's own
bug is retried, never raised; a channel hanging forever does not hold up another channel.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from aiops.chat.delivery import ChannelWorker, backoff_seconds
from aiops.chat.hub import Notifications
from aiops.chat.message import IncidentMessage, build_message
from aiops.chat.notifier import DeliveryFailed, DeliveryRetry, RateLimit
from aiops.metrics import Metrics
from aiops.store import Store
from tests.chat import domain
from tests.chat.doubles import Clock, RecordingChannel

VISIBILITY = 60.0


def msg(incident_id: str = "inc-1", count: int = 1) -> IncidentMessage:
    return build_message(domain.incident(incident_id, count=count))


def hub(store: Store, clock: Clock, *channels: RecordingChannel, max_attempts: int = 20) -> Notifications:
    workers = [
        ChannelWorker(
            store,
            c,
            clock=clock,
            visibility_seconds=VISIBILITY,
            first_backoff_seconds=1.0,
            max_attempts=max_attempts,
        )
        for c in channels
    ]
    return Notifications(store, workers, clock=clock)


async def test_renders_coalesce_to_one_post_then_one_edit(any_store: Store) -> None:
    clock, slack = Clock(), RecordingChannel("slack")
    chat = hub(any_store, clock, slack)
    for count in (1, 2, 3):
        await chat.publish(msg(count=count))
    assert await chat.depth() == {"slack": 1}
    assert await chat.workers[0].run_once() == 1
    assert slack.calls == [("post", "chat-inc-1", "1", "3")]
    for count in (4, 5):
        await chat.publish(msg(count=count))
    await chat.workers[0].run_once()
    assert slack.calls[1:] == [("update", "chat-inc-1", "1", "5")]
    assert await chat.depth() == {"slack": 0}
    assert json.loads(await any_store.outbox.location("slack", "inc-1") or "{}")["message_id"] == "1"


async def test_a_new_worker_edits_the_message_posted_before_the_restart(store: Store) -> None:
    clock, slack = Clock(), RecordingChannel("slack")
    await hub(store, clock, slack).publish(msg(count=1))
    await hub(store, clock, slack).workers[0].run_once()
    restarted = hub(store, clock, slack)  # new worker objects, same Redis
    await restarted.publish(msg(count=2))
    await restarted.workers[0].run_once()
    assert slack.ops() == [("post", "1"), ("update", "2")]


async def test_a_delivery_of_a_worker_that_died_mid_call_is_delivered_after_its_lease(store: Store) -> None:
    clock, slack = Clock(), RecordingChannel("slack", hang=True)
    await hub(store, clock, slack).publish(msg())
    dying = asyncio.create_task(hub(store, clock, slack).workers[0].run_once())
    await asyncio.wait_for(slack.entered.wait(), timeout=10)
    dying.cancel()  # the process dies with the post in flight: claimed, never acked
    with pytest.raises(asyncio.CancelledError):
        await dying
    slack.hang = False
    successor = hub(store, clock, slack).workers[0]
    clock.now += VISIBILITY - 1
    assert await successor.run_once() == 0  # the lease still holds
    clock.now += 2
    assert await successor.run_once() == 1
    assert slack.ops() == [("post", "1")]
    assert await store.outbox.depth("slack") == 0


async def test_replies_wait_for_the_post_and_keep_their_order(store: Store) -> None:
    clock, slack = Clock(), RecordingChannel("slack")
    chat = hub(store, clock, slack)
    await chat.reply("inc-1", "run:0", "step 0 ok")
    await chat.workers[0].run_once()
    assert slack.calls == []  # no post yet: the reply waits
    await chat.publish(msg())
    await chat.reply("inc-1", "run:1", "step 1 ok")
    await chat.reply("inc-1", "run:1", "step 1 ok")  # the same key: queued once
    for _ in range(3):
        clock.now += 1
        await chat.workers[0].run_once()
    assert slack.ops() == [("post", "1"), ("reply", "step 0 ok"), ("reply", "step 1 ok")]
    assert {target for _, target, _, _ in slack.calls} == {"chat-inc-1"}


async def test_rate_limits_hold_per_target(store: Store) -> None:
    clock = Clock()
    slack = RecordingChannel("slack", limits=(RateLimit(per_seconds=10, max_messages=2),))
    chat = hub(store, clock, slack)
    await chat.publish(msg("a"))
    for n in range(5):
        await chat.reply("a", f"k{n}", f"a{n}")
    await chat.publish(msg("b"))
    await chat.workers[0].run_once()
    # Due at the same second, an incident's message comes before its replies (ids sort msg:* <
    # reply:*); chat-a is full after two calls, chat-b is another target and goes on in the same
    # pass (incidents are delivered side by side, so only each target's order is fixed).
    calls = [(op, t) for op, t, _, _ in slack.calls]
    assert [c for c in calls if c[1] == "chat-a"] == [("post", "chat-a"), ("reply", "chat-a")]
    assert [c for c in calls if c[1] == "chat-b"] == [("post", "chat-b")]
    await chat.workers[0].run_once()
    clock.now += 9
    await chat.workers[0].run_once()
    assert len(slack.calls) == 3  # nothing more to chat-a inside its window
    delivered: list[list[str]] = []
    for _ in range(3):
        clock.now += 10
        before = len(slack.calls)
        await chat.workers[0].run_once()
        delivered.append([detail for _, _, _, detail in slack.calls[before:]])
    assert delivered == [["a1", "a2"], ["a3", "a4"], []]


async def test_a_channel_told_to_retry_is_retried_after_retry_after_and_others_go_on(store: Store) -> None:
    clock = Clock()
    slack, telegram = RecordingChannel("slack"), RecordingChannel("telegram")
    slack.fail = DeliveryRetry("429 Too Many Requests", retry_after_seconds=30)
    chat = hub(store, clock, slack, telegram)
    await chat.publish(msg())
    for worker in chat.workers:
        await worker.run_once()
    assert slack.calls == [] and telegram.ops() == [("post", "1")]
    assert await chat.depth() == {"slack": 1, "telegram": 0}
    slack.fail = None
    clock.now += 29
    assert await chat.workers[0].run_once() == 0  # Retry-After still running
    clock.now += 2
    await chat.workers[0].run_once()
    assert slack.ops() == [("post", "1")]
    assert await chat.depth() == {"slack": 0, "telegram": 0}


async def test_permanent_failures_and_too_many_attempts_are_dead_lettered(store: Store) -> None:
    clock, slack = Clock(), RecordingChannel("slack", fail=DeliveryFailed("channel_not_found"))
    chat = hub(store, clock, slack, max_attempts=3)
    await chat.publish(msg("a"))
    await chat.workers[0].run_once()
    slack.fail = DeliveryRetry("503")
    await chat.publish(msg("b"))
    for _ in range(4):
        await chat.workers[0].run_once()
        clock.now += 100
    letters = [json.loads(x) for x in await store.outbox.dead_letters("slack")]
    assert [(x["incident"], x["error"]) for x in letters] == [
        ("b", "gave up after 3 attempts: 503"),
        ("a", "channel_not_found"),
    ]
    assert await store.outbox.depth("slack") == 0 and slack.calls == []


async def test_an_unreadable_delivery_is_dead_lettered_and_a_channel_bug_is_retried(store: Store) -> None:
    clock, slack = Clock(), RecordingChannel("slack", fail=RuntimeError("bug in the channel"))
    chat = hub(store, clock, slack)
    await store.outbox.put_message("slack", "broken", "{not json", now=clock.now)
    await chat.publish(msg())
    await chat.workers[0].run_once()
    assert [json.loads(x)["incident"] for x in await store.outbox.dead_letters("slack")] == ["broken"]
    assert await store.outbox.depth("slack") == 1  # inc-1, rescheduled after the bug
    slack.fail = None
    clock.now += 5
    await chat.workers[0].run_once()
    assert slack.ops() == [("post", "1")]


async def test_a_hanging_channel_does_not_hold_up_another(store: Store) -> None:
    stuck, good = RecordingChannel("stuck", hang=True), RecordingChannel("good")
    chat = Notifications(store, [ChannelWorker(store, c, idle_seconds=0.05) for c in (stuck, good)])
    stop = asyncio.Event()
    running = asyncio.create_task(chat.run(stop))
    try:
        await chat.publish(msg())
        await asyncio.wait_for(stuck.entered.wait(), timeout=10)
        await asyncio.wait_for(good.entered.wait(), timeout=10)
        assert good.ops() == [("post", "1")] and stuck.calls == []
    finally:
        stop.set()
        stuck.released.set()
        await asyncio.wait_for(running, timeout=10)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_seconds(n, first=1.0, cap=10.0) for n in (1, 2, 3, 4, 5, 99)] == [1, 2, 4, 8, 10, 10]


def test_channel_names_are_unique(store: Store) -> None:
    with pytest.raises(ValueError):
        Notifications.of(store, [RecordingChannel("slack"), RecordingChannel("slack")])


async def test_deliveries_are_counted_once_by_channel_op_and_outcome(store: Store) -> None:
    metrics = Metrics()
    clock, slack = Clock(), RecordingChannel("slack")
    worker = ChannelWorker(
        store, slack, clock=clock, first_backoff_seconds=1.0, max_attempts=2, metrics=metrics
    )
    chat = Notifications(store, [worker], clock=clock)
    await chat.publish(msg(count=1))
    slack.fail = DeliveryRetry("429", retry_after_seconds=1)
    await worker.run_once()
    slack.fail = None
    clock.now += 5
    await worker.run_once()
    await chat.reply("inc-1", "k", "done")
    await chat.publish(msg(count=2))
    clock.now += 5
    await worker.run_once()
    await worker.run_once()

    def count(op: str, outcome: str) -> float:
        return float(metrics.chat_messages_total.labels(channel="slack", op=op, outcome=outcome)._value.get())

    assert (count("post", "retry"), count("post", "ok")) == (1, 1)
    assert (count("update", "ok"), count("reply", "ok")) == (1, 1)
    await chat.publish(msg(count=3))
    slack.fail = DeliveryFailed("channel_not_found")
    clock.now += 5
    await worker.run_once()
    assert count("update", "failed") == 1


async def test_an_enqueue_wakes_an_idle_worker_at_once(store: Store) -> None:
    """A worker idle for up to 30 s delivers a new render as soon as it is queued (before, the idle
    wait only ended when both the wake and the stop events had fired, or at its timeout)."""
    slack = RecordingChannel("slack")
    worker = ChannelWorker(store, slack, idle_seconds=30.0)
    chat = Notifications(store, [worker])
    stop = asyncio.Event()
    running = asyncio.create_task(chat.run(stop))
    try:
        await asyncio.sleep(0.2)  # the worker found nothing and waits
        await chat.publish(msg(count=1))
        async with asyncio.timeout(5):
            await slack.entered.wait()
    finally:
        stop.set()
        async with asyncio.timeout(5):
            await running
