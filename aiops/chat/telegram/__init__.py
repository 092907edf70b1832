"""Telegram: incident messages with Approve/Reject buttons in every configured chat.

Fed by: the runtime, with :class:`aiops.settings.TelegramSettings` (``AIOPS_TELEGRAM__*``), the
:class:`aiops.chat.clicks.ClickHandler` that decides on clicks, the store and the metrics.
Consumed by: the outbox workers (:meth:`TelegramChats.channels`, one
:class:`~aiops.chat.telegram.channel.TelegramChannel` per chat id), the FastAPI app
(:meth:`TelegramChats.webhook_router` in webhook mode) and a background task
(:meth:`TelegramChats.run`: long polling in polling mode). Everything talks to the Bot API
through python-telegram-bot's one shared :class:`telegram.Bot`.

Modules: :mod:`.render` (HTML text and keyboards), :mod:`.channel` (the Notifier),
:mod:`.updates` (callback queries → clicks, dedup on ``update_id``), :mod:`.webhook`,
:mod:`.polling`, :mod:`.bot` (the Bot and token redaction). Setup: ``docs/chat.md``, "Telegram".
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from aiops.chat.clicks import ClickHandler
from aiops.chat.telegram.bot import BotHandle
from aiops.chat.telegram.channel import TelegramChannel
from aiops.chat.telegram.polling import Poller
from aiops.chat.telegram.updates import UpdateHandler
from aiops.chat.telegram.webhook import register_webhook, webhook_router
from aiops.metrics import Metrics
from aiops.settings import TelegramSettings
from aiops.store import Store

__all__ = ["TelegramChannel", "TelegramChats"]


class TelegramChats:
    """The Telegram side of aiops for one bot token. ``settings``: an enabled
    :class:`TelegramSettings` (ValueError when ``bot_token`` is unset); ``clicks``: what decides on
    a click; ``store``: Redis (update dedup); ``metrics``: ``chat_messages_total`` and
    ``chat_clicks_total`` when given; ``poll_timeout_seconds``: the getUpdates long-poll wait.
    Builds no connection until used. Call :meth:`close` at shutdown."""

    def __init__(
        self,
        settings: TelegramSettings,
        clicks: ClickHandler,
        store: Store,
        *,
        metrics: Metrics | None = None,
        poll_timeout_seconds: int = 25,
    ) -> None:
        if settings.bot_token is None:
            raise ValueError("Telegram is not configured: AIOPS_TELEGRAM__BOT_TOKEN is unset")
        self._settings = settings
        self._metrics = metrics
        self._handle = BotHandle(settings.bot_token.get_secret_value(), settings.api_url)
        self.updates = UpdateHandler(self._handle.bot, self._handle.bot_id, clicks, store, metrics=metrics)
        self._poller = Poller(self.updates, timeout_seconds=poll_timeout_seconds)

    def channels(self) -> list[TelegramChannel]:
        """One Notifier per configured chat id (``telegram/<chat id>``), sharing the one Bot."""
        return [
            # Deliveries are counted once, by the delivery worker (aiops.chat.delivery).
            TelegramChannel(self._handle.bot, chat)
            for chat in self._settings.chat_ids
        ]

    def webhook_router(self) -> APIRouter:
        """The ``POST /telegram/webhook`` router (see :mod:`aiops.chat.telegram.webhook`). Raises
        ValueError when no webhook secret is configured."""
        if self._settings.webhook_secret is None:
            raise ValueError("the Telegram webhook needs AIOPS_TELEGRAM__WEBHOOK_SECRET")
        return webhook_router(self.updates, self._settings.webhook_secret)

    async def register_webhook(self) -> bool:
        """setWebhook with ``webhook_url`` and the secret (callback queries only) when a URL is
        configured; False when none is (the webhook was set up by hand). Raises ValueError without
        a secret, :class:`telegram.error.TelegramError` when the Bot API refuses."""
        if not self._settings.webhook_url:
            return False
        if self._settings.webhook_secret is None:
            raise ValueError("the Telegram webhook needs AIOPS_TELEGRAM__WEBHOOK_SECRET")
        await register_webhook(self.updates, self._settings.webhook_url, self._settings.webhook_secret)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Long-poll getUpdates until ``stop`` is set (polling mode). Only one poller may run per
        bot token: with several replicas use the webhook, or poll only on the leader."""
        await self._poller.run(stop)

    async def close(self) -> None:
        """Close the Bot's HTTP connections."""
        await self._handle.close()
