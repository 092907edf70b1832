"""Slack: incident messages with Approve/Reject buttons, and the clicks on them (docs/chat.md).

Fed by: the runtime, which builds one :class:`Slack` from :class:`aiops.settings.SlackSettings`
and the click handler, hands :attr:`Slack.channel` to the delivery workers, runs
:meth:`Slack.run` as a background task (Socket Mode) and mounts :meth:`Slack.http_router` in the
API app (HTTP mode). Consumed by: Slack's Web API and its Socket Mode / HTTP interactivity.

Modules: :mod:`~aiops.chat.slack.render` (Block Kit), :mod:`~aiops.chat.slack.channel` (the
Notifier), :mod:`~aiops.chat.slack.errors` (which failures are retried),
:mod:`~aiops.chat.slack.groups` (user-group membership) and
:mod:`~aiops.chat.slack.interactions` (the bolt app).
"""

from __future__ import annotations

import asyncio

import aiohttp
from fastapi import APIRouter
from slack_sdk.web.async_client import AsyncWebClient

from aiops.chat.clicks import ClickHandler
from aiops.chat.slack.channel import SlackChannel, web_client
from aiops.chat.slack.interactions import SlackInteractions
from aiops.chat.slack.render import processing_blocks, render
from aiops.metrics import Metrics
from aiops.settings import SlackSettings

__all__ = ["Slack", "SlackChannel", "SlackInteractions", "processing_blocks", "render", "web_client"]


class Slack:
    """The Slack channel and its interactions on one Web API client.

    ``settings``: an enabled :class:`aiops.settings.SlackSettings` (bot token, channel, and the app
    token in Socket Mode or the signing secret in HTTP mode); ``clicks``: the click handler (the
    Decider); ``approver_groups``: the approver identities (``slack-group:S…`` ones are resolved,
    others ignored), e.g. ``frozenset(approvals.approvers_medium + approvals.approvers_high)``;
    ``metrics``: counts clicks when given (deliveries are counted by the workers); ``client``: a
    ready Web API client (else :func:`web_client` builds one). Raises ValueError when the settings
    lack the bot token or the channel.
    """

    def __init__(
        self,
        settings: SlackSettings,
        clicks: ClickHandler,
        *,
        approver_groups: frozenset[str] = frozenset(),
        metrics: Metrics | None = None,
        client: AsyncWebClient | None = None,
    ) -> None:
        # One connection pool for every call (closed by :meth:`close`), unless a client is given.
        self._session = aiohttp.ClientSession() if client is None else None
        self.client = client or web_client(settings, session=self._session)
        # Deliveries are counted once, by the delivery worker (aiops.chat.delivery), for every channel.
        self.channel = SlackChannel(settings, self.client)
        self.interactions = SlackInteractions(
            settings, self.client, clicks, approver_groups=approver_groups, metrics=metrics
        )

    def http_router(self) -> APIRouter:
        """``POST /slack/events`` for HTTP mode (see :meth:`SlackInteractions.http_router`)."""
        return self.interactions.http_router()

    async def close(self) -> None:
        """Close the Web API connections this facade opened (none when a client was given)."""
        if self._session is not None:
            await self._session.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve clicks over Socket Mode until ``stop`` (HTTP mode: just wait for it)."""
        await self.interactions.run(stop)
