"""A store that does not answer never loses a click silently: the clicker is told to try again,
and an update whose handling failed on the store is handled when it is delivered again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from aiops.chat.clicks import Click, ClickAnswer, ClickOutcome
from aiops.chat.telegram import TelegramChats
from aiops.errors import StoreUnavailable
from aiops.store import Store
from tests.chat.telegram.support import RecordingClicks, approve, callback_update, request_id, settings
from tests.support.ports import free_port
from tests.support.telegram_mock import serve_telegram_mock


@dataclass
class Broken:
    """A ClickHandler with a bug on its first call."""

    calls: int = 0

    async def handle(self, click: Click) -> ClickAnswer:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug")
        return ClickAnswer(outcome=ClickOutcome.DECIDED, text="approved")


@dataclass
class FailingOnce:
    """A ClickHandler whose first call finds Redis down; later calls decide."""

    clicks: list[Click] = field(default_factory=list)

    async def handle(self, click: Click) -> ClickAnswer:
        self.clicks.append(click)
        if len(self.clicks) == 1:
            raise StoreUnavailable("redis is down")
        return ClickAnswer(outcome=ClickOutcome.DECIDED, text="approved")


async def test_a_store_that_is_down_gets_the_clicker_a_try_again() -> None:
    dead = Store.connect(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.5)
    async with serve_telegram_mock() as mock:
        clicks = RecordingClicks()
        chats = TelegramChats(settings(mock.api_url), clicks, dead)
        try:
            async with asyncio.timeout(5):
                await chats.updates.handle(chats.updates.parse(callback_update(1, approve(request_id()))))
        finally:
            await chats.close()
            await dead.close()
        assert clicks.clicks == []
        (answer,) = mock.of("answerCallbackQuery")
        assert "try again" in answer["text"] and answer["show_alert"] is True


async def test_an_update_that_failed_on_the_store_is_handled_when_delivered_again(store: Store) -> None:
    async with serve_telegram_mock() as mock:
        clicks = FailingOnce()
        chats = TelegramChats(settings(mock.api_url), clicks, store)
        rid = request_id()
        update = chats.updates.parse(callback_update(2, approve(rid)))
        try:
            async with asyncio.timeout(5):
                await chats.updates.handle(update)
                await chats.updates.handle(update)
                await chats.updates.handle(update)
        finally:
            await chats.close()
        assert len(clicks.clicks) == 2
        first, second = mock.of("answerCallbackQuery")
        assert "try again" in first["text"] and second["text"] == "approved"
        processing, restored, processing_again = mock.of("editMessageReplyMarkup")
        assert processing == processing_again != restored
        assert restored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == approve(rid)


async def test_an_update_whose_handler_failed_is_not_taken_for_a_duplicate(store: Store) -> None:
    async with serve_telegram_mock() as mock:
        clicks = Broken()
        chats = TelegramChats(settings(mock.api_url), clicks, store)
        update = chats.updates.parse(callback_update(3, approve(request_id())))
        try:
            async with asyncio.timeout(5):
                with pytest.raises(RuntimeError, match="a bug"):
                    await chats.updates.handle(update)
                await chats.updates.handle(update)
        finally:
            await chats.close()
        assert clicks.calls == 2
        assert [a["text"] for a in mock.of("answerCallbackQuery")] == ["approved"]
