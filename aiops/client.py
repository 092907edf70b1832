"""A small client for the aiops HTTP API, used by the CLI and the demo's unattended mode.

Fed by: CLI options (``--api-url``, ``--token``). Consumes: ``/api/*`` over HTTP (httpx).
Errors come back as :class:`ApiClientError` with the server's ``detail`` text and status code.
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiClientError(Exception):
    """The API answered with an error (``status``) or could not be reached (``status`` 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail


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
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiClientError(response.status_code, str(detail))
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
