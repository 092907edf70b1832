"""Shared pieces of the Telegram tests: the token, a recording ClickHandler double, Update bodies
as Telegram sends them, and a message with a pending step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiops.chat.clicks import Click, ClickAnswer, ClickOutcome, callback_data
from aiops.chat.message import IncidentMessage, PendingStep, build_message
from aiops.settings import TelegramSettings
from tests.chat import domain

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuv"
SECRET = "s3cret-Token_1"
GROUP = -1001234567890
ALICE = 4242


@dataclass
class RecordingClicks:
    """A ClickHandler double: records each click and answers ``outcome`` with ``text``."""

    outcome: ClickOutcome = ClickOutcome.DECIDED
    text: str = "approved"
    clicks: list[Click] = field(default_factory=list)

    async def handle(self, click: Click) -> ClickAnswer:
        self.clicks.append(click)
        return ClickAnswer(outcome=self.outcome, text=self.text)


def settings(api_url: str, **extra: Any) -> TelegramSettings:
    """Enabled Telegram settings against the mock."""
    return TelegramSettings(bot_token=TOKEN, chat_ids=[GROUP, ALICE], api_url=api_url, **extra)


def request_id() -> str:
    """A fresh opaque request id (32 hex digits)."""
    return uuid.uuid4().hex


def pending_message(rid: str, *, votes: tuple[str, ...] = (), needed: int = 1) -> IncidentMessage:
    """The domain message with its pending step's request id set to ``rid``."""
    message = build_message(
        domain.incident(),
        runs=[domain.run()],
        enrichment=domain.enrichment(),
        approvals=[domain.request(rid)],
    )
    assert message.pending is not None
    pending = PendingStep.model_validate(
        {**message.pending.model_dump(), "request_id": rid, "votes": votes, "votes_needed": needed}
    )
    return message.model_copy(update={"pending": pending})


def callback_update(
    update_id: int,
    data: str,
    *,
    user_id: int = ALICE,
    chat_id: int = GROUP,
    username: str | None = "alice",
    message_id: int = 77,
    keyboard_data: str | None = None,
) -> dict[str, Any]:
    """A callback_query Update as Telegram sends it (https://core.telegram.org/bots/api#callbackquery);
    the clicked message carries a keyboard with ``keyboard_data`` (default: ``data``)."""
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Alice"}
    if username:
        user["username"] = username
    button = keyboard_data or data
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq-{update_id}",
            "from": user,
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "supergroup", "title": "oncall"},
                "text": "incident",
                "reply_markup": {"inline_keyboard": [[{"text": "✅ Approve", "callback_data": button}]]},
            },
        },
    }


def approve(rid: str) -> str:
    """The Approve button's callback_data."""
    return callback_data(rid, True)
