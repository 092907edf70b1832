"""Per-channel rate limits for chat deliveries, kept in Redis so that every replica shares them.

Fed by: the delivery worker (:mod:`aiops.chat.delivery`), which asks :meth:`ChannelLimits.admit`
before each call to a channel, with the target (a Slack channel, a Telegram chat) the call goes
to. Consumed by: the store's rolling windows (``store.record_in_window_if_below``, one sorted set
per limit and target, :mod:`aiops.store.primitives`).

The limits are what the channel declares (:class:`aiops.chat.notifier.RateLimit`): Slack about
1 message per second per channel (https://api.slack.com/apis/rate-limits); Telegram no more than
one message per second in a chat and 20 messages per minute to the same group
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this). A call is
admitted when every limit's window has room, and then counts in every window. The windows are
checked one after the other: a call refused by the second limit has already counted in the
first, which only makes the channel slower than its limit, never faster. A 429 answered anyway
(another client of the same bot token, a limit the service does not publish) is honoured by the
worker through ``Retry-After``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from aiops.chat.notifier import RateLimit
from aiops.store import Store

__all__ = ["ChannelLimits"]


class ChannelLimits:
    """The rate limits of one channel (``channel``: its name) over ``store``'s rolling windows."""

    def __init__(self, store: Store, channel: str, limits: Sequence[RateLimit]) -> None:
        self._store = store
        self._channel = channel
        self._limits = tuple(limits)

    def _window(self, index: int, limit: RateLimit, target: str) -> str:
        scope = target if limit.scope == "target" else "*"
        return f"chat:{self._channel}:{index}:{scope}"

    async def admit(self, target: str, *, now: float) -> bool:
        """True when a call to ``target`` at ``now`` (epoch seconds) fits every limit (it is then
        counted in every window); False when a window is full (ask again later). Raises
        :class:`aiops.errors.StoreUnavailable`."""
        member = uuid.uuid4().hex
        for index, limit in enumerate(self._limits):
            fits = await self._store.record_in_window_if_below(
                self._window(index, limit, target), member, now, limit.per_seconds, limit=limit.max_messages
            )
            if not fits:
                return False
        return True
