"""Shared pieces of the Slack tests: settings pointed at the mock, a recording click handler,
incident messages, and ``block_actions`` payloads as Slack sends them."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from aiops.chat.clicks import Click, ClickAnswer, ClickOutcome
from aiops.chat.message import IncidentMessage, PendingStep, build_message
from aiops.chat.slack.render import render
from aiops.settings import SlackSettings
from tests.chat import domain

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0CHAN"
REQUEST_ID = "0123456789abcdef0123456789abcdef"


def settings(api_url: str, *, mode: str = "http") -> SlackSettings:
    """Slack settings whose Web API is the mock at ``api_url``."""
    return SlackSettings(
        bot_token=SecretStr("xoxb-test"),
        app_token=SecretStr("xapp-test"),
        signing_secret=SecretStr(SIGNING_SECRET),
        channel=CHANNEL,
        api_url=api_url,
        mode=mode,
    )


def pending_message(
    *, risk: str = "medium", votes: tuple[str, ...] = (), votes_needed: int = 1
) -> IncidentMessage:
    """The domain incident with a pending restart of ``risk``."""
    message = build_message(domain.incident(), runs=[domain.run()], enrichment=domain.enrichment())
    pending = PendingStep(
        request_id=REQUEST_ID,
        step="restart",
        action="restart_deployment",
        risk=risk,
        target=domain.DEPLOY.key,
        expires_at=domain.T0 + timedelta(minutes=15),
        plan=("Plan: restart_deployment on Deployment/shop/checkout", "  1. PATCH /apis/apps/v1/..."),
        votes=votes,
        votes_needed=votes_needed,
    )
    return message.model_copy(update={"pending": pending})


@dataclass
class RecordingClicks:
    """A ClickHandler double: records clicks, answers ``answer`` (or raises ``error``); when
    ``gate`` is given, each call waits for it first (a slow handler)."""

    answer: ClickAnswer = field(
        default_factory=lambda: ClickAnswer(outcome=ClickOutcome.REFUSED, text="you are not an approver")
    )
    error: Exception | None = None
    clicks: list[Click] = field(default_factory=list)
    called: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None

    async def handle(self, click: Click) -> ClickAnswer:
        self.clicks.append(click)
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.answer


def block_actions(
    *,
    approve: bool = True,
    user: str = "U0456",
    team: str = "T0001",
    channel: str = CHANNEL,
    ts: str = "1700000000.000001",
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on the pending message's button
    (https://api.slack.com/reference/interaction-payloads/block-actions)."""
    text, blocks = render(pending_message())
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "aiops"},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": team},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "1234.5678.abcdef",
        "channel": {"id": channel, "name": "incidents"},
        "message": {"type": "message", "ts": ts, "text": text, "blocks": blocks, "user": "UBOT"},
        "actions": [
            {
                "type": "button",
                "action_id": "aiops_approve" if approve else "aiops_reject",
                "block_id": "aiops_decide",
                "value": REQUEST_ID,
                "text": {"type": "plain_text", "text": "Approve" if approve else "Reject"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    """Whether ``blocks`` hold the Approve/Reject actions block."""
    return any(b.get("type") == "actions" for b in blocks)


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text in ``blocks``, as one string (for "is this shown?" assertions)."""
    return json.dumps(blocks, ensure_ascii=False)
