"""A local OpenAI-compatible server for tests: the real ``openai`` SDK talks HTTP to it.

``async with serve_openai_mock() as mock:`` starts a FastAPI app under uvicorn on 127.0.0.1 with
a random port; ``mock.base_url`` is the ``/v1`` root to give the client. Each test scripts the
answers in order with ``mock.script(...)``: :func:`answer` (a chat completion whose content is
the given text: valid JSON, malformed JSON, anything), :func:`error` (an HTTP error in OpenAI's
``{"error": {...}}`` shape, optional headers such as ``Retry-After``) and ``delay_seconds`` on
either (a slow answer, for timeouts). ``mock.requests`` records every request body received, in
order; ``mock.received_text()`` joins them for "was this ever sent?" assertions. An unscripted
request gets a 500 saying so. On exit, slow answers still sleeping are cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass(frozen=True)
class Scripted:
    """One scripted reply: HTTP ``status``, JSON ``body``, extra ``headers``, and a delay (seconds)."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


def answer(
    content: str,
    *,
    prompt_tokens: int = 120,
    completion_tokens: int = 40,
    delay_seconds: float = 0.0,
) -> Scripted:
    """A 200 chat completion whose assistant message is ``content``, with the given usage (tokens)."""
    body = {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "mock-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Scripted(status=200, body=body, delay_seconds=delay_seconds)


def answer_json(payload: Mapping[str, Any], **kwargs: Any) -> Scripted:
    """:func:`answer` with ``payload`` encoded as JSON."""
    return answer(json.dumps(payload), **kwargs)


def error(
    status: int,
    message: str = "mock error",
    *,
    headers: Mapping[str, str] | None = None,
    delay_seconds: float = 0.0,
) -> Scripted:
    """An HTTP error in OpenAI's shape; e.g. ``error(429, headers={"Retry-After": "7"})``."""
    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_exceeded"}
    body = {"error": {"message": message, "type": kind.get(status, "server_error"), "code": None}}
    return Scripted(status=status, body=body, headers=dict(headers or {}), delay_seconds=delay_seconds)


class OpenAIMock:
    """The scripted server's state: the reply queue and the recorded requests."""

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self._replies: deque[Scripted] = deque()
        self._closing = asyncio.Event()
        self.app = FastAPI()
        self.app.add_api_route("/v1/chat/completions", self._chat_completions, methods=["POST"])

    def script(self, *replies: Scripted) -> None:
        """Queue replies; each request consumes the next one."""
        self._replies.extend(replies)

    def received_text(self) -> str:
        """Every recorded request body, JSON-encoded and joined: for "never sent" assertions."""
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in self.requests)

    def messages(self, index: int) -> dict[str, str]:
        """Request ``index``'s messages as ``{role: content}`` (one message per role here)."""
        return {m["role"]: m["content"] for m in self.requests[index]["messages"]}

    async def _chat_completions(self, request: Request) -> JSONResponse:
        self.requests.append(await request.json())
        if not self._replies:
            return JSONResponse(error(500, "no scripted reply left").body, status_code=500)
        reply = self._replies.popleft()
        if reply.delay_seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay_seconds)
        return JSONResponse(reply.body, status_code=reply.status, headers=dict(reply.headers))


@contextlib.asynccontextmanager
async def serve_openai_mock() -> AsyncIterator[OpenAIMock]:
    """Run an :class:`OpenAIMock` on 127.0.0.1:<random port> for the duration of the block."""
    mock = OpenAIMock()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        mock.app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the OpenAI mock server stopped before it started")
            await asyncio.sleep(0.01)
        mock.base_url = f"http://127.0.0.1:{port}/v1"
        yield mock
    finally:
        mock._closing.set()
        server.should_exit = True
        await task
        sock.close()
