"""``/api`` routes: approvals (list, show, approve, reject), incidents, runs and the audit log.

Fed by: HTTP clients (the CLI, scripts, later chat). Consumes: the gate, the executor, the
deduplicator's incident store and the audit log, all from :class:`ApiDeps`.
A decision goes to the gate first (decided exactly once, atomically in Redis); only after the
gate records it does the executor continue the run, so the response carries the run's state.
Every error is a problem+json body (``aiops.api.problems``), declared per route in the OpenAPI.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from aiops.api import problems
from aiops.api.deps import ApiDeps
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.events.incident import Incident, IncidentStatus
from aiops.playbooks.runs import Run

#: The errors every ``/api`` route may answer: no/unknown token, invalid query, Redis down.
_COMMON = (401, 422, 503)
_READ_ONE = problems.responses(*_COMMON, 404)
_LIST = problems.responses(*_COMMON)
_DECIDE = problems.responses(*_COMMON, 403, 404, 409, 410)


class Decision(BaseModel):
    """Body of approve/reject: an optional free-text reason (kept on the request)."""

    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


class DecisionResult(BaseModel):
    """The request as the decision or vote left it, and its run (its state after the step, if it
    ran). ``decided``: False when the approval was a vote that counted but more distinct approvers
    are needed (the request is still ``pending``); ``votes``/``votes_needed``: who approved so far
    and how many must."""

    request: ApprovalRequest
    run: Run | None
    decided: bool = True
    votes: list[str] = Field(default_factory=list)
    votes_needed: int = 1


def build_router(deps: ApiDeps) -> APIRouter:
    """All ``/api`` routes, each requiring a bearer token (the identity is the approver)."""
    router = APIRouter()
    identity_dep = Depends(deps.authenticate)

    @router.get("/approvals", tags=["approvals"], responses=_LIST)
    async def list_approvals(
        _: str = identity_dep, state: ApprovalState | None = None, limit: int = Query(100, ge=1, le=1000)
    ) -> list[ApprovalRequest]:
        return await deps.gate.list(state=state, limit=limit)

    @router.get("/approvals/{request_id}", tags=["approvals"], responses=_READ_ONE)
    async def get_approval(request_id: str, _: str = identity_dep) -> ApprovalRequest:
        request = await deps.gate.get(request_id)
        if request is None:
            raise HTTPException(404, f"no approval request {request_id}")
        return request

    async def _decide(request_id: str, identity: str, body: Decision | None, approve: bool) -> DecisionResult:
        decided, run = await deps.executor.decide(
            request_id, approve=approve, actor=identity, reason=body.reason if body else None
        )
        # Answer with the run as stored (scrubbed), never the executor's in-memory copy.
        stored = await deps.executor.get(run.id) if run is not None else None
        return DecisionResult(
            request=decided,
            run=stored or run,
            decided=decided.state is not ApprovalState.PENDING,
            votes=decided.votes,
            votes_needed=decided.votes_needed,
        )

    @router.post("/approvals/{request_id}/approve", tags=["approvals"], responses=_DECIDE)
    async def approve(
        request_id: str, identity: str = identity_dep, body: Decision | None = None
    ) -> DecisionResult:
        return await _decide(request_id, identity, body, approve=True)

    @router.post("/approvals/{request_id}/reject", tags=["approvals"], responses=_DECIDE)
    async def reject(
        request_id: str, identity: str = identity_dep, body: Decision | None = None
    ) -> DecisionResult:
        return await _decide(request_id, identity, body, approve=False)

    @router.get("/incidents", tags=["incidents"], responses=_LIST)
    async def list_incidents(
        _: str = identity_dep, status: IncidentStatus | None = None, limit: int = Query(100, ge=1, le=1000)
    ) -> list[Incident]:
        return await deps.dedup.list(status=status, limit=limit)

    @router.get("/incidents/{incident_id}", tags=["incidents"], responses=_READ_ONE)
    async def get_incident(incident_id: str, _: str = identity_dep) -> dict[str, Any]:
        incident = await deps.dedup.get(incident_id)
        if incident is None:
            raise HTTPException(404, f"no incident {incident_id}")
        runs = [await deps.executor.get(run_id) for run_id in incident.run_ids]
        enrichment = await deps.enrichments.get(incident_id) if deps.enrichments is not None else None
        found = [run for run in runs if run is not None]
        escalations = [
            {"run_id": run.id, "playbook_id": run.playbook_id, **escalation.model_dump(mode="json")}
            for run in found
            for escalation in run.escalations
        ]
        # by_alias: object references spelled as the API spells them (``apiVersion``), as in the
        # incident list and every other route that FastAPI serializes from a response model.
        return {
            "incident": incident.model_dump(mode="json", by_alias=True),
            "escalations": escalations,
            "runs": [run.model_dump(mode="json", by_alias=True) for run in found],
            "enrichment": enrichment.model_dump(mode="json", by_alias=True)
            if enrichment is not None
            else None,
        }

    @router.get("/runs/{run_id}", tags=["runs"], responses=_READ_ONE)
    async def get_run(run_id: str, _: str = identity_dep) -> Run:
        run = await deps.executor.get(run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id}")
        return run

    @router.get("/audit", tags=["audit"], responses=_LIST)
    async def audit(_: str = identity_dep, limit: int = Query(100, ge=1, le=10000)) -> list[dict[str, Any]]:
        entries = await deps.audit.list(limit=limit)
        return [{**dataclasses.asdict(entry), "at": entry.at.isoformat()} for entry in entries]

    return router
