"""The Telegram channels behind the real outbox: a post per chat, edits of the same message, a
reply to it, and a 429 honoured through Telegram's retry_after."""

from __future__ import annotations

import asyncio

from aiops.approvals.model import ApprovalState
from aiops.chat.delivery import ChannelWorker
from aiops.chat.hub import Notifications
from aiops.chat.message import build_message
from aiops.chat.telegram import TelegramChats
from aiops.store import Store
from tests.chat import domain
from tests.chat.doubles import Clock
from tests.chat.telegram.support import ALICE, GROUP, RecordingClicks, pending_message, request_id, settings
from tests.support.telegram_mock import serve_telegram_mock


async def test_each_chat_gets_the_post_then_edits_of_it_and_the_replies(store: Store) -> None:
    async with serve_telegram_mock() as mock:
        chats = TelegramChats(settings(mock.api_url), RecordingClicks(), store)
        clock = Clock()
        hub = Notifications(
            store, [ChannelWorker(store, c, clock=clock) for c in chats.channels()], clock=clock
        )
        try:
            async with asyncio.timeout(8):
                rid = request_id()
                await hub.publish(pending_message(rid))
                for worker in hub.workers:
                    await worker.run_once()
                posts = mock.of("sendMessage")
                assert sorted(p["chat_id"] for p in posts) == sorted([GROUP, ALICE])
                ids = {p["chat_id"]: 101 + i for i, p in enumerate(posts)}

                mock.fail("editMessageText", 429, "Too Many Requests: retry after 5", retry_after=5)
                clock.now += 2
                decided = build_message(
                    domain.incident(), approvals=[domain.request(rid, state=ApprovalState.APPROVED)]
                )
                await hub.publish(decided)
                for worker in hub.workers:
                    await worker.run_once()
                clock.now += 6
                for worker in hub.workers:
                    await worker.run_once()
                await hub.reply("inc-1", "run-1:1", "restart: succeeded")
                clock.now += 2
                for worker in hub.workers:
                    await worker.run_once()
        finally:
            await chats.close()
        edits = mock.of("editMessageText")
        assert len(edits) == 3, "one refused with 429, then one per chat"
        assert {(e["chat_id"], e["message_id"]) for e in edits[1:]} == set(ids.items())
        assert all("reply_markup" not in e and "approved by alice" in e["text"] for e in edits)
        replies = [p for p in mock.of("sendMessage") if "reply_parameters" in p]
        assert {(r["chat_id"], r["reply_parameters"]["message_id"]) for r in replies} == set(ids.items())
