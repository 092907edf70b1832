"""A local Telegram Bot API for tests: python-telegram-bot talks HTTP to it.

``async with serve_telegram_mock() as mock:`` starts an aiohttp.web server on a free 127.0.0.1
port answering ``POST /bot<token>/<method>`` (https://core.telegram.org/bots/api#making-requests)
for sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, getUpdates,
setWebhook, deleteWebhook and getMe, in the Bot API's ``{"ok": true, "result": ...}`` shape.
``mock.api_url`` is the root to give the bot (``AIOPS_TELEGRAM__API_URL``).

* ``mock.calls``: every call as a :class:`Call` (method, token, params), in order; the params are
  decoded (PTB sends form fields with JSON-encoded objects; JSON bodies are read too).
* ``mock.fail(method, status, description, retry_after=None, times=1)``: the next ``times`` calls of
  ``method`` answer that error (``parameters.retry_after`` for a 429).
* ``mock.queue_update(update)``: served by getUpdates, which honours ``offset`` (drops the updates
  before it) and ``timeout`` (waits up to that many seconds for one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


@dataclass(frozen=True)
class Call:
    """One Bot API call: the method name, the token in the URL, the decoded params."""

    method: str
    token: str
    params: dict[str, Any]


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass
class TelegramMock:
    """The server's state; see the module doc."""

    port: int = 0
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, list[_Failure]] = field(default_factory=dict)
    next_message_id: int = 100
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    called: asyncio.Condition = field(default_factory=asyncio.Condition)
    closing: bool = False

    @property
    def api_url(self) -> str:
        """The Bot API root for the bot (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self.port}"

    def fail(
        self, method: str, status: int, description: str, *, retry_after: int | None = None, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``status`` with ``description``."""
        self.failures.setdefault(method, []).append(_Failure(status, description, retry_after, times))

    async def queue_update(self, update: dict[str, Any]) -> None:
        """Make ``update`` available to getUpdates (and wake a waiting long poll)."""
        async with self.arrived:
            self.updates.append(update)
            self.arrived.notify_all()

    def of(self, method: str) -> list[dict[str, Any]]:
        """The params of every call of ``method``, in order."""
        return [c.params for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, *, timeout_seconds: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until ``method`` was called ``count`` times; its params."""
        async with asyncio.timeout(timeout_seconds):
            async with self.called:
                await self.called.wait_for(lambda: len(self.of(method)) >= count)
        return self.of(method)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        form = await request.post()
        return {key: _decode(str(value)) for key, value in form.items()}

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self.arrived:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout > 0 and not self.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.arrived.wait_for(lambda: bool(self.updates) or self.closing), timeout
                    )
            return list(self.updates)

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        self.next_message_id += 1
        chat_id = int(params["chat_id"])
        return {
            "message_id": self.next_message_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "supergroup" if chat_id < 0 else "private"},
            "text": str(params.get("text", "")),
        }

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one ``/bot<token>/<method>`` call."""
        token = request.match_info["token"]
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, token, params))
        async with self.called:
            self.called.notify_all()
        queued = self.failures.get(method)
        if queued:
            failure = queued[0]
            failure.times -= 1
            if failure.times <= 0:
                queued.pop(0)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return web.json_response(body, status=failure.status)
        result: Any = True
        if method == "sendMessage":
            result = self._message(params)
        elif method in ("editMessageText", "editMessageReplyMarkup"):
            result = {**self._message(params), "message_id": int(params["message_id"])}
        elif method == "getUpdates":
            result = await self._get_updates(params)
        elif method == "getMe":
            result = {
                "id": int(token.split(":")[0]),
                "is_bot": True,
                "first_name": "aiops",
                "username": "aiops_bot",
            }
        elif method not in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        return web.json_response({"ok": True, "result": result})


@contextlib.asynccontextmanager
async def serve_telegram_mock() -> AsyncIterator[TelegramMock]:
    """Run the mock Bot API on a free port for the duration of the block."""
    mock = TelegramMock(port=free_port())
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", mock.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", mock.port)
    await site.start()
    try:
        yield mock
    finally:
        async with mock.arrived:
            mock.closing = True
            mock.arrived.notify_all()
        await runner.cleanup()
