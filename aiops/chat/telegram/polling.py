"""Polling mode: getUpdates long polling for the bot's callback queries.

Fed by: the Bot API's ``getUpdates`` (https://core.telegram.org/bots/api#getupdates) through
PTB's :meth:`telegram.Bot.get_updates`. Consumed by: the
:class:`aiops.chat.telegram.updates.UpdateHandler`, one update after the other.

Only one poller may run per bot token: Telegram answers a second concurrent getUpdates (or one
while a webhook is set) with 409 Conflict. With several replicas, use the webhook, or let only the
replica that holds leadership poll (a leadership Lease comes with issue 12). At start the poller
deletes any webhook of the bot (as PTB's own ``Updater.start_polling`` does), keeping the pending
updates. Each round asks for updates after the last one handled (``offset = update_id + 1``, which
also confirms the earlier ones to Telegram) and waits up to ``timeout_seconds`` for one; errors
back off (Telegram's ``retry_after`` for a 429, else doubling from 1 s to 30 s); the loop ends as
soon as ``stop`` is set, even in the middle of a long poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import Conflict, RetryAfter, TelegramError

from aiops.chat.telegram.channel import retry_after
from aiops.chat.telegram.updates import ALLOWED_UPDATES, UpdateHandler

__all__ = ["Poller"]

log = logging.getLogger(__name__)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class Poller:
    """Long-polls ``updates.bot`` and hands every update to ``updates``. ``timeout_seconds``: the
    long-poll wait Telegram holds a getUpdates open; ``backoff_seconds``: (first, most) wait after
    a failed round."""

    def __init__(
        self,
        updates: UpdateHandler,
        *,
        timeout_seconds: int = 25,
        backoff_seconds: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self._updates = updates
        self._timeout = timeout_seconds
        self._backoff = backoff_seconds
        self._offset: int | None = None

    @property
    def offset(self) -> int | None:
        """The next update id asked for (None before the first update)."""
        return self._offset

    async def _poll(self, stop: asyncio.Event) -> tuple[Update, ...] | None:
        """One getUpdates; None when ``stop`` was set first (the request is cancelled)."""
        bot = self._updates.bot
        get = asyncio.ensure_future(
            bot.get_updates(offset=self._offset, timeout=self._timeout, allowed_updates=list(ALLOWED_UPDATES))
        )
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({get, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (get, stopped):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if not get.done() or get.cancelled():
            return None
        return get.result()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; never raises for Bot API failures (logged, backed off)."""
        bot = self._updates.bot
        delay = self._backoff[0]
        with contextlib.suppress(TelegramError):
            await bot.delete_webhook(drop_pending_updates=False)
        while not stop.is_set():
            try:
                batch = await self._poll(stop)
            except RetryAfter as exc:
                await _sleep_or_stop(stop, retry_after(exc))
                continue
            except Conflict as exc:
                log.error(
                    "telegram getUpdates conflict (%s): another poller runs with this bot token or a "
                    "webhook is set; only one poller may run per token",
                    exc.message,
                )
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            except TelegramError as exc:
                log.warning("telegram getUpdates failed: %s; again in %.0f s", exc.message, delay)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            if batch is None:
                return
            delay = self._backoff[0]
            for update in batch:
                self._offset = update.update_id + 1
                await self._updates.handle(update)
