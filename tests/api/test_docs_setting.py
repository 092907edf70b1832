"""The OpenAPI description and its pages are a setting, off by default (issue 9, item 8).

Everything under ``/api`` needs a token, and a browser cannot send one to a docs page: so by
default ``/api/openapi.json``, ``/api/docs``, ``/api/redoc`` (and FastAPI's ``/docs``, ``/redoc``)
do not exist for anyone; ``api.docs: true`` serves them.
"""

from __future__ import annotations

import httpx

from tests.api.conftest import AppFactory

DOC_PATHS = ("/api/openapi.json", "/api/docs", "/api/redoc", "/redoc", "/docs", "/openapi.json")


async def test_docs_are_off_by_default_for_strangers_and_token_holders(api_app: AppFactory) -> None:
    async with api_app() as (_, client):
        for path in DOC_PATHS:
            stranger = await client.get(path, headers={"Authorization": ""})
            holder = await client.get(path)
            assert (stranger.status_code, holder.status_code) == (404, 404), path
            assert stranger.headers["content-type"] == "application/problem+json"
        # the API itself still needs its token
        assert (await client.get("/api/approvals", headers={"Authorization": ""})).status_code == 401


async def test_docs_setting_serves_the_description_and_pages(api_app: AppFactory) -> None:
    async with api_app(api={"docs": True}) as (services, _):
        transport = httpx.ASGITransport(app=services.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://aiops") as anonymous:
            described = await anonymous.get("/api/openapi.json")
            assert described.status_code == 200 and "/api/approvals" in described.json()["paths"]
            for page in ("/api/docs", "/api/redoc"):
                assert (await anonymous.get(page)).status_code == 200, page
            assert (await anonymous.get("/redoc")).status_code == 404
