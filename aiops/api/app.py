"""The FastAPI application factory: health, readiness, metrics and the ``/api`` routers.

Fed by: the runtime (``aiops.runtime``), which builds the components once and passes them in.
Consumed by: uvicorn, in the same asyncio loop as the kopf operator; the CLI and chat talk to it.

Routes: ``GET /healthz`` (the process is up), ``GET /readyz`` (Kubernetes API and Redis
answer; 503 otherwise), ``GET /metrics`` (Prometheus text format), and under ``/api`` (bearer
token): approvals, incidents, runs, audit. Errors are problem details (``aiops.api.problems``,
RFC 9457): not found 404, already decided 409, expired 410, not allowed 403, invalid 422, Redis
down 503. Every answer carries ``X-Request-ID`` (``aiops.api.middleware``). The OpenAPI
description and its pages (``/api/openapi.json``, ``/api/docs``, ``/api/redoc``) exist only with
``docs=True`` (``api.docs``); otherwise those paths answer 404 like any unknown path.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse

from aiops import errors
from aiops.api import problems, routes
from aiops.api.deps import ApiDeps
from aiops.api.middleware import RequestIdMiddleware


def create_app(
    deps: ApiDeps,
    *,
    webhook: APIRouter | None = None,
    docs: bool = False,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the app. No global state: ``deps`` is reachable from routes as ``app.state.deps``.

    ``webhook``: the Alertmanager receiver router (its own credentials), mounted under ``/api``.
    ``docs``: serve the OpenAPI description and the Swagger UI / ReDoc pages (no token needed).
    ``routers``: the chat channels' routes (``/slack/events``, ``/telegram/webhook``), mounted at
    the root; each verifies its service's signature or secret itself (no bearer token).
    """
    app = FastAPI(
        title="aiops",
        version="0.1.0",
        docs_url="/api/docs" if docs else None,
        redoc_url="/api/redoc" if docs else None,
        openapi_url="/api/openapi.json" if docs else None,
    )
    app.state.deps = deps
    problems.install(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """200 when the Kubernetes API answers and Redis answers and takes writes; else 503 with
        which one and why (``"redis": "refuses writes: READONLY ..."``): a replica after a
        failover or a full Redis answers PING but nothing aiops must store would be kept."""
        kube_ok = await deps.kube_ready()
        store_problem = await deps.store_ready()
        deps.metrics.redis_ready.set(0 if store_problem else 1)
        body = {
            "kubernetes": "ok" if kube_ok else "unreachable",
            "redis": store_problem or "ok",
        }
        return JSONResponse(body, status_code=200 if kube_ok and store_problem is None else 503)

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """The Prometheus text exposition. Each scrape checks Redis first (``aiops_redis_ready``,
        the same check as ``/readyz``) and reads the gauges kept in Redis only when it answers, so
        a scrape during an outage is not held up by store timeouts."""
        store_problem = await deps.store_ready()
        deps.metrics.redis_ready.set(0 if store_problem else 1)
        try:
            if store_problem is None:
                deps.metrics.incidents_open.set(await deps.dedup.open_count())
                deps.metrics.approvals_pending.set(await deps.gate.pending_count())
        except errors.StoreUnavailable:
            pass  # still serve the counters we have
        return Response(deps.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(routes.build_router(deps), prefix="/api")
    if webhook is not None:
        app.include_router(webhook, prefix="/api")
    for router in routers:
        app.include_router(router)
    return app
