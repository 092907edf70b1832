"""Webhook mode: Telegram posts updates to ``POST /telegram/webhook`` on the API port.

Fed by: Telegram's servers (https://core.telegram.org/bots/api#setwebhook), after
:func:`register_webhook` gave them the public URL and a secret token. Consumed by: the
:class:`aiops.chat.telegram.updates.UpdateHandler`; the router is mounted in the FastAPI app by
the runtime.

Every request must carry the secret in ``X-Telegram-Bot-Api-Secret-Token`` (Telegram sends the
``secret_token`` given to setWebhook in that header); it is compared in constant time
(:func:`hmac.compare_digest`) before the body is read, and anything else gets 403. A body that is
not an Update gets 400 with the reason; otherwise the update is handled in the request (a claim in
Redis, a click handled, two or three short Bot API calls) and answered 200 with an empty body.
Telegram retries a webhook that fails or does not answer; the update's claim makes a retry
harmless. Any number of replicas may serve the webhook (unlike polling).
"""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import SecretStr

from aiops.chat.telegram.updates import ALLOWED_UPDATES, UpdateHandler

__all__ = ["SECRET_HEADER", "WEBHOOK_PATH", "register_webhook", "webhook_router"]

#: The route Telegram posts updates to.
WEBHOOK_PATH = "/telegram/webhook"
#: The header carrying setWebhook's ``secret_token``.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Largest body read (bytes): a callback_query update is a few kilobytes.
MAX_BODY_BYTES = 1 << 20


def webhook_router(updates: UpdateHandler, secret: SecretStr) -> APIRouter:
    """A router with ``POST /telegram/webhook``: 403 without the right secret header (the handler is
    not called), 413 for a body over 1 MiB, 400 for a body that is not an Update, else the update is
    handled and answered 200."""
    expected = secret.get_secret_value().encode()
    router = APIRouter()

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(status_code=403, detail=f"missing or wrong {SECRET_HEADER}")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail="body too large for a Telegram update")
        try:
            update = updates.parse(json.loads(body))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        await updates.handle(update)
        return Response(status_code=200)

    return router


async def register_webhook(updates: UpdateHandler, url: str, secret: SecretStr) -> None:
    """Tell Telegram to post this bot's updates to ``url`` (the public address of
    ``/telegram/webhook``) with ``secret`` as the secret token, callback queries only. Raises
    :class:`telegram.error.TelegramError` when the Bot API refuses (an http URL, a bad port)."""
    await updates.bot.set_webhook(
        url=url, secret_token=secret.get_secret_value(), allowed_updates=list(ALLOWED_UPDATES)
    )
