"""ASGI apps for the webhook ingest benchmark, served by uvicorn in a separate process.

``receiver``: the real receiver (``aiops.api.webhook``) recording into Redis through the intake,
exactly as ``aiops run`` mounts it (minus the operator), with the same GC tuning and the same
scrubbing of each body before it is recorded.
``bare``: a FastAPI endpoint that only
parses the same payload with the same pydantic model, the ceiling for comparison.
Environment: ``REDIS_URL``, ``BENCH_PREFIX`` (key prefix), ``BENCH_TOKEN`` (bearer token).
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from aiops import runtime
from aiops.api import webhook
from aiops.enrichment.scrub import Scrubber
from aiops.settings import AlertmanagerSettings
from aiops.sources.alertmanager import intake as intake_mod
from aiops.sources.alertmanager import parse_payload
from aiops.store import Store
from aiops.store.alerts import AlertStream


def receiver() -> FastAPI:
    """The real receiver on Redis."""
    store = Store.connect(os.environ["REDIS_URL"], prefix=os.environ["BENCH_PREFIX"])
    intake = intake_mod.Intake(
        AlertStream(store, maxlen=10_000_000), consumer="bench", scrub=Scrubber().json_bytes
    )
    app = FastAPI()
    settings = AlertmanagerSettings(token=os.environ["BENCH_TOKEN"])
    app.include_router(webhook.build_router(intake, settings), prefix="/api")
    runtime.tune_gc()  # as `aiops run` does after start-up
    return app


def bare() -> FastAPI:
    """Parse only: the same body, the same model, no authentication, no Redis."""
    app = FastAPI()

    @app.post("/api/webhook/alertmanager")
    async def receive(request: Request) -> JSONResponse:
        payload = parse_payload(await request.body())
        return JSONResponse({"parsed": len(payload.alerts)})

    return app
