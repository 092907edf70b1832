"""The chat outbox's contract, the same on a single Redis, in memory and on a Redis Cluster.

Covers: a message delivery is queued once per incident and channel and coalesces later renders;
a reply is queued once per key, also after delivery; a claim is a lease (not claimable while
held, claimable again once it expires, and the old holder's ack then changes nothing but the
location); an ack stores the location with the removal, so the next render is an edit; a render
enqueued during a delivery is due again after the ack; reschedule counts attempts and delays;
dead letters leave the queue; keys carry the ``{outbox}`` tag; bad names are refused.
"""

from __future__ import annotations

import json

import pytest

from aiops.store import Store
from aiops.store.outbox import Acked

NOW = 1_000_000.0
LOC = json.dumps({"channel": "slack", "target": "C1", "message_id": "1.2"})


async def test_a_message_is_queued_once_and_coalesces(any_store: Store) -> None:
    box = any_store.outbox
    assert await box.put_message("slack", "inc1", "v1", now=NOW) is True
    assert await box.put_message("slack", "inc1", "v2", now=NOW + 1) is False
    assert await box.put_message("telegram", "inc1", "v1", now=NOW) is True
    assert await box.depth("slack") == 1
    assert await box.due("slack", now=NOW) == ["msg:inc1"]
    claimed = await box.claim("slack", "msg:inc1", now=NOW, visibility_seconds=30, token="t1")
    assert claimed is not None
    assert (claimed.kind, claimed.incident_id, claimed.body, claimed.location) == (
        "message",
        "inc1",
        "v2",
        None,
    )


async def test_ack_stores_the_location_and_the_next_render_is_an_edit(any_store: Store) -> None:
    box = any_store.outbox
    await box.put_message("slack", "inc1", "v1", now=NOW)
    claimed = await box.claim("slack", "msg:inc1", now=NOW, visibility_seconds=30, token="t1")
    assert claimed is not None
    assert await box.ack(claimed, now=NOW, location=LOC) is Acked.DONE
    assert await box.depth("slack") == 0
    assert await box.location("slack", "inc1") == LOC
    assert await box.location("telegram", "inc1") is None
    await box.put_message("slack", "inc1", "v2", now=NOW + 5)
    again = await box.claim("slack", "msg:inc1", now=NOW + 5, visibility_seconds=30, token="t2")
    assert again is not None and again.location == LOC and again.body == "v2"


async def test_a_render_enqueued_during_delivery_is_due_after_the_ack(any_store: Store) -> None:
    box = any_store.outbox
    await box.put_message("slack", "inc1", "v1", now=NOW)
    claimed = await box.claim("slack", "msg:inc1", now=NOW, visibility_seconds=30, token="t1")
    assert claimed is not None
    await box.put_message("slack", "inc1", "v2", now=NOW + 1)
    assert await box.ack(claimed, now=NOW + 2, location=LOC) is Acked.NEWER
    assert await box.due("slack", now=NOW + 2) == ["msg:inc1"]
    newer = await box.claim("slack", "msg:inc1", now=NOW + 2, visibility_seconds=30, token="t2")
    assert newer is not None and newer.body == "v2" and newer.location == LOC
    assert await box.ack(newer, now=NOW + 3) is Acked.DONE
    assert await box.depth("slack") == 0


async def test_a_claim_is_a_lease(any_store: Store) -> None:
    box = any_store.outbox
    await box.put_message("slack", "inc1", "v1", now=NOW)
    first = await box.claim("slack", "msg:inc1", now=NOW, visibility_seconds=30, token="dead-worker")
    assert first is not None
    assert await box.due("slack", now=NOW + 29) == []
    assert await box.claim("slack", "msg:inc1", now=NOW + 29, visibility_seconds=30, token="w2") is None
    second = await box.claim("slack", "msg:inc1", now=NOW + 31, visibility_seconds=30, token="w2")
    assert second is not None and second.location is None
    # The first holder wakes up after its lease: only its location is kept, the delivery stays w2's.
    assert await box.ack(first, now=NOW + 32, location=LOC) is Acked.LOST
    assert await box.reschedule(first, not_before=NOW, count_attempt=True) == -1
    assert await box.dead_letter(first, "{}") is False
    assert await box.depth("slack") == 1
    assert await box.location("slack", "inc1") == LOC
    other = json.dumps({"channel": "slack", "target": "C1", "message_id": "9.9"})
    assert await box.ack(second, now=NOW + 33, location=other) is Acked.DONE
    assert await box.location("slack", "inc1") == LOC  # the first location stored stands


async def test_a_reply_is_queued_once_per_key_even_after_delivery(any_store: Store) -> None:
    box = any_store.outbox
    assert await box.put_reply("slack", "inc1", "run1:0", "step 0 done", now=NOW) is True
    assert await box.put_reply("slack", "inc1", "run1:0", "step 0 done", now=NOW) is False
    assert await box.put_reply("slack", "inc1", "run1:1", "step 1 done", now=NOW + 1) is True
    assert await box.due("slack", now=NOW + 1) == ["reply:inc1:run1:0", "reply:inc1:run1:1"]
    claimed = await box.claim("slack", "reply:inc1:run1:0", now=NOW + 1, visibility_seconds=30, token="t")
    assert claimed is not None and (claimed.kind, claimed.body) == ("reply", "step 0 done")
    assert await box.ack(claimed, now=NOW + 1) is Acked.DONE
    assert await box.put_reply("slack", "inc1", "run1:0", "step 0 done", now=NOW + 2) is False
    assert await box.depth("slack") == 1


async def test_reschedule_delays_and_counts_attempts(any_store: Store) -> None:
    box = any_store.outbox
    await box.put_message("slack", "inc1", "v1", now=NOW)
    claimed = await box.claim("slack", "msg:inc1", now=NOW, visibility_seconds=30, token="t")
    assert claimed is not None and claimed.attempts == 0
    assert await box.reschedule(claimed, not_before=NOW + 10, count_attempt=True) == 1
    assert await box.due("slack", now=NOW + 9) == []
    again = await box.claim("slack", "msg:inc1", now=NOW + 10, visibility_seconds=30, token="t2")
    assert again is not None and again.attempts == 1
    assert await box.reschedule(again, not_before=NOW + 11, count_attempt=False) == 1
    assert await box.due("slack", now=NOW + 11) == ["msg:inc1"]


async def test_a_dead_letter_leaves_the_queue(any_store: Store) -> None:
    box = any_store.outbox
    await box.put_message("slack", "inc1", "v1", now=NOW)
    claimed = await box.claim("slack", "msg:inc1", now=NOW, visibility_seconds=30, token="t")
    assert claimed is not None
    assert await box.dead_letter(claimed, '{"error": "channel_not_found"}') is True
    assert await box.depth("slack") == 0
    assert await box.dead_letters("slack") == ['{"error": "channel_not_found"}']
    assert await box.claim("slack", "msg:inc1", now=NOW + 99, visibility_seconds=30, token="t") is None


async def test_keys_share_the_outbox_tag_and_bad_names_are_refused(any_store: Store) -> None:
    box = any_store.outbox
    assert "{outbox}:queue:slack" in box._queue("slack")
    assert "{outbox}:location:slack:inc1" in box._location("slack", "inc1")
    with pytest.raises(ValueError):
        await box.put_message("sl:ack", "inc1", "v", now=NOW)
    with pytest.raises(ValueError):
        await box.put_reply("slack", "", "k", "t", now=NOW)
