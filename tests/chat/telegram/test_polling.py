"""Polling mode: getUpdates long polling picks up queued clicks, confirms them with the offset,
backs off on errors and stops on the stop event, even in the middle of a long poll."""

from __future__ import annotations

import asyncio

from aiops.chat.telegram import TelegramChats
from aiops.store import Store
from tests.chat.telegram.support import RecordingClicks, approve, callback_update, request_id, settings
from tests.support.telegram_mock import serve_telegram_mock


async def test_polling_handles_queued_updates_and_stops_on_the_stop_event(store: Store) -> None:
    async with serve_telegram_mock() as mock:
        clicks = RecordingClicks()
        chats = TelegramChats(settings(mock.api_url), clicks, store, poll_timeout_seconds=10)
        first, second = request_id(), request_id()
        await mock.queue_update(callback_update(500, approve(first)))
        stop = asyncio.Event()
        try:
            async with asyncio.timeout(8):
                task = asyncio.create_task(chats.run(stop))
                await mock.wait_for("answerCallbackQuery", 1)
                await mock.queue_update(callback_update(501, approve(second)))  # wakes a long poll
                await mock.wait_for("answerCallbackQuery", 2)
                await mock.wait_for("getUpdates", 3)
                stop.set()
                await task  # returns although a 10 s long poll was open
        finally:
            await chats.close()
        assert [c.request_id for c in clicks.clicks] == [first, second]
        polls = mock.of("getUpdates")
        assert all(p["allowed_updates"] == ["callback_query"] and p["timeout"] == 10 for p in polls)
        assert polls[0].get("offset") is None and polls[1]["offset"] == 501 and polls[2]["offset"] == 502
        assert mock.of("deleteWebhook") == [{"drop_pending_updates": False}]


async def test_polling_backs_off_after_errors_and_carries_on(store: Store) -> None:
    async with serve_telegram_mock() as mock:
        clicks = RecordingClicks()
        chats = TelegramChats(settings(mock.api_url), clicks, store, poll_timeout_seconds=1)
        mock.fail("getUpdates", 502, "Bad Gateway")
        mock.fail("getUpdates", 429, "Too Many Requests: retry after 1", retry_after=1)
        await mock.queue_update(callback_update(600, approve(request_id())))
        stop = asyncio.Event()
        try:
            async with asyncio.timeout(8):
                task = asyncio.create_task(chats.run(stop))
                await mock.wait_for("answerCallbackQuery", 1, timeout_seconds=7)
                stop.set()
                await task
        finally:
            await chats.close()
        assert len(clicks.clicks) == 1
        assert len(mock.of("getUpdates")) >= 3


async def test_a_stop_during_backoff_ends_the_loop_at_once(store: Store) -> None:
    async with serve_telegram_mock() as mock:
        chats = TelegramChats(settings(mock.api_url), RecordingClicks(), store)
        mock.fail("getUpdates", 409, "Conflict: terminated by other getUpdates request", times=100)
        stop = asyncio.Event()
        try:
            async with asyncio.timeout(3):
                task = asyncio.create_task(chats.run(stop))
                await mock.wait_for("getUpdates", 1)
                stop.set()
                await task
        finally:
            await chats.close()
