"""Socket Mode: an interactive envelope over the local WebSocket (standing in for Slack's, whose
URL comes from apps.connections.open: https://api.slack.com/apis/connections/socket) reaches the
click handler and is acknowledged; stop closes the connection."""

from __future__ import annotations

import asyncio

from aiops.chat.clicks import ClickAnswer, ClickOutcome
from aiops.chat.slack import Slack
from tests.chat.slack.support import REQUEST_ID, RecordingClicks, block_actions, has_buttons, settings
from tests.support.slack_mock import serve_slack_mock


async def test_an_interactive_envelope_reaches_the_handler_and_is_acked() -> None:
    clicks = RecordingClicks(answer=ClickAnswer(outcome=ClickOutcome.VOTED, text="vote 1 of 2 counted"))
    async with serve_slack_mock() as slack, asyncio.timeout(10):
        facade = Slack(settings(slack.api_url, mode="socket"), clicks)
        stop = asyncio.Event()
        running = asyncio.create_task(facade.run(stop))
        envelope_id = await slack.push("interactive", block_actions(approve=True))
        await slack.wait(lambda: any(a.get("envelope_id") == envelope_id for a in slack.acks))
        await clicks.called.wait()
        (click,) = clicks.clicks
        assert (click.request_id, click.approve, click.identity.user_id) == (REQUEST_ID, True, "U0456")
        await slack.wait(lambda: bool(slack.bodies("chat.postEphemeral")))
        assert slack.bodies("chat.postEphemeral")[0]["text"] == "vote 1 of 2 counted"
        (processing,) = slack.bodies("chat.update")
        assert not has_buttons(processing["blocks"])
        assert len(slack.bodies("apps.connections.open")) == 1
        assert slack.connections == 1
        stop.set()
        await running
    assert running.done() and running.exception() is None


async def test_http_mode_run_just_waits_for_stop() -> None:
    async with serve_slack_mock() as slack, asyncio.timeout(5):
        facade = Slack(settings(slack.api_url, mode="http"), RecordingClicks())
        stop = asyncio.Event()
        running = asyncio.create_task(facade.run(stop))
        await asyncio.sleep(0.05)
        assert not running.done()
        stop.set()
        await running
        assert slack.calls == []
