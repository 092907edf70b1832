"""A local Slack for tests: the Web API and the Socket Mode WebSocket, on 127.0.0.1.

``async with serve_slack_mock() as slack:`` starts an aiohttp.web server on a free port;
``slack.api_url`` is the Web API base URL to give slack_sdk (``http://127.0.0.1:<port>/api/``).
Every call is recorded in ``slack.calls`` (method name, body as a dict: JSON, form or query
fields merged, with ``blocks`` decoded when sent as a JSON string). The server answers like Slack
(https://api.slack.com/methods): ``chat.postMessage`` (a new ``ts`` per message),
``chat.update``, ``chat.postEphemeral``, ``usergroups.users.list`` (members from
``slack.groups``), ``auth.test`` and ``apps.connections.open`` (whose ``url`` is this server's
WebSocket, ``ws://127.0.0.1:<port>/link``); an unknown method gets ``unknown_method``.
``slack.fail_next(method, status=..., error=..., headers=...)`` makes the next call of that
method answer an error instead (a 429 with ``Retry-After``, a 500, ``invalid_auth``).

Socket Mode (https://api.slack.com/apis/connections/socket): a client that connects to the
WebSocket gets a ``hello``; ``await slack.push(type, payload)`` sends an envelope to the newest
connection and returns its ``envelope_id``; ``slack.acks`` records every envelope the client sent
back (its acknowledgment). ``await slack.wait(predicate)`` polls until a condition holds (5 s at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.ports import free_port

TEAM_ID = "T0001"
BOT_USER_ID = "UBOT"


@dataclass(frozen=True)
class Call:
    """One Web API call: the method name (``chat.update``) and the body fields."""

    method: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """A scripted error answer: HTTP ``status``, Slack ``error`` code (None: no JSON body), headers."""

    status: int
    error: str | None
    headers: dict[str, str]


@dataclass
class SlackMock:
    """The server's state; see the module docstring."""

    port: int
    calls: list[Call] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    _failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: int = 0

    @property
    def api_url(self) -> str:
        """The Web API base URL (with the trailing slash slack_sdk expects)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = "internal_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next call of ``method`` answers ``status`` with ``{"ok": false, "error": error}`` (no
        JSON body when ``error`` is None) and ``headers``."""
        self._failures[method].append(Failure(status, error, dict(headers or {})))

    def bodies(self, method: str) -> list[dict[str, Any]]:
        """The bodies of every call of ``method``, in order."""
        return [c.body for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        """The method names called, in order."""
        return [c.method for c in self.calls]

    async def wait(self, predicate: Callable[[], bool], within_seconds: float = 5.0) -> None:
        """Poll ``predicate`` until true; raises TimeoutError after ``within_seconds``."""
        async with asyncio.timeout(within_seconds):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.01)

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send a Socket Mode envelope of ``kind`` (``interactive``) with ``payload`` to the newest
        connection; returns its envelope id."""
        await self.wait(lambda: bool(self._sockets))
        envelope_id = uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": False,
        }
        await self._sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    def _next_ts(self) -> str:
        self._ts += 1
        return f"1700000000.{self._ts:06d}"

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """What Slack answers to a successful call of ``method`` with ``body``."""
        if method == "chat.postMessage":
            ts = self._next_ts()
            return {
                "ok": True,
                "channel": body.get("channel"),
                "ts": ts,
                "message": {"ts": ts, "text": body.get("text")},
            }
        if method == "chat.update":
            return {
                "ok": True,
                "channel": body.get("channel"),
                "ts": body.get("ts"),
                "text": body.get("text"),
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.groups.get(str(body.get("usergroup")), [])}
        if method == "auth.test":
            return {"ok": True, "url": "https://aiops.slack.com/", "team": "aiops", "user": "aiops",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "BBOT"}  # fmt: skip
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        return {"ok": False, "error": "unknown_method"}


async def _body(request: web.Request) -> dict[str, Any]:
    body: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            body.update(json.loads(raw))
        else:
            body.update(await request.post())
    for name in ("blocks", "attachments"):
        if isinstance(body.get(name), str):
            body[name] = json.loads(body[name])
    return body


def _app(mock: SlackMock) -> web.Application:
    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _body(request)
        mock.calls.append(Call(method, body))
        failures = mock._failures.get(method)
        if failures:
            failure = failures.popleft()
            if failure.error is None:
                return web.Response(status=failure.status, text="upstream error", headers=failure.headers)
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=failure.headers
            )
        return web.json_response(mock.answer(method, body))

    async def link(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        mock.connections += 1
        mock._sockets.append(socket)
        await socket.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    mock.acks.append(json.loads(message.data))
        finally:
            mock._sockets.remove(socket)
        return socket

    app = web.Application()
    app.router.add_post("/api/{method}", api)
    app.router.add_get("/api/{method}", api)
    app.router.add_get("/link", link)
    return app


@contextlib.asynccontextmanager
async def serve_slack_mock() -> AsyncIterator[SlackMock]:
    """Start the mock on a free port; stop it (closing open WebSockets) on exit."""
    mock = SlackMock(port=free_port())
    runner = web.AppRunner(_app(mock), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", mock.port)
    await site.start()
    try:
        yield mock
    finally:
        for socket in list(mock._sockets):
            await socket.close()
        await runner.cleanup()
