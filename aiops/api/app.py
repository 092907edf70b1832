"""The FastAPI application factory: health, readiness, metrics and the ``/api`` routers.

Fed by: the runtime (``aiops.runtime``), which builds the components once and passes them in.
Consumed by: uvicorn, in the same asyncio loop as the kopf operator; the CLI and chat talk to it.

Routes: ``GET /healthz`` (the process is up), ``GET /readyz`` (Kubernetes API and Redis
answer; 503 otherwise), ``GET /metrics`` (Prometheus text format), and under ``/api`` (bearer
token): approvals, incidents, runs, audit. Errors map to status codes as the error tree says:
not found 404, already decided 409, expired 410, not allowed 403, Redis down 503.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from aiops import errors
from aiops.api import routes
from aiops.api.deps import ApiDeps

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (errors.ApprovalNotFound, 404),
    (errors.AlreadyDecided, 409),
    (errors.ApprovalExpired, 410),
    (errors.NotAllowed, 403),
    (errors.StoreUnavailable, 503),
)


def create_app(deps: ApiDeps, *, webhook: APIRouter | None = None) -> FastAPI:
    """Build the app. No global state: ``deps`` is reachable from routes as ``app.state.deps``.

    ``webhook``: the Alertmanager receiver router (its own credentials), mounted under ``/api``.
    """
    app = FastAPI(title="aiops", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.deps = deps

    for exc_type, code in _STATUS:

        def _handler(_: Request, exc: Exception, code: int = code) -> JSONResponse:
            return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=code)

        app.add_exception_handler(exc_type, _handler)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        kube_ok = await deps.kube_ready()
        store_ok = await deps.store_ready()
        body = {
            "kubernetes": "ok" if kube_ok else "unreachable",
            "redis": "ok" if store_ok else "unreachable",
        }
        return JSONResponse(body, status_code=200 if kube_ok and store_ok else 503)

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        try:
            deps.metrics.incidents_open.set(await deps.dedup.open_count())
            deps.metrics.approvals_pending.set(await deps.gate.pending_count())
        except errors.StoreUnavailable:
            pass  # still serve the counters we have
        return Response(deps.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(routes.build_router(deps), prefix="/api")
    if webhook is not None:
        app.include_router(webhook, prefix="/api")
    return app
