"""Telegram updates in, clicks out: a ``callback_query`` becomes a :class:`aiops.chat.clicks.Click`.

Fed by: the webhook route (:mod:`aiops.chat.telegram.webhook`) and the long-polling loop
(:mod:`aiops.chat.telegram.polling`), with updates parsed by PTB (``telegram.Update.de_json``).
Consumed by: the injected :class:`aiops.chat.clicks.ClickHandler` (the runtime's Decider, which
authorizes, votes, decides and audits), the Bot API (``answerCallbackQuery``,
``editMessageReplyMarkup``) and Redis (one claim per ``update_id``).

For each update (https://core.telegram.org/bots/api#update):

1. It is claimed in Redis by ``update_id`` (``SET NX``, :data:`DEDUP_TTL_SECONDS`); a second
   delivery of the same update (a webhook retried by Telegram, a poller that restarted before
   confirming its offset) is dropped. Update ids are per bot, so the claim names the bot id.
2. Anything but a ``callback_query`` is ignored (setWebhook/getUpdates ask only for those).
3. ``callback_data`` that :func:`aiops.chat.clicks.parse_callback_data` does not know (forged, or
   another bot's) is answered "unknown button" and handled no further; the "processing…" button
   is answered "one moment".
4. The keyboard becomes a single "processing…" button (so nobody double-clicks), the click goes to
   the handler with the clicker's numeric id (``from.id``; the anonymous-admin and service ids of
   :data:`aiops.settings.TELEGRAM_NOT_A_PERSON` are passed on as they are, for the handler to
   refuse and audit), and the answer is shown with ``answerCallbackQuery``
   (https://core.telegram.org/bots/api#answercallbackquery; every callback query must be
   answered, or the client shows a spinner; refusals as an alert).
5. The keyboard comes back when the click did not decide (refused, a vote that needs more, an
   error); after a decision it stays "processing…" until the outbox republishes the message with
   the decision line and no buttons; a late click (decided elsewhere, expired) removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from aiops.chat.clicks import (
    ChatIdentity,
    Click,
    ClickAnswer,
    ClickHandler,
    ClickOutcome,
    parse_callback_data,
)
from aiops.chat.telegram.channel import not_modified
from aiops.chat.telegram.render import NOOP, processing_keyboard
from aiops.errors import StoreUnavailable
from aiops.metrics import Metrics
from aiops.store import Store

__all__ = ["ALLOWED_UPDATES", "DEDUP_TTL_SECONDS", "UpdateHandler"]

log = logging.getLogger(__name__)

#: The only update kind aiops asks Telegram for (setWebhook / getUpdates ``allowed_updates``).
ALLOWED_UPDATES = ("callback_query",)

#: How long an update id is remembered (seconds): Telegram keeps undelivered updates for 24 h
#: (https://core.telegram.org/bots/api#getting-updates).
DEDUP_TTL_SECONDS = 24 * 3600

#: answerCallbackQuery's text limit (0-200 characters).
_ANSWER_CHARS = 200

_UNKNOWN = "Unknown button: it is not one of aiops's approval buttons."
_NOOP_TEXT = "Processing the click, one moment…"
_STORE_DOWN = "aiops cannot reach its store right now: try again in a moment."
_ERROR = "aiops could not handle this click: try again in a moment."


def _display(query: CallbackQuery) -> str:
    user = query.from_user
    return f"@{user.username}" if user.username else user.first_name


class UpdateHandler:
    """Handles updates for one bot (``bot``, ``bot_id``: the numeric part of its token) with
    ``clicks`` (the ClickHandler) and ``store`` (the dedup claims). ``metrics``: counts
    ``chat_clicks_total{channel="telegram",outcome}`` (a :class:`ClickOutcome`, ``unknown`` or
    ``error``). :meth:`handle` never raises for what Telegram or the clicker did."""

    def __init__(
        self,
        bot: Bot,
        bot_id: str,
        clicks: ClickHandler,
        store: Store,
        *,
        metrics: Metrics | None = None,
        dedup_ttl_seconds: int = DEDUP_TTL_SECONDS,
    ) -> None:
        self.bot = bot
        self._bot_id = bot_id
        self._clicks = clicks
        self._store = store
        self._metrics = metrics
        self._ttl = dedup_ttl_seconds

    def parse(self, data: Any) -> Update:
        """An :class:`telegram.Update` from the JSON object Telegram sent. Raises ValueError naming
        what is wrong when ``data`` is not an Update (not an object, no integer ``update_id``, or
        fields PTB cannot read)."""
        if not isinstance(data, dict):
            raise ValueError("an Update is a JSON object")
        if not isinstance(data.get("update_id"), int) or isinstance(data.get("update_id"), bool):
            raise ValueError("an Update has an integer update_id")
        try:
            update = Update.de_json(data, self.bot)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a Telegram Update: {exc}") from exc
        return update

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.chat_clicks_total.labels(channel="telegram", outcome=outcome).inc()

    async def handle(self, update: Update) -> None:
        """Deduplicate on ``update_id``, then handle a callback query (see the module doc). A store
        that is down is reported to the clicker ("try again"). Raises only what the ClickHandler
        raised besides :class:`StoreUnavailable` (the update's claim is dropped first, so a
        redelivery of the update is handled)."""
        query = update.callback_query
        claim = f"telegram:update:{self._bot_id}:{update.update_id}"
        try:
            first = await self._store.claim(claim, "1", ttl_seconds=self._ttl)
        except StoreUnavailable:
            if query is not None:
                self._count("error")
                await self._answer(query, _STORE_DOWN, alert=True)
            return
        if not first:
            self._count(str(ClickOutcome.DUPLICATE))
            return
        if query is None:
            return
        try:
            await self._callback(update.update_id, query)
        except BaseException:  # a bug in the handler, a cancellation: a redelivery may try again
            with contextlib.suppress(StoreUnavailable):
                await self._store.release(claim)
            raise

    async def _callback(self, update_id: int, query: CallbackQuery) -> None:
        if query.data == NOOP:
            await self._answer(query, _NOOP_TEXT, alert=False)
            return
        parsed = parse_callback_data(query.data)
        if parsed is None:
            self._count("unknown")
            await self._answer(query, _UNKNOWN, alert=True)
            return
        request_id, approve = parsed
        message = query.message
        chat_id = str(message.chat.id) if message is not None else None
        before = message.reply_markup if isinstance(message, Message) else None
        click = Click(
            identity=ChatIdentity(
                channel="telegram", user_id=str(query.from_user.id), chat_id=chat_id, display=_display(query)
            ),
            request_id=request_id,
            approve=approve,
            delivery_id=str(update_id),
        )
        # The "processing…" edit runs while the handler decides; it lands before any restore.
        processing = asyncio.ensure_future(self._markup(query, processing_keyboard()))
        try:
            answer = await self._decide(click, update_id)
        finally:
            await processing
        if answer is None:
            self._count("error")
            await self._answer(query, _STORE_DOWN, alert=True)
            await self._markup(query, before)
            return
        self._count(str(answer.outcome))
        await self._answer(query, answer.text, alert=answer.outcome == ClickOutcome.REFUSED)
        if answer.outcome == ClickOutcome.LATE:
            await self._markup(query, None)
        elif answer.outcome != ClickOutcome.DECIDED:
            await self._markup(query, before)

    async def _decide(self, click: Click, update_id: int) -> ClickAnswer | None:
        """The handler's answer; None when the store is down (the update's claim is dropped, so a
        redelivery of the same update is handled)."""
        try:
            return await self._clicks.handle(click)
        except StoreUnavailable:
            log.warning("telegram click on %s: the store is unavailable", click.request_id)
            with contextlib.suppress(StoreUnavailable):
                await self._store.release(f"telegram:update:{self._bot_id}:{update_id}")
            return None

    async def _markup(self, query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
        """Set the keyboard of the clicked message (best effort: a failure is logged, the click goes
        on). None removes it (editMessageReplyMarkup without ``reply_markup``)."""
        message = query.message
        if message is None:
            return
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
            )
        except TelegramError as exc:
            if not not_modified(exc):
                log.info("telegram: could not set the keyboard in chat %s: %s", message.chat.id, exc.message)

    async def _answer(self, query: CallbackQuery, text: str, *, alert: bool) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text=text[:_ANSWER_CHARS], show_alert=alert)
        except TelegramError as exc:
            log.info("telegram: could not answer callback query: %s", exc.message)
