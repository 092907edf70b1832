"""The console channel renders the whole message, and works as a channel through the outbox."""

from __future__ import annotations

from rich.console import Console

from aiops.approvals.model import ApprovalState
from aiops.chat.console import ConsoleChannel, render
from aiops.chat.delivery import ChannelWorker
from aiops.chat.hub import Notifications
from aiops.chat.message import build_message
from aiops.chat.notifier import Notifier
from aiops.store import Store
from tests.chat import domain
from tests.chat.doubles import Clock


def _text(console: Console) -> str:
    return " ".join(console.export_text().split())


def test_render_shows_every_part_of_the_message() -> None:
    message = build_message(
        domain.incident(count=3),
        runs=[domain.run()],
        enrichment=domain.enrichment(),
        approvals=[domain.request("req-1", minutes=5), domain.request("old", state=ApprovalState.REJECTED)],
    )
    console = Console(record=True, width=200)
    console.print(render(message))
    text = _text(console)
    for expected in (
        "[WARNING] crash_loop on Deployment/shop/checkout — open",
        "incident inc-1 · BackOff ×3",
        "restarts: 7",
        "• java_oom (error) ×40: java_oom sample",
        "RCA: The JVM runs out of heap. (out_of_memory, confidence 80%)",
        "409 Conflict: the object changed",
        "Waiting for approval: restart (restart_deployment, medium) on Deployment/shop/checkout",
        "request req-1",
        "PATCH /apis/apps/v1/namespaces/shop/deployments/checkout",
        "Decision: restart: rejected by alice",
    ):
        assert expected in text, expected


def test_a_bare_incident_renders_without_the_missing_parts() -> None:
    console = Console(record=True, width=200)
    console.print(render(build_message(domain.incident()), note="updated"))
    text = _text(console)
    assert "(updated)" in text
    assert "RCA" not in text and "Steps" not in text and "Waiting" not in text and "Decision" not in text


async def test_the_console_channel_posts_updates_and_replies_through_the_outbox(store: Store) -> None:
    console = Console(record=True, width=200)
    channel = ConsoleChannel(console)
    assert isinstance(channel, Notifier)
    clock = Clock()
    chat = Notifications(store, [ChannelWorker(store, channel, clock=clock)], clock=clock)
    await chat.publish(build_message(domain.incident(count=1)))
    await chat.workers[0].run_once()
    await chat.publish(build_message(domain.incident(count=2)))
    await chat.reply("inc-1", "run-1:0", "logs: read 200 lines")
    await chat.workers[0].run_once()
    text = _text(console)
    assert text.count("crash_loop on Deployment/shop/checkout") == 2
    assert "(updated)" in text and "BackOff ×2" in text
    assert "↳ #1 logs: read 200 lines" in text


async def test_changes_only_skips_updates_whose_gist_did_not_change() -> None:
    console = Console(record=True, width=200)
    channel = ConsoleChannel(console, changes_only=True)
    first = build_message(domain.incident(count=1), runs=[domain.run()])
    location = await channel.post(first)
    await channel.update(location, build_message(domain.incident(count=2), runs=[domain.run()]))
    assert _text(console).count("(updated)") == 0  # only the count moved
    decided = build_message(
        domain.incident(count=2),
        runs=[domain.run()],
        approvals=[domain.request("req-1", state=ApprovalState.APPROVED)],
    )
    await channel.update(location, decided)
    await channel.update(location, decided)
    assert _text(console).count("(updated)") == 1
    loud = ConsoleChannel(Console(record=True, width=200))
    where = await loud.post(first)
    await loud.update(where, first)
    assert "(updated)" in _text(loud._console)
