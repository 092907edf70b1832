"""Webhook mode through a FastAPI app: the secret header is checked first, bodies are validated,
each update is handled once, and every click is answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aiops.chat.clicks import ClickOutcome, callback_data
from aiops.chat.telegram import TelegramChats
from aiops.metrics import Metrics
from aiops.settings import TELEGRAM_NOT_A_PERSON
from aiops.store import Store
from tests.chat.telegram.support import (
    ALICE,
    GROUP,
    SECRET,
    RecordingClicks,
    approve,
    callback_update,
    request_id,
    settings,
)
from tests.support.telegram_mock import TelegramMock, serve_telegram_mock

HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Rig:
    mock: TelegramMock
    clicks: RecordingClicks
    http: httpx.AsyncClient
    chats: TelegramChats
    metrics: Metrics

    async def send(self, body: Any, *, secret: str | None = SECRET) -> httpx.Response:
        headers = {HEADER: secret} if secret is not None else {}
        async with asyncio.timeout(5):
            return await self.http.post("/telegram/webhook", json=body, headers=headers)


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    async with serve_telegram_mock() as mock:
        clicks = RecordingClicks()
        metrics = Metrics()
        chats = TelegramChats(
            settings(
                mock.api_url,
                mode="webhook",
                webhook_secret=SECRET,
                webhook_url="https://aiops.example/telegram/webhook",
            ),
            clicks,
            store,
            metrics=metrics,
        )
        app = FastAPI()
        app.include_router(chats.webhook_router())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aiops") as http:
            yield Rig(mock, clicks, http, chats, metrics)
        await chats.close()


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
async def test_a_request_without_the_secret_is_forbidden(rig: Rig, secret: str | None) -> None:
    response = await rig.send(callback_update(1, approve(request_id())), secret=secret)
    assert response.status_code == 403
    assert rig.clicks.clicks == [] and rig.mock.calls == []


async def test_a_forbidden_request_is_refused_before_its_body_is_read(rig: Rig) -> None:
    async with asyncio.timeout(5):
        response = await rig.http.post("/telegram/webhook", content=b"{not json", headers={HEADER: "nope"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", "Expecting"), (b"[1, 2]", "JSON object"), (b'{"update_id": "7"}', "integer update_id")],
)
async def test_a_body_that_is_not_an_update_is_a_bad_request(rig: Rig, body: bytes, reason: str) -> None:
    async with asyncio.timeout(5):
        response = await rig.http.post("/telegram/webhook", content=body, headers={HEADER: SECRET})
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert rig.clicks.clicks == []


async def test_a_click_reaches_the_handler_and_is_answered(rig: Rig) -> None:
    rid = request_id()
    response = await rig.send(callback_update(10, approve(rid)))
    assert response.status_code == 200
    (click,) = rig.clicks.clicks
    assert click.request_id == rid and click.approve is True and click.delivery_id == "10"
    assert click.identity.key() == f"telegram:{ALICE}"
    assert (click.identity.chat_id, click.identity.display) == (str(GROUP), "@alice")
    (answer,) = rig.mock.of("answerCallbackQuery")
    assert answer["callback_query_id"] == "cq-10" and answer["text"] == "approved"
    assert answer.get("show_alert") is not True
    edits = rig.mock.of("editMessageReplyMarkup")
    assert edits[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "noop"
    assert len(edits) == 1, "after a decision the outbox republishes the message, not the click"


async def test_a_reject_click_is_a_reject(rig: Rig) -> None:
    rid = request_id()
    await rig.send(callback_update(11, callback_data(rid, False)))
    (click,) = rig.clicks.clicks
    assert (click.request_id, click.approve) == (rid, False)


async def test_a_duplicate_update_is_handled_once(rig: Rig) -> None:
    body = callback_update(12, approve(request_id()))
    first, second = await rig.send(body), await rig.send(body)
    assert first.status_code == second.status_code == 200
    assert len(rig.clicks.clicks) == 1
    assert len(rig.mock.of("answerCallbackQuery")) == 1
    assert rig.metrics.chat_clicks_total.labels(channel="telegram", outcome="duplicate")._value.get() == 1


@pytest.mark.parametrize("data", ["a:not-a-request", "x:" + "0" * 32, "", "a:" + "A" * 32, "rm -rf"])
async def test_a_forged_button_is_answered_unknown_and_not_handled(rig: Rig, data: str) -> None:
    response = await rig.send(callback_update(13, data))
    assert response.status_code == 200
    assert rig.clicks.clicks == []
    (answer,) = rig.mock.of("answerCallbackQuery")
    assert answer["text"].startswith("Unknown button") and answer["show_alert"] is True
    assert rig.mock.of("editMessageReplyMarkup") == []


async def test_the_processing_button_is_answered_and_not_handled(rig: Rig) -> None:
    await rig.send(callback_update(14, "noop"))
    assert rig.clicks.clicks == []
    (answer,) = rig.mock.of("answerCallbackQuery")
    assert answer["text"].startswith("Processing")


async def test_a_refused_click_is_an_alert_and_the_buttons_come_back(rig: Rig) -> None:
    rig.clicks.outcome, rig.clicks.text = ClickOutcome.REFUSED, "you are not an approver of medium-risk steps"
    rid = request_id()
    await rig.send(callback_update(15, approve(rid), user_id=999, username=None))
    (click,) = rig.clicks.clicks
    assert click.identity.user_id == "999" and click.identity.display == "Alice"
    (answer,) = rig.mock.of("answerCallbackQuery")
    assert answer["show_alert"] is True and answer["text"] == "you are not an approver of medium-risk steps"
    processing, restored = rig.mock.of("editMessageReplyMarkup")
    assert processing["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "noop"
    assert restored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == approve(rid)


@pytest.mark.parametrize("not_a_person", sorted(TELEGRAM_NOT_A_PERSON))
async def test_anonymous_admins_and_the_service_account_reach_the_handler_as_they_are(
    rig: Rig, not_a_person: int
) -> None:
    rig.clicks.outcome, rig.clicks.text = ClickOutcome.REFUSED, "anonymous admins cannot approve"
    await rig.send(
        callback_update(16, approve(request_id()), user_id=not_a_person, username="GroupAnonymousBot")
    )
    (click,) = rig.clicks.clicks
    assert click.identity.user_id == str(not_a_person)
    assert rig.mock.of("answerCallbackQuery")[0]["show_alert"] is True


async def test_a_late_click_removes_the_buttons(rig: Rig) -> None:
    rig.clicks.outcome, rig.clicks.text = ClickOutcome.LATE, "already approved by @bob at 15:01Z"
    await rig.send(callback_update(17, approve(request_id())))
    processing, removed = rig.mock.of("editMessageReplyMarkup")
    assert processing["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "noop"
    assert "reply_markup" not in removed
    assert rig.mock.of("answerCallbackQuery")[0]["text"] == "already approved by @bob at 15:01Z"


async def test_an_update_without_a_callback_query_is_ignored(rig: Rig) -> None:
    response = await rig.send(
        {"update_id": 18, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}}}
    )
    assert response.status_code == 200
    assert rig.clicks.clicks == [] and rig.mock.calls == []


async def test_register_webhook_asks_for_callback_queries_with_the_secret(rig: Rig) -> None:
    async with asyncio.timeout(5):
        assert await rig.chats.register_webhook() is True
    (params,) = rig.mock.of("setWebhook")
    assert params["url"] == "https://aiops.example/telegram/webhook"
    assert params["secret_token"] == SECRET and params["allowed_updates"] == ["callback_query"]
