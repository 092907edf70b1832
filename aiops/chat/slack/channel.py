"""The Slack channel: incident messages posted, edited and answered in threads through the Web API.

Fed by: the delivery worker (:mod:`aiops.chat.delivery`), which calls this
:class:`aiops.chat.notifier.Notifier` with :class:`aiops.chat.message.IncidentMessage` s from the
durable outbox. Consumed by: Slack's Web API through slack_sdk's ``AsyncWebClient`` (its
``base_url`` is ``settings.api_url``, so tests and proxies point it elsewhere).

``post`` is ``chat.postMessage`` (https://api.slack.com/methods/chat.postMessage) into
``settings.channel`` and returns the channel id and ``ts`` Slack answered as the message's
location; ``update`` is ``chat.update`` (https://api.slack.com/methods/chat.update) at that
location; ``reply`` is ``chat.postMessage`` with ``thread_ts``. Slack allows about one message per
second per channel (https://api.slack.com/apis/rate-limits), declared as the channel's limit and
kept by the worker. Failures become :class:`~aiops.chat.notifier.DeliveryRetry` (429 with
``Retry-After``, 5xx, connection errors, timeouts) or :class:`~aiops.chat.notifier.DeliveryFailed`
(every other Slack error) by :func:`aiops.chat.slack.errors.delivery_error`.

The client is built by :func:`web_client` with slack_sdk's own retry handlers switched off: the
outbox already retries with backoff, honours ``Retry-After`` and keeps the order of deliveries; a
second retry loop inside the call would hold the worker's lease while sleeping and hide 429s from
the shared rate-limit windows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import DeliveryFailed, DeliveryRetry, MessageLocation, RateLimit
from aiops.chat.slack.errors import delivery_error
from aiops.chat.slack.render import escape, render
from aiops.metrics import Metrics
from aiops.settings import SlackSettings

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "SlackChannel", "web_client"]

log = logging.getLogger(__name__)

#: How long one Web API call may take (seconds) before it counts as a temporary failure.
DEFAULT_TIMEOUT_SECONDS = 10

#: Longest reply text (characters); Slack truncates a message's text after 40,000
#: (https://api.slack.com/methods/chat.postMessage#truncating).
MAX_REPLY_CHARS = 3000


def web_client(
    settings: SlackSettings,
    *,
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    session: aiohttp.ClientSession | None = None,
) -> AsyncWebClient:
    """slack_sdk's ``AsyncWebClient`` with the bot token, ``base_url`` = ``settings.api_url`` and no
    retry handlers (see the module docstring); ``session``: an aiohttp session whose connections
    every call reuses (without one, slack_sdk opens a session, and a connection, per call). Raises
    ValueError when no bot token is set."""
    if settings.bot_token is None:
        raise ValueError("Slack needs a bot token (AIOPS_SLACK__BOT_TOKEN)")
    base_url = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=base_url,
        timeout=timeout_seconds,
        retry_handlers=[],
        session=session,
    )


class SlackChannel:
    """A :class:`aiops.chat.notifier.Notifier` for Slack: ``settings.channel`` (a channel id) is
    where messages go; ``client`` the Web API client (:func:`web_client`); ``metrics`` counts
    ``chat_messages_total{channel=slack, op, outcome}`` (op post/update/reply, outcome
    ok/retry/failed) when given."""

    def __init__(
        self, settings: SlackSettings, client: AsyncWebClient, *, metrics: Metrics | None = None
    ) -> None:
        if not settings.channel:
            raise ValueError("Slack needs a channel id (AIOPS_SLACK__CHANNEL)")
        self._channel = settings.channel
        self._client = client
        self._metrics = metrics

    @property
    def name(self) -> str:
        """``slack``."""
        return "slack"

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        """One message per second per channel (https://api.slack.com/apis/rate-limits)."""
        return (RateLimit(per_seconds=1, max_messages=1),)

    def target_for(self, message: IncidentMessage) -> str:
        """``settings.channel``: every incident goes to the one configured channel."""
        return self._channel

    async def _call(self, op: str, method: str, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            response = await call()
        except Exception as error:
            mapped = delivery_error(method, error)
            outcome = "retry" if isinstance(mapped, DeliveryRetry) else "failed"
            self._count(op, outcome)
            log.warning("slack %s failed (%s): %s", method, outcome, mapped)
            raise mapped from error
        self._count(op, "ok")
        return response

    def _count(self, op: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.chat_messages_total.labels(channel="slack", op=op, outcome=outcome).inc()

    async def post(self, message: IncidentMessage) -> MessageLocation:
        """``chat.postMessage`` of the rendered message into the channel; returns
        ``(slack, <channel id>, <ts>)``. Raises DeliveryRetry / DeliveryFailed."""
        text, blocks = render(message)
        response = await self._call(
            "post",
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=self._channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            ),
        )
        channel, ts = response.get("channel"), response.get("ts")
        if not channel or not ts:
            self._count("post", "failed")
            raise DeliveryFailed("slack chat.postMessage: the answer has no channel or ts")
        return MessageLocation(channel=self.name, target=str(channel), message_id=str(ts))

    async def update(self, location: MessageLocation, message: IncidentMessage) -> None:
        """``chat.update`` of the message at ``location`` with this render. Raises DeliveryRetry /
        DeliveryFailed (``message_not_found`` when it was deleted)."""
        text, blocks = render(message)
        await self._call(
            "update",
            "chat.update",
            lambda: self._client.chat_update(
                channel=location.target, ts=location.message_id, text=text, blocks=blocks
            ),
        )

    async def reply(self, location: MessageLocation, text: str) -> None:
        """``chat.postMessage`` of ``text`` (escaped, cut to 3000 characters) in the thread of the
        message at ``location``. Raises DeliveryRetry / DeliveryFailed."""
        body = escape(text if len(text) <= MAX_REPLY_CHARS else text[: MAX_REPLY_CHARS - 1] + "…")
        await self._call(
            "reply",
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=location.target, thread_ts=location.message_id, text=body, unfurl_links=False
            ),
        )
