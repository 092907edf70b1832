"""The Telegram channel against a local Bot API: what post, update and reply send, and how the
Bot API's failures become the outbox's retry or dead letter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from aiops.approvals.model import ApprovalState
from aiops.chat.message import build_message
from aiops.chat.notifier import DeliveryFailed, DeliveryRetry, MessageLocation, Notifier, RateLimit
from aiops.chat.telegram import TelegramChats
from aiops.metrics import Metrics
from aiops.store import Store
from tests.chat import domain
from tests.chat.telegram.support import (
    ALICE,
    GROUP,
    TOKEN,
    RecordingClicks,
    pending_message,
    request_id,
    settings,
)
from tests.support.telegram_mock import TelegramMock, serve_telegram_mock


@pytest.fixture
async def mock() -> AsyncIterator[TelegramMock]:
    async with serve_telegram_mock() as server:
        yield server


@pytest.fixture
async def chats(mock: TelegramMock, store: Store) -> AsyncIterator[TelegramChats]:
    telegram = TelegramChats(settings(mock.api_url), RecordingClicks(), store, metrics=Metrics())
    yield telegram
    await telegram.close()


def _channel(chats: TelegramChats, chat_id: int = GROUP) -> Notifier:
    (channel,) = [c for c in chats.channels() if c.name == f"telegram/{chat_id}"]
    assert isinstance(channel, Notifier)
    return channel


async def test_one_channel_per_chat_with_telegrams_limits(chats: TelegramChats) -> None:
    group, private = chats.channels()
    assert (group.name, private.name) == (f"telegram/{GROUP}", f"telegram/{ALICE}")
    assert group.limits == (
        RateLimit(per_seconds=1, max_messages=1),
        RateLimit(per_seconds=60, max_messages=20),
    )
    assert private.limits == (RateLimit(per_seconds=1, max_messages=1),)
    assert group.target_for(build_message(domain.incident())) == str(GROUP)


async def test_post_sends_html_with_the_approval_buttons(chats: TelegramChats, mock: TelegramMock) -> None:
    rid = request_id()
    async with asyncio.timeout(5):
        location = await _channel(chats).post(pending_message(rid))
    (params,) = mock.of("sendMessage")
    assert mock.calls[0].token == TOKEN
    assert params["chat_id"] == GROUP and params["parse_mode"] == "HTML"
    assert "<b>Waiting for approval: restart</b>" in params["text"]
    buttons = params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == [f"a:{rid}", f"r:{rid}"]
    assert location == MessageLocation(channel=f"telegram/{GROUP}", target=str(GROUP), message_id="101")


async def test_update_edits_in_place_and_removes_the_buttons_after_a_decision(
    chats: TelegramChats, mock: TelegramMock
) -> None:
    location = MessageLocation(channel=f"telegram/{GROUP}", target=str(GROUP), message_id="55")
    decided = build_message(domain.incident(), approvals=[domain.request("r1", state=ApprovalState.APPROVED)])
    async with asyncio.timeout(5):
        await _channel(chats).update(location, decided)
    (params,) = mock.of("editMessageText")
    assert params["chat_id"] == GROUP and params["message_id"] == 55 and params["parse_mode"] == "HTML"
    assert "<b>Decision</b>: restart: approved by alice" in params["text"]
    assert "reply_markup" not in params


async def test_an_unchanged_edit_is_a_success(chats: TelegramChats, mock: TelegramMock) -> None:
    mock.fail(
        "editMessageText", 400, "Bad Request: message is not modified: specified new message content ..."
    )
    location = MessageLocation(channel=f"telegram/{GROUP}", target=str(GROUP), message_id="55")
    async with asyncio.timeout(5):
        await _channel(chats).update(location, build_message(domain.incident()))


async def test_reply_answers_the_incident_message(chats: TelegramChats, mock: TelegramMock) -> None:
    location = MessageLocation(channel=f"telegram/{GROUP}", target=str(GROUP), message_id="55")
    async with asyncio.timeout(5):
        await _channel(chats).reply(location, "restart: succeeded <3/3 ready>")
    (params,) = mock.of("sendMessage")
    assert params["chat_id"] == GROUP and params["text"] == "restart: succeeded <3/3 ready>"
    assert "parse_mode" not in params
    assert params["reply_parameters"] == {"message_id": 55, "allow_sending_without_reply": True}


async def test_flood_control_is_a_retry_after_telegrams_seconds(
    chats: TelegramChats, mock: TelegramMock
) -> None:
    mock.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(DeliveryRetry) as caught:
        async with asyncio.timeout(5):
            await _channel(chats).post(build_message(domain.incident()))
    assert caught.value.retry_after_seconds == 7.0


async def test_a_server_error_is_a_retry(chats: TelegramChats, mock: TelegramMock) -> None:
    mock.fail("sendMessage", 500, "Internal Server Error")
    with pytest.raises(DeliveryRetry) as caught:
        async with asyncio.timeout(5):
            await _channel(chats).post(build_message(domain.incident()))
    assert caught.value.retry_after_seconds == 0.0


@pytest.mark.parametrize(
    ("status", "description"),
    [(400, "Bad Request: chat not found"), (403, "Forbidden: bot was kicked from the supergroup chat")],
)
async def test_a_dead_chat_fails_the_delivery(
    chats: TelegramChats, mock: TelegramMock, status: int, description: str
) -> None:
    mock.fail("sendMessage", status, description)
    with pytest.raises(DeliveryFailed, match="(?i)" + description.split(": ")[1]):
        async with asyncio.timeout(5):
            await _channel(chats).post(build_message(domain.incident()))


async def test_the_token_never_reaches_the_logs(
    mock: TelegramMock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chats = TelegramChats(settings(mock.api_url), RecordingClicks(), store)
    try:
        async with asyncio.timeout(5):
            await _channel(chats).post(build_message(domain.incident()))
    finally:
        await chats.close()
    assert "sendMessage" in caplog.text, "httpx logs each request URL"
    assert TOKEN not in caplog.text and "<telegram-token>" in caplog.text
