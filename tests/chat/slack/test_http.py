"""HTTP mode: signed interactivity requests through slack-bolt's FastAPI adapter reach the click
handler; forged or stale requests are refused
(https://api.slack.com/authentication/verifying-requests-from-slack)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from aiops.approvals.model import ApprovalState
from aiops.chat.clicks import ClickAnswer, ClickOutcome
from aiops.chat.slack import Slack
from aiops.chat.slack.interactions import STORE_DOWN_TEXT
from aiops.errors import StoreUnavailable
from aiops.metrics import Metrics
from tests.chat import domain
from tests.chat.slack.support import (
    CHANNEL,
    REQUEST_ID,
    SIGNING_SECRET,
    RecordingClicks,
    block_actions,
    has_buttons,
    settings,
    texts,
)
from tests.support.slack_mock import SlackMock, serve_slack_mock


@pytest.fixture
async def slack() -> AsyncIterator[SlackMock]:
    async with serve_slack_mock() as mock:
        yield mock


def _signed(
    payload: dict[str, Any], *, secret: str = SIGNING_SECRET, age_seconds: float = 0
) -> tuple[bytes, dict[str, str]]:
    """The form body Slack posts and its headers, signed as Slack signs: ``v0=`` + HMAC-SHA256 of
    ``v0:<timestamp>:<body>`` with the signing secret."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time() - age_seconds))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


async def _post(facade: Slack, body: bytes, headers: dict[str, str]) -> httpx.Response:
    app = FastAPI()
    app.include_router(facade.http_router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://aiops") as client, asyncio.timeout(5):
        return await client.post("/slack/events", content=body, headers=headers)


def _updates(slack: SlackMock) -> list[dict[str, Any]]:
    return slack.bodies("chat.update")


async def test_a_signed_approve_reaches_the_handler_after_processing(slack: SlackMock) -> None:
    decided = ClickAnswer(outcome=ClickOutcome.DECIDED, text="approved")
    clicks = RecordingClicks(answer=decided)
    slack.groups = {"S0APPROVE": ["U0456"], "S0OTHER": ["U0999"]}
    metrics = Metrics(CollectorRegistry())
    facade = Slack(
        settings(slack.api_url),
        clicks,
        approver_groups=frozenset({"slack-group:S0APPROVE", "slack-group:S0OTHER", "slack:T0001/U0456"}),
        metrics=metrics,
    )
    response = await _post(facade, *_signed(block_actions(approve=True)))
    assert response.status_code == 200
    await slack.wait(lambda: len(clicks.clicks) == 1 and len(_updates(slack)) == 1)
    (click,) = clicks.clicks
    assert click.request_id == REQUEST_ID and click.approve
    identity = click.identity
    assert (identity.channel, identity.user_id, identity.team_id, identity.chat_id) == (
        "slack",
        "U0456",
        "T0001",
        CHANNEL,
    )
    assert identity.groups == ("S0APPROVE",)
    assert identity.display == "<@U0456>"
    assert identity.key() == "slack:T0001/U0456"
    assert click.delivery_id and click.delivery_id.startswith(f"{CHANNEL}/1700000000.000001/U0456/")
    (processing,) = _updates(slack)
    assert (processing["channel"], processing["ts"]) == (CHANNEL, "1700000000.000001")
    assert not has_buttons(processing["blocks"])
    assert "processing <@U0456>" in texts(processing["blocks"])
    # decided: the message is left to the outbox's render of the decision; no ephemeral
    await asyncio.sleep(0.1)
    assert "chat.postEphemeral" not in slack.methods()
    assert len(_updates(slack)) == 1
    labels = {"channel": "slack", "outcome": "decided"}
    assert metrics.registry.get_sample_value("aiops_chat_clicks_total", labels) == 1


async def test_a_refused_click_is_told_why_and_the_buttons_come_back(slack: SlackMock) -> None:
    clicks = RecordingClicks(answer=ClickAnswer(outcome=ClickOutcome.REFUSED, text="you are not an approver"))
    facade = Slack(settings(slack.api_url), clicks)
    response = await _post(facade, *_signed(block_actions(approve=False, channel="C0ELSEWHERE")))
    assert response.status_code == 200
    await slack.wait(lambda: len(_updates(slack)) == 2)
    (click,) = clicks.clicks
    assert not click.approve
    assert click.identity.chat_id == "C0ELSEWHERE"
    (ephemeral,) = slack.bodies("chat.postEphemeral")
    assert ephemeral == {"channel": "C0ELSEWHERE", "user": "U0456", "text": "you are not an approver"}
    processing, restored = _updates(slack)
    assert not has_buttons(processing["blocks"])
    assert has_buttons(restored["blocks"])
    assert slack.methods().index("chat.postEphemeral") < len(slack.methods()) - 1


async def test_a_late_click_is_told_who_decided_and_sees_no_buttons(slack: SlackMock) -> None:
    late = ClickAnswer(
        outcome=ClickOutcome.LATE,
        text="already approved by alice at 15:01Z",
        request=domain.request(REQUEST_ID, state=ApprovalState.APPROVED),
    )
    facade = Slack(settings(slack.api_url), RecordingClicks(answer=late))
    await _post(facade, *_signed(block_actions()))
    await slack.wait(lambda: len(_updates(slack)) == 2)
    assert slack.bodies("chat.postEphemeral")[0]["text"] == "already approved by alice at 15:01Z"
    final = _updates(slack)[-1]["blocks"]
    assert not has_buttons(final)
    assert "already approved by alice at 15:01Z" in texts(final)


async def test_a_store_outage_says_try_again_and_restores_the_buttons(slack: SlackMock) -> None:
    metrics = Metrics(CollectorRegistry())
    clicks = RecordingClicks(error=StoreUnavailable("redis is down"))
    facade = Slack(settings(slack.api_url), clicks, metrics=metrics)
    response = await _post(facade, *_signed(block_actions()))
    assert response.status_code == 200
    await slack.wait(lambda: len(_updates(slack)) == 2)
    assert slack.bodies("chat.postEphemeral")[0]["text"] == STORE_DOWN_TEXT
    assert has_buttons(_updates(slack)[-1]["blocks"])
    labels = {"channel": "slack", "outcome": "error"}
    assert metrics.registry.get_sample_value("aiops_chat_clicks_total", labels) == 1


async def test_a_forged_signature_is_refused_and_reaches_nobody(slack: SlackMock) -> None:
    clicks = RecordingClicks()
    facade = Slack(settings(slack.api_url), clicks)
    response = await _post(facade, *_signed(block_actions(), secret="not-the-secret"))
    assert response.status_code == 401
    await asyncio.sleep(0.1)
    assert clicks.clicks == []
    assert not any(m.startswith("chat.") for m in slack.methods())


async def test_a_stale_timestamp_is_refused(slack: SlackMock) -> None:
    clicks = RecordingClicks()
    facade = Slack(settings(slack.api_url), clicks)
    response = await _post(facade, *_signed(block_actions(), age_seconds=6 * 60))
    assert response.status_code == 401
    fresh_enough = await _post(facade, *_signed(block_actions(), age_seconds=4 * 60))
    assert fresh_enough.status_code == 200
    await slack.wait(lambda: len(clicks.clicks) == 1)


async def test_http_mode_needs_a_signing_secret() -> None:
    config = settings("http://127.0.0.1:9/api/", mode="socket").model_copy(update={"signing_secret": None})
    facade = Slack(config, RecordingClicks())  # built in the running loop, as the runtime builds it
    try:
        with pytest.raises(ValueError, match="SIGNING_SECRET"):
            facade.http_router()
    finally:
        await facade.close()


async def test_the_ack_does_not_wait_for_a_slow_handler(slack: SlackMock) -> None:
    gate = asyncio.Event()
    clicks = RecordingClicks(gate=gate)
    facade = Slack(settings(slack.api_url), clicks)
    response = await _post(facade, *_signed(block_actions()))
    assert response.status_code == 200
    async with asyncio.timeout(5):
        await clicks.called.wait()
    assert len(_updates(slack)) == 1 and "chat.postEphemeral" not in slack.methods()
    gate.set()
    await slack.wait(lambda: len(_updates(slack)) == 2)
