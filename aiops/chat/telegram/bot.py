"""The one python-telegram-bot ``Bot`` per token, and keeping its token out of the logs.

Fed by: :class:`aiops.chat.telegram.TelegramChats`, with :class:`aiops.settings.TelegramSettings`.
Consumed by: every Telegram channel (one per chat id), the update handler, the poller and the
webhook registration, which all share the Bot built here.

The Bot API puts the token in every URL (``<api_url>/bot<token>/<method>``,
https://core.telegram.org/bots/api#making-requests). PTB appends the token to ``base_url`` when the
string holds no ``{token}`` (``telegram.Bot``'s ``base_url`` argument), so the base URL given is
``<api_url>/bot``. httpx logs every request URL at INFO and PTB logs its base URL at DEBUG:
:class:`TokenFilter` replaces the token in those loggers' records while the Bot is open.
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.request import HTTPXRequest

__all__ = ["LOGGERS_WITH_URLS", "BotHandle", "TokenFilter"]

#: Loggers that write request URLs (and so the token) into their records.
LOGGERS_WITH_URLS = ("httpx", "telegram.Bot", "telegram.request.BaseRequest", "telegram.request.HTTPXRequest")


class TokenFilter(logging.Filter):
    """Replaces ``token`` with ``<telegram-token>`` in every record it sees (message and args are
    formatted first). Never drops a record."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always True."""
        text = record.getMessage()
        if self._token in text:
            record.msg = text.replace(self._token, "<telegram-token>")
            record.args = None
        return True


class BotHandle:
    """A PTB :class:`telegram.Bot` for ``token`` against ``api_url`` (the Bot API root, e.g.
    ``https://api.telegram.org``; trailing ``/`` ignored), with its own HTTP connection pools
    (``request_timeout_seconds`` for every call; getUpdates adds its long-poll ``timeout``).
    Builds no connection until the first call (no ``getMe`` at start, so a Bot API that is down
    does not stop aiops). :meth:`close` closes the pools and removes the log filter."""

    def __init__(self, token: str, api_url: str, *, request_timeout_seconds: float = 10.0) -> None:
        root = api_url.rstrip("/")
        self._filter = TokenFilter(token)
        for name in LOGGERS_WITH_URLS:
            logging.getLogger(name).addFilter(self._filter)
        t = request_timeout_seconds
        self._requests = (
            HTTPXRequest(read_timeout=t, write_timeout=t, connect_timeout=t, pool_timeout=t),
            HTTPXRequest(connection_pool_size=1, read_timeout=t, write_timeout=t, connect_timeout=t),
        )
        self.bot = Bot(
            token,
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self.bot_id = token.split(":", 1)[0]

    async def close(self) -> None:
        """Close both HTTP pools (idempotent) and stop redacting."""
        for request in self._requests:
            await request.shutdown()
        for name in LOGGERS_WITH_URLS:
            logging.getLogger(name).removeFilter(self._filter)
