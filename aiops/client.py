"""A small client for the aiops HTTP API, used by the CLI and the demo.

Fed by: CLI options (``--api-url``, ``--token``). Consumes: ``/api/*`` over HTTP (httpx).
Errors come back as :class:`ApiClientError` with the status code and the server's reason; for
invalid input (400, 422) also the fields the server named, read from the API's
``application/problem+json`` body (RFC 9457, which obsoletes RFC 7807; see ``aiops.api.problems``:
``{"title", "status", "detail", "errors": [{"field", "location", "message"}]}``) or FastAPI's
plain validation body (``{"detail": [{"loc": [...], "msg": ...}]}``). The answer's
``X-Request-ID`` is kept on the error, to find the request in the server's logs.
:class:`ApiClientError` is an :class:`aiops.errors.AiopsError`, like every error aiops raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from aiops import errors

#: Status codes that mean "your input is wrong" (RFC 9110 400, 422): the CLI exits 2 on them.
INVALID_INPUT_STATUSES = frozenset({400, 422})
#: Where a FastAPI validation error ``loc`` starts: the part of the request, not a field name.
_LOCATIONS = {"body": "request body", "query": "query parameter", "path": "path", "header": "header"}


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field the API named: ``field`` (``reason``, ``limit``, ``params.replicas``),
    ``where`` (``request body``, ``query parameter``... or ``""``) and the server's ``message``."""

    field: str
    where: str
    message: str

    def __str__(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"{self.field}{where}: {self.message}"


class ApiClientError(errors.AiopsError):
    """The API answered with an error (``status``) or could not be reached (``status`` 0).

    ``detail`` is the server's reason as text; ``problems`` the invalid fields it named (400, 422);
    ``request_id`` the answer's ``X-Request-ID`` (None when no answer came), shown in the message so
    the request can be found in the server's logs.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        problems: tuple[FieldProblem, ...] = (),
        *,
        request_id: str | None = None,
    ) -> None:
        shown = f"{status}: {detail}" if status else detail
        super().__init__(f"{shown} (request {request_id})" if request_id else shown)
        self.status = status
        self.detail = detail
        self.problems = problems
        self.request_id = request_id

    @property
    def invalid_input(self) -> bool:
        """True for 400 and 422: the request itself was wrong, not the server or the state."""
        return self.status in INVALID_INPUT_STATUSES


def _field_problem(item: object) -> FieldProblem | None:
    """One entry of a validation list: FastAPI's ``{loc, msg}`` or problem+json's ``{field, message}``
    (``detail`` and ``reason`` are read as the message too); a bare string is a field name."""
    if isinstance(item, str):
        return FieldProblem(item, "", "invalid")
    if not isinstance(item, Mapping):
        return None
    loc = item.get("loc")
    where = ""
    if isinstance(loc, list | tuple) and loc:
        parts = [str(part) for part in loc]
        if parts[0] in _LOCATIONS:
            where = _LOCATIONS[parts[0]]
            parts = parts[1:] or parts
        field = ".".join(parts)
    else:
        field = str(item.get("field") or item.get("name") or item.get("pointer") or "")
        location = item.get("location")
        where = _LOCATIONS.get(str(location), str(location)) if location else ""
    message = next(
        (str(item[key]) for key in ("message", "msg", "detail", "reason") if item.get(key)), "invalid"
    )
    return FieldProblem(field or "(request)", where, message)


def parse_error(
    status: int, body: object, text: str = "", *, request_id: str | None = None
) -> ApiClientError:
    """The :class:`ApiClientError` for an error answer: ``body`` is the decoded JSON (or None),
    ``text`` the raw body as a fallback. Accepts FastAPI's ``{"detail": str | [...]}`` and
    RFC 7807 problem details with ``errors`` or ``invalid_fields`` (a list, or ``{field: message}``).
    """
    if not isinstance(body, Mapping):
        return ApiClientError(status, text or f"HTTP {status}", request_id=request_id)
    listed: object = body.get("errors") or body.get("invalid_fields")
    detail = body.get("detail")
    if not listed and isinstance(detail, list):
        listed = detail
    if isinstance(listed, Mapping):
        listed = [{"field": key, "message": value} for key, value in listed.items()]
    problems = tuple(
        p for p in (_field_problem(item) for item in (listed if isinstance(listed, list) else [])) if p
    )
    if problems:
        joined = "; ".join(str(p) for p in problems)
        return ApiClientError(status, "invalid input: " + joined, problems, request_id=request_id)
    summary = detail if isinstance(detail, str) and detail else body.get("title")
    return ApiClientError(
        status, str(summary) if summary else (text or f"HTTP {status}"), request_id=request_id
    )


class AiopsClient:
    """Async client for ``/api``: ``base_url`` like ``http://127.0.0.1:8080``, bearer ``token``."""

    def __init__(self, base_url: str, token: str | None, *, timeout_seconds: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_seconds
        )

    async def __aenter__(self) -> AiopsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiClientError(0, f"cannot reach {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise parse_error(
                response.status_code, body, response.text, request_id=response.headers.get("x-request-id")
            )
        return response.json()

    async def approvals(self, state: str | None = None) -> list[dict[str, Any]]:
        """``GET /api/approvals`` (optionally ``?state=pending``)."""
        params = {"state": state} if state else {}
        result: list[dict[str, Any]] = await self._call("GET", "/api/approvals", params=params)
        return result

    async def approval(self, request_id: str) -> dict[str, Any]:
        """``GET /api/approvals/{id}``."""
        result: dict[str, Any] = await self._call("GET", f"/api/approvals/{request_id}")
        return result

    async def decide(self, request_id: str, *, approve: bool, reason: str | None = None) -> dict[str, Any]:
        """``POST /api/approvals/{id}/approve|reject``; returns ``{request, run}``."""
        verb = "approve" if approve else "reject"
        result: dict[str, Any] = await self._call(
            "POST", f"/api/approvals/{request_id}/{verb}", json={"reason": reason}
        )
        return result

    async def incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        """``GET /api/incidents``."""
        params = {"status": status} if status else {}
        result: list[dict[str, Any]] = await self._call("GET", "/api/incidents", params=params)
        return result

    async def incident(self, incident_id: str) -> dict[str, Any]:
        """``GET /api/incidents/{id}``: ``{incident, runs}``."""
        result: dict[str, Any] = await self._call("GET", f"/api/incidents/{incident_id}")
        return result

    async def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """``GET /api/audit``."""
        result: list[dict[str, Any]] = await self._call("GET", "/api/audit", params={"limit": limit})
        return result
