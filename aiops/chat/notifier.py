"""The notifier seam: what a chat channel must do, and how it says a delivery failed.

Fed by: the delivery worker (:mod:`aiops.chat.outbox`), which calls one :class:`Notifier` per
channel with :class:`aiops.chat.message.IncidentMessage` s read from the durable outbox. Consumed
by: the channels (:mod:`aiops.chat.console` today; Slack and Telegram later), which implement it.

A channel posts an incident's message once, edits it in place as it changes (steps run,
decisions land, verification ends, the incident resolves) and replies in its thread with step
results. Where the message lives (:class:`MessageLocation`: a Slack channel and ``ts``, a
Telegram chat and message id) is returned by :meth:`Notifier.post` and kept in Redis by the
outbox, so edits survive restarts and work from any replica.

A channel declares its rate limits (:class:`RateLimit`) and the worker keeps them:
Slack allows about 1 message per second per channel ("Rate limits",
https://api.slack.com/apis/rate-limits); Telegram "no more than one message per second in a
particular chat ... 20 messages per minute to the same group"
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this). A channel that
is told to slow down (HTTP 429 with ``Retry-After``, Telegram's ``parameters.retry_after``) or
fails for now raises :class:`DeliveryRetry` with the seconds to wait; one that can never deliver
this message raises :class:`DeliveryFailed`.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from aiops.chat.message import IncidentMessage
from aiops.errors import PermanentError, TemporaryError

__all__ = ["DeliveryFailed", "DeliveryRetry", "MessageLocation", "Notifier", "RateLimit"]


class MessageLocation(BaseModel):
    """Where one incident's message lives in one channel, opaque to everything but that channel:
    ``channel`` (the channel's name, e.g. ``slack``), ``target`` (a Slack channel id, a Telegram
    chat id, ``console``) and ``message_id`` (a Slack ``ts``, a Telegram message id). Stored as JSON
    in Redis by the outbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    target: str
    message_id: str


class RateLimit(BaseModel):
    """At most ``max_messages`` calls in any ``per_seconds`` (seconds) window, counted per
    ``scope``: ``target`` (per Slack channel or Telegram chat) or ``channel`` (all targets of the
    channel together). Slack: ``RateLimit(per_seconds=1, max_messages=1)``; Telegram: that and
    ``RateLimit(per_seconds=60, max_messages=20)`` for groups."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_seconds: float = Field(gt=0)
    max_messages: int = Field(ge=1)
    scope: Literal["target", "channel"] = "target"


class DeliveryRetry(TemporaryError):
    """A temporary failure: rate-limited (HTTP 429), the service is down or did not answer.
    ``retry_after_seconds``: what the service asked to wait (``Retry-After``), or 0 when it did not
    say (the worker's backoff then decides); also ``delay_seconds``, as every temporary error."""

    def __init__(self, message: str, *, retry_after_seconds: float = 0.0) -> None:
        super().__init__(message, delay_seconds=max(0.0, retry_after_seconds))
        self.retry_after_seconds = max(0.0, retry_after_seconds)


class DeliveryFailed(PermanentError):
    """A permanent failure: this delivery can never succeed (a bad token, a deleted channel, a
    message the service refuses). The worker dead-letters the delivery and logs it."""


@runtime_checkable
class Notifier(Protocol):
    """One chat channel. ``name``: unique among the configured channels (``console``, ``slack``,
    ``telegram``); ``limits``: its rate limits, kept by the worker (may be empty). Every method
    raises :class:`DeliveryRetry` or :class:`DeliveryFailed` and nothing else on failure."""

    @property
    def name(self) -> str:
        """The channel's name: the outbox queue and the locations are keyed by it."""
        ...

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        """The channel's rate limits (the worker waits rather than exceed them)."""
        ...

    def target_for(self, message: IncidentMessage) -> str:
        """Where a new message for this incident goes (a Slack channel, a Telegram chat): the key of
        the per-target rate limits. Pure."""
        ...

    async def post(self, message: IncidentMessage) -> MessageLocation:
        """Post the incident's message; returns where it now lives."""
        ...

    async def update(self, location: MessageLocation, message: IncidentMessage) -> None:
        """Replace the message at ``location`` with this render of it."""
        ...

    async def reply(self, location: MessageLocation, text: str) -> None:
        """Post ``text`` in the thread of (or as a reply to) the message at ``location``."""
        ...
