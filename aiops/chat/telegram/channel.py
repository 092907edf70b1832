"""One Telegram chat as a :class:`aiops.chat.notifier.Notifier`: post, edit in place, reply.

Fed by: the delivery worker (:class:`aiops.chat.delivery.ChannelWorker`), one per chat, with the
:class:`aiops.chat.message.IncidentMessage` s of the outbox. Consumed by: the Bot API through
python-telegram-bot's :class:`telegram.Bot` (shared by every chat of the token):
``sendMessage`` (https://core.telegram.org/bots/api#sendmessage), ``editMessageText``
(https://core.telegram.org/bots/api#editmessagetext) and a ``sendMessage`` with
``reply_parameters`` for replies (https://core.telegram.org/bots/api#replyparameters).

Rate limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
at most one message per second in a chat, and 20 per minute in a group (negative chat ids).
Failures map onto the outbox's two kinds (:func:`delivery_error`): ``RetryAfter`` (HTTP 429,
``parameters.retry_after``), timeouts and other network or 5xx errors are retried; ``BadRequest``
(chat not found, message to edit not found), ``Forbidden`` (bot blocked or removed from the
group), an invalid token and a group migrated to a supergroup (the configured id is dead) are
not. An edit answered "message is not modified" already shows this render: a success.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Literal, TypeVar

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import DeliveryFailed, DeliveryRetry, MessageLocation, RateLimit
from aiops.chat.telegram.render import keyboard, render_text
from aiops.metrics import Metrics

__all__ = [
    "GROUP_LIMIT",
    "PER_CHAT_LIMIT",
    "TelegramChannel",
    "delivery_error",
    "not_modified",
    "retry_after",
]

#: One message per second in a chat.
PER_CHAT_LIMIT = RateLimit(per_seconds=1, max_messages=1)
#: 20 messages per minute in a group.
GROUP_LIMIT = RateLimit(per_seconds=60, max_messages=20)

_T = TypeVar("_T")
Op = Literal["post", "update", "reply"]


def retry_after(exc: RetryAfter) -> float:
    """The seconds Telegram asked to wait (``parameters.retry_after``), as a float. PTB 22 returns
    an int or a timedelta depending on ``PTB_TIMEDELTA`` and warns when it is an int; both read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def not_modified(exc: TelegramError) -> bool:
    """Whether an edit failed only because the message already shows this text and keyboard
    (``400 Bad Request: message is not modified``)."""
    return isinstance(exc, BadRequest) and "message is not modified" in exc.message.lower()


def delivery_error(exc: TelegramError, what: str) -> DeliveryRetry | DeliveryFailed:
    """The outbox error for a Bot API failure while doing ``what`` (e.g. ``sendMessage to -100…``):
    :class:`DeliveryRetry` (with ``retry_after_seconds`` for a 429) for flood control, timeouts,
    network and server errors; :class:`DeliveryFailed` for bad requests, forbidden (blocked, kicked),
    an invalid token, a migrated group and an unknown method."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after(exc)
        return DeliveryRetry(f"{what}: flood control, retry after {seconds:g} s", retry_after_seconds=seconds)
    if isinstance(exc, ChatMigrated):
        return DeliveryFailed(
            f"{what}: the group became supergroup {exc.new_chat_id}; put that id in AIOPS_TELEGRAM__CHAT_IDS"
        )
    if isinstance(exc, BadRequest | Forbidden | InvalidToken | EndPointNotFound):
        return DeliveryFailed(f"{what}: {exc.message}")
    if isinstance(exc, NetworkError):  # TimedOut, connection errors, 5xx
        return DeliveryRetry(f"{what}: {exc.message}")
    return DeliveryRetry(f"{what}: {exc.message}")


class TelegramChannel:
    """The :class:`aiops.chat.notifier.Notifier` of one chat (``chat_id``: a user id for a private
    chat, negative for groups) over a shared PTB ``bot``. Name ``telegram/<chat_id>`` (the outbox
    allows no ``:`` in a channel name); locations are ``(name, str(chat_id), str(message_id))``.
    ``metrics``: counts ``chat_messages_total{channel,op,outcome}`` when given."""

    def __init__(self, bot: Bot, chat_id: int, *, metrics: Metrics | None = None) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._name = f"telegram/{chat_id}"
        self._metrics = metrics

    @property
    def name(self) -> str:
        """``telegram/<chat_id>``: the outbox queue of this chat."""
        return self._name

    @property
    def chat_id(self) -> int:
        """The chat this channel posts to."""
        return self._chat_id

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        """1 message/s; and 20 messages/min for a group (negative id)."""
        return (PER_CHAT_LIMIT, GROUP_LIMIT) if self._chat_id < 0 else (PER_CHAT_LIMIT,)

    def target_for(self, message: IncidentMessage) -> str:
        """The chat id as text: every message of this channel goes to its one chat."""
        return str(self._chat_id)

    def _count(self, op: Op, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.chat_messages_total.labels(channel=self._name, op=op, outcome=outcome).inc()

    async def _call(self, op: Op, what: str, call: Callable[[], Awaitable[_T]]) -> _T | None:
        try:
            result = await call()
        except TelegramError as exc:
            if op == "update" and not_modified(exc):
                self._count(op, "ok")
                return None
            error = delivery_error(exc, f"{what} in chat {self._chat_id}")
            self._count(op, "retry" if isinstance(error, DeliveryRetry) else "failed")
            raise error from exc
        self._count(op, "ok")
        return result

    async def post(self, message: IncidentMessage) -> MessageLocation:
        """``sendMessage`` (HTML, buttons for a pending step); returns the chat and message id.
        Raises :class:`DeliveryRetry` / :class:`DeliveryFailed`."""
        sent = await self._call(
            "post",
            "sendMessage",
            lambda: self._bot.send_message(
                self._chat_id,
                render_text(message),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(message),
            ),
        )
        if not isinstance(sent, Message):
            raise DeliveryFailed(f"sendMessage in chat {self._chat_id} returned no message")
        return MessageLocation(channel=self._name, target=str(self._chat_id), message_id=str(sent.message_id))

    async def update(self, location: MessageLocation, message: IncidentMessage) -> None:
        """``editMessageText`` of the message at ``location`` with this render and its keyboard (none
        once nothing is pending: an edit without ``reply_markup`` removes the buttons). "Not
        modified" is a success. Raises :class:`DeliveryRetry` / :class:`DeliveryFailed`."""
        markup = keyboard(message)
        await self._call(
            "update",
            "editMessageText",
            lambda: self._bot.edit_message_text(
                render_text(message),
                chat_id=location.target,
                message_id=_message_id(location),
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            ),
        )

    async def reply(self, location: MessageLocation, text: str) -> None:
        """``sendMessage`` of ``text`` (plain, escaped by Telegram's absence of parse_mode) as a reply
        to the message at ``location`` (sent anyway if that message is gone). Raises
        :class:`DeliveryRetry` / :class:`DeliveryFailed`."""
        reply_to = ReplyParameters(message_id=_message_id(location), allow_sending_without_reply=True)
        await self._call(
            "reply",
            "sendMessage (reply)",
            lambda: self._bot.send_message(location.target, text[:4096], reply_parameters=reply_to),
        )


def _message_id(location: MessageLocation) -> int:
    try:
        return int(location.message_id)
    except ValueError as exc:
        raise DeliveryFailed(f"not a Telegram message id: {location.message_id!r}") from exc
