"""Intake durability: Redis down answers 503 (Alertmanager retries); a poison entry goes to the
dead-letter stream with its error and does not block the stream; a consumer's unacknowledged
entries are processed after a restart."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from aiops.api import webhook
from aiops.events.model import ClusterEvent
from aiops.settings import AlertmanagerSettings
from aiops.sources.alertmanager import intake as intake_mod
from aiops.sources.alertmanager import parse_payload
from aiops.store import Store
from aiops.store.alerts import AlertStream
from tests.alertmanager.payloads import alert, payload

TOKEN = "alertmanager-token-0123456789"


async def test_redis_down_is_a_503_so_alertmanager_retries() -> None:
    dead = Store.connect("redis://127.0.0.1:1/0", timeout_seconds=0.5)
    app = FastAPI()
    intake = intake_mod.Intake(AlertStream(dead), consumer="t")
    app.include_router(webhook.build_router(intake, AlertmanagerSettings(token=TOKEN)), prefix="/api")
    body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": "web-1"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://aiops") as client:
        response = await client.post(
            "/api/webhook/alertmanager", content=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 503 and "cannot record alerts now" in response.json()["detail"]
    await dead.close()


async def test_a_poison_entry_is_dead_lettered_and_the_rest_flow(store: Store) -> None:
    stream = AlertStream(store)
    handled: list[str] = []

    async def handle(event: ClusterEvent, duplicate: bool) -> None:
        if event.reason == "Poison":
            raise ValueError("cannot route this alert")
        handled.append(event.reason)

    recorder = intake_mod.Intake(stream, consumer="c1")
    body = payload(
        alert("Poison", {"namespace": "shop", "pod": "a"}),
        alert("CPUThrottlingHigh", {"namespace": "shop", "pod": "b"}),
    )
    await recorder.record(parse_payload(body), body)
    await stream.record("no-such-payload", b"{}", [("garbage-key", 0)])  # its body: not a payload
    consumer = intake_mod.Intake(stream, consumer="c1", handle=handle)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, block_ms=50))
    for _ in range(100):
        if handled and len(await stream.dead_letters()) == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert handled == ["CPUThrottlingHigh"]
    dead = await stream.dead_letters()
    assert len(dead) == 2
    assert any("cannot route this alert" in d["error"] for d in dead)
    assert any("ValidationFailed" in d["error"] for d in dead)
    assert await stream.backlog() == 0  # everything acknowledged


async def test_unacknowledged_entries_are_processed_after_a_restart(store: Store) -> None:
    stream = AlertStream(store)
    body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": "b"}))
    await intake_mod.Intake(stream, consumer="c1").record(parse_payload(body), body)
    await stream.ensure_group()
    read = await stream.read("c1", block_ms=50)  # delivered, then the process "dies" before ack
    assert len(read) == 1 and await stream.backlog() == 1
    handled: list[str] = []

    async def handle(event: ClusterEvent, duplicate: bool) -> None:
        handled.append(event.reason)

    stop = asyncio.Event()
    restarted = intake_mod.Intake(stream, consumer="c1", handle=handle)
    task = asyncio.create_task(restarted.run(stop, block_ms=50))
    for _ in range(100):
        if handled:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert handled == ["CPUThrottlingHigh"] and await stream.backlog() == 0


async def test_a_full_backlog_refuses_instead_of_dropping_and_trim_keeps_unprocessed(store: Store) -> None:
    from aiops import errors

    stream = AlertStream(store, maxlen=3)
    assert await stream.record("p1", b"{}", [("a", 0), ("b", 1)]) == [True, True]
    try:
        await stream.record("p2", b"{}", [("c", 0), ("d", 1)])
    except errors.TemporaryError as exc:
        assert "backlog is full" in str(exc)
    else:
        raise AssertionError("a full backlog must refuse new alerts")
    await stream.ensure_group()
    first, second = await stream.read("c1", block_ms=50)
    await stream.ack(first.id)
    await stream.trim_acknowledged()  # drops the acknowledged one only
    assert [e.id for e in await stream.read("c1", pending=True)] == [second.id]
    assert await stream.record("p3", b"{}", [("c", 0)]) == [True]  # room again
