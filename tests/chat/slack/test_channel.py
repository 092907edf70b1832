"""SlackChannel against the local Slack mock: the chat.postMessage / chat.update bodies, threads,
and which failures are retried (https://api.slack.com/apis/rate-limits)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from aiops.chat.notifier import DeliveryFailed, DeliveryRetry, MessageLocation, Notifier
from aiops.chat.slack import Slack, SlackChannel, web_client
from aiops.metrics import Metrics
from tests.chat.slack.support import CHANNEL, RecordingClicks, has_buttons, pending_message, settings
from tests.support.ports import free_port
from tests.support.slack_mock import SlackMock, serve_slack_mock


@pytest.fixture
async def slack() -> AsyncIterator[SlackMock]:
    async with serve_slack_mock() as mock:
        yield mock


def _channel(slack: SlackMock, metrics: Metrics | None = None) -> SlackChannel:
    config = settings(slack.api_url)
    return SlackChannel(config, web_client(config), metrics=metrics)


async def test_post_update_and_reply_send_what_slack_expects(slack: SlackMock) -> None:
    metrics = Metrics(CollectorRegistry())
    channel = _channel(slack, metrics)
    assert isinstance(channel, Notifier)
    assert channel.target_for(pending_message()) == CHANNEL
    assert [(limit.per_seconds, limit.max_messages) for limit in channel.limits] == [(1, 1)]
    async with asyncio.timeout(5):
        location = await channel.post(pending_message())
        assert location == MessageLocation(channel="slack", target=CHANNEL, message_id="1700000000.000001")
        decided = pending_message().model_copy(update={"pending": None})
        await channel.update(location, decided)
        await channel.reply(location, "restart: succeeded <3")
    post, reply = slack.bodies("chat.postMessage")
    assert post["channel"] == CHANNEL
    assert post["text"].startswith("[WARNING] crash_loop on Deployment/shop/checkout")
    assert has_buttons(post["blocks"])
    (update,) = slack.bodies("chat.update")
    assert (update["channel"], update["ts"]) == (CHANNEL, "1700000000.000001")
    assert not has_buttons(update["blocks"])
    assert (reply["channel"], reply["thread_ts"], reply["text"]) == (
        CHANNEL,
        "1700000000.000001",
        "restart: succeeded &lt;3",
    )
    sample = metrics.registry.get_sample_value
    assert sample("aiops_chat_messages_total", {"channel": "slack", "op": "post", "outcome": "ok"}) == 1
    assert sample("aiops_chat_messages_total", {"channel": "slack", "op": "reply", "outcome": "ok"}) == 1


async def test_a_429_is_a_retry_after_what_slack_asked_and_is_not_retried_inside(slack: SlackMock) -> None:
    metrics = Metrics(CollectorRegistry())
    channel = _channel(slack, metrics)
    slack.fail_next("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "7"})
    with pytest.raises(DeliveryRetry) as raised:
        async with asyncio.timeout(5):
            await channel.post(pending_message())
    assert raised.value.retry_after_seconds == 7
    assert "ratelimited" in str(raised.value)
    assert slack.methods() == ["chat.postMessage"]
    labels = {"channel": "slack", "op": "post", "outcome": "retry"}
    assert metrics.registry.get_sample_value("aiops_chat_messages_total", labels) == 1


@pytest.mark.parametrize(
    ("status", "error"), [(500, None), (200, "internal_error"), (503, "service_unavailable")]
)
async def test_server_trouble_is_a_retry(slack: SlackMock, status: int, error: str | None) -> None:
    slack.fail_next("chat.update", status=status, error=error)
    location = MessageLocation(channel="slack", target=CHANNEL, message_id="1.2")
    with pytest.raises(DeliveryRetry) as raised:
        async with asyncio.timeout(5):
            await _channel(slack).update(location, pending_message())
    assert raised.value.retry_after_seconds == 0


@pytest.mark.parametrize("error", ["invalid_auth", "channel_not_found", "not_in_channel", "msg_too_long"])
async def test_what_can_never_succeed_is_a_failure(slack: SlackMock, error: str) -> None:
    slack.fail_next("chat.postMessage", error=error)
    with pytest.raises(DeliveryFailed, match=error):
        async with asyncio.timeout(5):
            await _channel(slack).post(pending_message())
    assert slack.methods() == ["chat.postMessage"]


async def test_an_unreachable_api_is_a_retry() -> None:
    config = settings(f"http://127.0.0.1:{free_port()}/api/")
    channel = SlackChannel(config, web_client(config))
    with pytest.raises(DeliveryRetry):
        async with asyncio.timeout(5):
            await channel.reply(MessageLocation(channel="slack", target=CHANNEL, message_id="1.2"), "x")


async def test_the_facade_shares_one_client(slack: SlackMock) -> None:
    facade = Slack(settings(slack.api_url), RecordingClicks())
    assert facade.channel.name == "slack"
    async with asyncio.timeout(5):
        await facade.channel.post(pending_message())
    assert slack.methods() == ["chat.postMessage"]
    paths = [getattr(route, "path", "") for route in facade.http_router().routes]
    assert paths == ["/slack/events"]
