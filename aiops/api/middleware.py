"""``X-Request-ID`` for every HTTP request: the caller's (when sane) or a new one, returned and logged.

Fed by: uvicorn (a pure ASGI middleware, outermost of the app's own). Consumed by: the route
handlers and everything they call, through ``aiops.correlation.request_id`` (log lines, problem
bodies, audit entries and step records), and the caller, who gets the id back in the response's
``X-Request-ID`` header to quote when reporting a problem.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiops import correlation

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Sets :data:`aiops.correlation.request_id` for the request and answers with the header.

    An incoming ``X-Request-ID`` is kept when :func:`aiops.correlation.sane_request_id` accepts it
    (1-128 of ``A-Z a-z 0-9 . _ : -``), so a proxy's or client's id carries through; otherwise a
    new UUID is used.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(HEADER)
        request_id = correlation.sane_request_id(incoming) or correlation.new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        token = correlation.request_id.set(request_id)
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            correlation.request_id.reset(token)
