"""API errors as problem details: ``application/problem+json`` (RFC 9457, which obsoletes RFC 7807).

Fed by: FastAPI's exception handling (``install`` registers the handlers): ``HTTPException`` (401
from the authenticator, 404 for an unknown path, 413 from the webhook...), request validation
(422, with every invalid field) and the aiops error tree (``aiops.errors``: 404, 409, 410, 403,
503). The webhook builds its own with :func:`response`. Consumed by: every API client; the CLI's
client (``aiops.client``) reads ``detail`` and ``errors``.

A body::

    {"type": "tag:aiops.dev,2025:problem/approval-expired", "title": "Approval request expired",
     "status": 410, "detail": "approval request 3f… expired at 2025-…",
     "instance": "/api/approvals/3f…/approve", "request_id": "…", "errors": []}

``type`` is ``about:blank`` when the status code says it all (RFC 9457 §4.2.1; ``title`` is then
the status phrase), else a ``tag:`` URI (RFC 4151; RFC 9457 §3.1.1 allows URIs that are not meant
to be dereferenced) listed in docs/operations.md. ``errors`` holds the invalid fields of a 400/422:
``{"field": "limit", "location": "query", "message": "..."}``; ``location`` is ``body``, ``query``,
``path`` or ``header``.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiops import correlation, errors

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:aiops.dev,2025:problem/"


class InvalidField(BaseModel):
    """One invalid part of a request: dotted ``field`` path, where it was, and what is wrong."""

    field: str
    location: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details object, with aiops' extension members ``request_id`` (the
    request's ``X-Request-ID``) and ``errors`` (the invalid fields, for 400 and 422)."""

    type: str = Field("about:blank", description="URI reference naming the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time, and what to do.")
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, description="The request's X-Request-ID (grep the logs for it).")
    errors: list[InvalidField] = Field(default_factory=list)


#: The aiops errors the API maps, each with its status and problem type (slug, title).
_TREE: tuple[tuple[type[Exception], int, str, str], ...] = (
    (errors.ApprovalNotFound, 404, "approval-not-found", "Approval request not found"),
    (errors.AlreadyDecided, 409, "already-decided", "Approval request already decided"),
    (errors.ApprovalExpired, 410, "approval-expired", "Approval request expired"),
    (errors.NotAllowed, 403, "not-allowed", "Not allowed to decide this risk"),
    (errors.AlreadyVoted, 409, "already-voted", "Your vote already counts"),
    (errors.StoreUnavailable, 503, "store-unavailable", "Redis unavailable"),
)
#: Problem types for plain HTTP errors that deserve one (others are ``about:blank``).
_HTTP_TYPES = {422: ("invalid-request", "Invalid request"), 400: ("invalid-request", "Invalid request")}
_DESCRIPTIONS = {
    400: "The body is not what the route accepts.",
    401: "Missing or unknown bearer token.",
    403: "Your identity may not do this.",
    404: "No such resource.",
    409: "The approval request was already decided (by whom is in `detail`), or your vote on it "
    "already counts and another approver must vote.",
    410: "The approval request expired before the decision.",
    413: "The body is too large.",
    422: "Invalid parameters or body; `errors` lists every invalid field.",
    503: "Redis does not answer or no API token is configured; retry later.",
}


def response(
    status: int,
    detail: str,
    *,
    request: Request | None = None,
    slug: str | None = None,
    title: str | None = None,
    invalid: Iterable[InvalidField] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response. ``slug`` names the problem type (``about:blank`` when
    None, unless the status has a default type); ``title`` defaults to the type's or the status phrase."""
    if slug is None and status in _HTTP_TYPES:
        slug, title = _HTTP_TYPES[status][0], title or _HTTP_TYPES[status][1]
    problem = Problem(
        type=TYPE_PREFIX + slug if slug else "about:blank",
        title=title or _phrase(status),
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        request_id=correlation.request_id.get(),
        errors=list(invalid),
    )
    return JSONResponse(
        problem.model_dump(mode="json"), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route: each status documented as a problem+json body."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, _phrase(status)),
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


def install(app: FastAPI) -> None:
    """Register the handlers and add the ``Problem`` schema to the app's OpenAPI description."""
    for exc_type, status, slug, title in _TREE:

        async def _tree(
            request: Request, exc: Exception, status: int = status, slug: str = slug, title: str = title
        ) -> JSONResponse:
            return response(status, str(exc), request=request, slug=slug, title=title)

        app.add_exception_handler(exc_type, _tree)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)

    describe = app.openapi

    def openapi() -> dict[str, Any]:
        schema = describe()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    return response(exc.status_code, detail, request=request, headers=dict(exc.headers or {}))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    invalid = list(invalid_fields(exc.errors()))
    names = ", ".join(f"{f.location} {f.field or '(whole)'}" for f in invalid)
    return response(422, f"invalid request: {names}; see errors", request=request, invalid=invalid)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return response(
        500, "internal error; the operator's log has the traceback under this request_id", request=request
    )


def invalid_fields(found: Sequence[Any]) -> Iterable[InvalidField]:
    """FastAPI/pydantic validation errors (``loc``, ``msg``) as :class:`InvalidField` objects."""
    for error in found:
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        path = loc[1:] if loc and loc[0] == location else loc
        yield InvalidField(field=".".join(path), location=location, message=str(error.get("msg", "")))


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"
