"""Approve/Reject clicks in Slack: acknowledged at once, handed to the click handler, answered.

Fed by: Slack's interactivity payloads (``block_actions``,
https://api.slack.com/reference/interaction-payloads/block-actions) through a slack-bolt
``AsyncApp``: over Socket Mode (:meth:`SlackInteractions.run`, slack_bolt's aiohttp
``AsyncSocketModeHandler``; the WebSocket URL comes from ``apps.connections.open`` on the Web API
base URL) or over HTTP (:meth:`SlackInteractions.http_router`, ``POST /slack/events`` through
slack_bolt's FastAPI adapter, which verifies the v0 HMAC-SHA256 signature over the raw body with
the signing secret and refuses timestamps more than 5 minutes old:
https://api.slack.com/authentication/verifying-requests-from-slack). Consumed by: the injected
:class:`aiops.chat.clicks.ClickHandler` (the Decider) and the Web API (``chat.update``,
``chat.postEphemeral``, ``usergroups.users.list``).

For each click on a button (``action_id`` :data:`aiops.chat.clicks.SLACK_APPROVE` or
:data:`~aiops.chat.clicks.SLACK_REJECT`, ``value`` the request id):

1. ``ack()`` first: Slack wants the acknowledgment within 3 seconds
   (https://api.slack.com/interactivity/handling#acknowledgment_response); the app runs with
   ``process_before_response=False``, so the rest runs after the acknowledgment is sent.
2. ``chat.update`` of the clicked message with its buttons replaced by "processing…", so nobody
   clicks twice.
3. A :class:`~aiops.chat.clicks.Click` with the clicker's :class:`~aiops.chat.clicks.ChatIdentity`
   (user and team ids, the channel id the click came from, the configured user groups the user
   is in, ``<@U…>`` as display) and a delivery id (the message ``ts``, the user and the action's
   ``action_ts``), handed to ``ClickHandler.handle``. A click from another channel than
   ``settings.channel`` is handed over too, with its channel id: the handler refuses it by chat.
4. The answer's text is shown to the clicker alone (``chat.postEphemeral``) unless the click
   decided the request (the message itself then says so).
5. The message: after ``decided``/``voted`` the runtime republishes it through the outbox (the
   decision line, the votes); after a refusal, a store outage or any error, the buttons are
   restored from the blocks Slack sent in the payload; after a late or duplicate click on a
   request that is no longer pending, the buttons give way to the answer (who decided, when).

A retried delivery of the same click reaches the handler with the same delivery id, which it
answers ``duplicate``; nothing is done twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from aiops.approvals.model import ApprovalState
from aiops.chat.clicks import (
    SLACK_APPROVE,
    SLACK_REJECT,
    ChatIdentity,
    Click,
    ClickAnswer,
    ClickHandler,
    ClickOutcome,
)
from aiops.chat.slack.groups import GroupMembership
from aiops.chat.slack.render import Block, closed_blocks, processing_blocks
from aiops.errors import StoreUnavailable
from aiops.metrics import Metrics
from aiops.settings import SlackSettings

__all__ = ["EVENTS_PATH", "STORE_DOWN_TEXT", "ClickPayload", "SlackInteractions", "parse_click"]

log = logging.getLogger(__name__)

#: Where Slack posts interactivity payloads in HTTP mode (the manifest's ``request_url``).
EVENTS_PATH = "/slack/events"

#: Told to the clicker when the click handler cannot reach Redis.
STORE_DOWN_TEXT = "aiops cannot reach its store, try again"
#: Told to the clicker when the click handler failed for any other reason.
ERROR_TEXT = "aiops could not handle this click, try again"


@dataclass(frozen=True)
class ClickPayload:
    """What aiops reads from one ``block_actions`` payload: the click, and the clicked message
    (``channel_id``, ``message_ts``, its fallback ``text`` and ``blocks`` as Slack sent them)."""

    click: Click
    channel_id: str
    message_ts: str
    text: str
    blocks: list[Block]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict_list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_click(body: dict[str, Any], groups: Iterable[str] = ()) -> ClickPayload | None:
    """The click in a ``block_actions`` payload ``body`` on one of our buttons in a channel
    message, with the clicker in ``groups``; None when it is not one (no user, no message, a
    foreign action, a malformed body). Source of the fields:
    https://api.slack.com/reference/interaction-payloads/block-actions."""
    actions = [
        a for a in _dict_list(body.get("actions")) if a.get("action_id") in (SLACK_APPROVE, SLACK_REJECT)
    ]
    user, container, message = (
        _dict(body.get("user")),
        _dict(body.get("container")),
        _dict(body.get("message")),
    )
    user_id = _str(user.get("id"))
    channel_id = _str(_dict(body.get("channel")).get("id")) or _str(container.get("channel_id"))
    message_ts = _str(container.get("message_ts")) or _str(message.get("ts"))
    if not actions or user_id is None or channel_id is None or message_ts is None:
        return None
    action = actions[0]
    request_id = _str(action.get("value"))
    if request_id is None:
        return None
    team_id = _str(user.get("team_id")) or _str(_dict(body.get("team")).get("id"))
    action_ts = _str(action.get("action_ts"))
    delivery = (
        f"{channel_id}/{message_ts}/{user_id}/{action_ts}" if action_ts else _str(body.get("trigger_id"))
    )
    at = None
    if action_ts:
        with contextlib.suppress(ValueError):
            at = float(action_ts)
    identity = ChatIdentity(
        channel="slack",
        user_id=user_id,
        team_id=team_id,
        chat_id=channel_id,
        groups=tuple(groups),
        display=f"<@{user_id}>",
    )
    click = Click(
        identity=identity,
        request_id=request_id,
        approve=action.get("action_id") == SLACK_APPROVE,
        delivery_id=delivery,
        at=at,
    )
    blocks = _dict_list(message.get("blocks"))
    return ClickPayload(click, channel_id, message_ts, str(message.get("text") or ""), blocks)


class SlackInteractions:
    """The Slack interaction side: a bolt ``AsyncApp`` on ``client`` (the Web API client, with the
    bot token and ``settings.api_url``) whose Approve/Reject clicks go to ``clicks``.
    ``approver_groups``: the approver identities naming user groups (``slack-group:S…``), whose
    membership is resolved per click (cached 60 s); ``metrics`` counts
    ``chat_clicks_total{channel=slack, outcome}`` (the answer's outcome, or ``error``)."""

    def __init__(
        self,
        settings: SlackSettings,
        client: AsyncWebClient,
        clicks: ClickHandler,
        *,
        approver_groups: frozenset[str] = frozenset(),
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._clicks = clicks
        self._metrics = metrics
        self._groups = GroupMembership(client, approver_groups)
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        # Request verification stays on: bolt skips it for Socket Mode envelopes (they arrive over
        # the app-token WebSocket) and checks every HTTP request against the signing secret.
        self._app = AsyncApp(client=client, signing_secret=secret, process_before_response=False)

        async def on_click(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            await self.handle_payload(body)

        self._app.action(SLACK_APPROVE)(on_click)
        self._app.action(SLACK_REJECT)(on_click)

    @property
    def app(self) -> AsyncApp:
        """The bolt app (its listeners: the two buttons)."""
        return self._app

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.chat_clicks_total.labels(channel="slack", outcome=outcome).inc()

    async def _safe(self, method: str, call: Awaitable[Any]) -> None:
        """A Web API call whose failure is logged, never raised (the click is handled anyway)."""
        try:
            await call
        except Exception as error:
            log.warning("slack %s failed: %s", method, error)

    async def _show(self, payload: ClickPayload, blocks: list[Block]) -> None:
        await self._safe(
            "chat.update",
            self._client.chat_update(
                channel=payload.channel_id, ts=payload.message_ts, text=payload.text, blocks=blocks
            ),
        )

    async def handle_payload(self, body: dict[str, Any]) -> ClickAnswer | None:
        """Steps 2 to 5 of the module docstring for one ``block_actions`` payload (already
        acknowledged); returns the handler's answer (None when the payload was not a click on our
        buttons, or the handler failed). Never raises."""
        payload = parse_click(body)
        if payload is None:
            log.info("slack: an interaction that is not a click on an aiops button was ignored")
            return None
        identity = payload.click.identity
        note = f":hourglass_flowing_sand: processing {identity.display}'s click…"
        _, groups = await asyncio.gather(
            self._show(payload, processing_blocks(payload.blocks, note)), self._groups.of(identity.user_id)
        )
        click = payload.click.model_copy(update={"identity": identity.model_copy(update={"groups": groups})})
        answer: ClickAnswer | None = None
        try:
            answer = await self._clicks.handle(click)
        except StoreUnavailable as error:
            log.warning("slack click on %s: the store is unavailable: %s", click.request_id, error)
            text = STORE_DOWN_TEXT
        except Exception:
            log.exception("slack click on %s failed", click.request_id)
            text = ERROR_TEXT
        else:
            text = answer.text
        self._count(answer.outcome.value if answer else "error")
        if answer is None or answer.outcome != ClickOutcome.DECIDED:
            await self._safe(
                "chat.postEphemeral",
                self._client.chat_postEphemeral(channel=payload.channel_id, user=identity.user_id, text=text),
            )
        restored = self._after(payload, answer)
        if restored is not None:
            await self._show(payload, restored)
        return answer

    @staticmethod
    def _after(payload: ClickPayload, answer: ClickAnswer | None) -> list[Block] | None:
        """The blocks to put back after the click, or None to leave "processing…" until the
        outbox's render of the decision or the vote arrives."""
        if answer is None:
            return payload.blocks
        if answer.outcome in (ClickOutcome.DECIDED, ClickOutcome.VOTED):
            return None
        if answer.request is not None and answer.request.state != ApprovalState.PENDING:
            return closed_blocks(payload.blocks, answer.text)
        return payload.blocks

    def http_router(self) -> APIRouter:
        """A FastAPI router with ``POST /slack/events`` (HTTP mode): slack_bolt's FastAPI adapter
        verifies the signature and the timestamp (401 otherwise) and dispatches to the app.
        Raises ValueError without a signing secret (nothing could be verified)."""
        if self._settings.signing_secret is None or not self._settings.signing_secret.get_secret_value():
            raise ValueError("Slack HTTP mode needs the signing secret (AIOPS_SLACK__SIGNING_SECRET)")
        handler = AsyncSlackRequestHandler(self._app)
        router = APIRouter()

        @router.post(EVENTS_PATH, include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            return await handler.handle(request)

        return router

    async def run(self, stop: asyncio.Event) -> None:
        """In Socket Mode: connect with ``settings.app_token`` (``apps.connections.open`` on the Web
        API base URL, then the WebSocket it names; bolt reconnects by itself) and serve clicks
        until ``stop`` is set, then close. In HTTP mode: wait for ``stop`` (clicks come through
        :meth:`http_router`). Raises ValueError in Socket Mode without an app token."""
        if self._settings.mode != "socket":
            await stop.wait()
            return
        if self._settings.app_token is None:
            raise ValueError("Slack Socket Mode needs an app-level token (AIOPS_SLACK__APP_TOKEN)")
        handler = AsyncSocketModeHandler(
            self._app, app_token=self._settings.app_token.get_secret_value(), web_client=self._client
        )
        connecting = handler.connect_async()  # type: ignore[no-untyped-call]
        connect = asyncio.create_task(connecting, name="slack-socket-mode-connect")
        try:
            await stop.wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            connect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connect
