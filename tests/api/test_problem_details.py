"""API errors are RFC 9457 problem details, declared in the OpenAPI; every answer has an X-Request-ID.

401, 403, 404, 409, 410 and 422 come back as ``application/problem+json`` with ``type``, ``title``,
``status``, ``detail``, ``instance``, the request's id and, for 422, every invalid field. The
request id is the caller's ``X-Request-ID`` when it is sane, a new one otherwise.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from aiops.actions.catalog import Risk
from aiops.api import problems
from aiops.runtime import Services
from tests.api.conftest import AppFactory
from tests.support.operator_fixtures import TOKENS

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id", "errors"}


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == problems.MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) == PROBLEM_KEYS and body["status"] == status
    assert body["title"] and body["detail"] and body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def _request(services: Services, *, risk: Risk = Risk.MEDIUM) -> str:
    request = await services.gate.request(
        run_id=f"run-{uuid.uuid4().hex[:8]}",
        incident_id="inc-0123456789abcdef",
        playbook_id="crash_loop_remediation",
        step_index=2,
        step_name="delete the pod",
        action="delete_pod",
        risk=risk,
        target=None,
        params={"namespace": "shop", "pod": "web-1"},
    )
    return request.id


async def test_401_404_409_422_are_problem_details(api_app: AppFactory) -> None:
    async with api_app() as (services, client):
        no_token = _problem(await client.get("/api/incidents", headers={"Authorization": ""}), 401)
        assert no_token["type"] == "about:blank" and no_token["title"] == "Unauthorized"
        bad_token = await client.get("/api/incidents", headers={"Authorization": "Bearer nope"})
        assert _problem(bad_token, 401)["detail"] == "invalid bearer token"
        assert bad_token.headers["www-authenticate"] == "Bearer"

        missing = _problem(await client.get("/api/approvals/0123abcd"), 404)
        assert missing["detail"] == "no approval request 0123abcd"
        assert "no run run-x" in _problem(await client.get("/api/runs/run-x"), 404)["detail"]
        _problem(await client.get("/api/no/such/path"), 404)

        request_id = await _request(services)
        assert (
            await client.post(f"/api/approvals/{request_id}/approve", json={"reason": "ok"})
        ).status_code == 200
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=services.app),
            base_url="http://aiops",
            headers={"Authorization": f"Bearer {TOKENS['bob']}"},
        ) as bob:
            again = _problem(await bob.post(f"/api/approvals/{request_id}/reject"), 409)
        assert again["type"] == problems.TYPE_PREFIX + "already-decided"
        assert "already approved by alice" in again["detail"]

        invalid = _problem(await client.get("/api/audit", params={"limit": "0"}), 422)
        assert invalid["type"] == problems.TYPE_PREFIX + "invalid-request"
        assert [(e["location"], e["field"]) for e in invalid["errors"]] == [("query", "limit")]
        too_long = await client.post(
            f"/api/approvals/{request_id}/approve", json={"reason": "x" * 1001, "by": 1}
        )
        fields = {(e["location"], e["field"]) for e in _problem(too_long, 422)["errors"]}
        assert fields == {("body", "reason"), ("body", "by")}
        assert all(e["message"] for e in _problem(too_long, 422)["errors"])


async def test_403_and_410_are_problem_details(api_app: AppFactory) -> None:
    approvals = {"ttl_seconds_medium": 1, "approvers_high": ["bob"], "sweep_interval_seconds": 300}
    async with api_app(approvals=approvals) as (services, client):
        high = await _request(services, risk=Risk.HIGH)
        refused = _problem(await client.post(f"/api/approvals/{high}/approve"), 403)
        assert refused["type"] == problems.TYPE_PREFIX + "not-allowed" and "'alice'" in refused["detail"]

        medium = await _request(services)
        await asyncio.sleep(1.2)  # past its 1 s TTL (a wait for the state, not a timing assertion)
        expired = _problem(await client.post(f"/api/approvals/{medium}/approve"), 410)
        assert expired["type"] == problems.TYPE_PREFIX + "approval-expired"


async def test_request_ids_are_kept_when_sane_and_made_otherwise(api_app: AppFactory) -> None:
    async with api_app() as (_, client):
        kept = await client.get("/api/incidents", headers={"X-Request-ID": "req-42.a:b_c"})
        assert kept.status_code == 200 and kept.headers["x-request-id"] == "req-42.a:b_c"
        made = await client.get("/healthz")
        assert uuid.UUID(made.headers["x-request-id"]).version == 4
        for hostile in ("x" * 129, "a b", "id\r\nSet-Cookie: x=1", "<script>", ""):
            answer = await client.get("/api/runs/run-x", headers={"X-Request-ID": hostile})
            assert uuid.UUID(answer.headers["x-request-id"]).version == 4, hostile
            assert answer.json()["request_id"] == answer.headers["x-request-id"]


async def test_the_openapi_description_declares_the_problem_responses(api_app: AppFactory) -> None:
    async with api_app() as (services, _):
        described = services.app.openapi()
    assert set(described["components"]["schemas"]["Problem"]["properties"]) == PROBLEM_KEYS
    expected = {
        ("get", "/api/approvals"): {"401", "422", "503"},
        ("get", "/api/approvals/{request_id}"): {"401", "404", "422", "503"},
        ("post", "/api/approvals/{request_id}/approve"): {"401", "403", "404", "409", "410", "422", "503"},
        ("post", "/api/approvals/{request_id}/reject"): {"401", "403", "404", "409", "410", "422", "503"},
        ("get", "/api/incidents/{incident_id}"): {"401", "404", "422", "503"},
        ("get", "/api/runs/{run_id}"): {"401", "404", "422", "503"},
        ("get", "/api/audit"): {"401", "422", "503"},
        ("post", "/api/webhook/alertmanager"): {"400", "401", "413", "422", "503"},
    }
    for (method, path), statuses in expected.items():
        answers = described["paths"][path][method]["responses"]
        assert statuses <= set(answers), (path, set(answers))
        for status in statuses:
            content = answers[status]["content"]
            assert content == {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (
                path
            )
