"""A small client for the aiops HTTP API, used by the CLI and the demo's unattended mode.

Fed by: CLI options (``--api-url``, ``--token``). Consumes: ``/api/*`` over HTTP (httpx).
Errors come back as :class:`ApiClientError` with the status code and what the server's problem
details (``application/problem+json``, RFC 9457; see ``aiops.api.problems``) say: ``detail``,
the invalid fields and the request id to quote.
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiClientError(Exception):
    """The API answered with an error (``status``) or could not be reached (``status`` 0).

    ``invalid``: the problem's ``errors`` (``{"field", "location", "message"}`` each; empty unless
    400/422). ``request_id``: the answer's ``X-Request-ID``, to find the request in the logs.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        invalid: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.invalid = list(invalid or [])
        self.request_id = request_id
        fields = "; ".join(
            f"{f.get('location', '')} {f.get('field') or '(whole)'}: {f.get('message', '')}".strip()
            for f in self.invalid
        )
        text = f"{detail} ({fields})" if fields else detail
        super().__init__(f"{status}: {text}" if status else text)

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiClientError:
        """The error a non-2xx answer stands for: a problem+json body, or any other body as text."""
        try:
            body = response.json()
        except ValueError:
            body = None
        request_id = response.headers.get("x-request-id")
        if not isinstance(body, dict):
            return cls(response.status_code, response.text or response.reason_phrase, request_id=request_id)
        detail = body.get("detail", response.text)
        invalid = body.get("errors")
        return cls(
            response.status_code,
            detail if isinstance(detail, str) else str(detail),
            invalid=[f for f in invalid if isinstance(f, dict)] if isinstance(invalid, list) else None,
            request_id=request_id,
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
            raise ApiClientError.from_response(response)
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
