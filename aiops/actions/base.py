"""The contract between the executor and every action: context in, :class:`ActionResult` out.

Fed by: the executor, which renders a step's params, validates them with the action's
``params`` model and calls ``run(ctx, params)``. Consumed by: the implementations in
``aiops.actions.pods``, ``.workloads``, ``.nodes``, ``.reads`` and the registry that lists them.

An action never raises for an API failure it can describe: it returns ``ok=False`` with the
error and the API calls it made. It raises :class:`aiops.errors.ActionRefused` when it declines
to act (a paused Deployment, no previous revision, a bound exceeded, an empty target set).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from aiops import kube
from aiops.actions.catalog import ActionInfo
from aiops.actions.plan import Plan
from aiops.clock import utcnow
from aiops.events.model import ObjectRef

#: One Kubernetes API call an action made; defined next to the client that records it.
ApiCall = kube.ApiCall


@dataclass
class ActionResult:
    """The outcome of one action run. ``output`` is JSON-compatible (text, dict or list).

    ``writes_done``: how many planned writes the API accepted (0: the cluster was not changed).
    ``conflict``: the first write was refused with 409 (its resourceVersion or uid precondition
    no longer held) before anything was written: the step may be planned again.
    """

    ok: bool
    summary: str
    output: Any = None
    api_calls: list[ApiCall] = field(default_factory=list)
    error: str | None = None
    writes_done: int = 0
    conflict: bool = False


@dataclass(frozen=True)
class AuditEntry:
    """One write to the cluster: who approved it, what it was, when, and what the API answered.

    ``request_id`` is the approval request's id. ``incident_id`` and ``http_request_id`` (the
    ``X-Request-ID`` of the API call that led to the write, e.g. the approve) are the correlation
    ids in force when it was recorded (``aiops.correlation``); the audit log fills them in.
    """

    action: str
    target: str
    params: dict[str, Any]
    actor: str | None
    run_id: str | None
    request_id: str | None
    ok: bool
    summary: str
    api_calls: list[ApiCall]
    at: datetime = field(default_factory=utcnow)
    incident_id: str | None = None
    http_request_id: str | None = None


class AuditSink(Protocol):
    """Where write actions record :class:`AuditEntry` objects (Redis-backed in production)."""

    async def record(self, entry: AuditEntry) -> None:
        """Persist one entry; raises :class:`aiops.errors.StoreUnavailable` if it cannot."""
        ...


@dataclass(frozen=True)
class ActionLimits:
    """Bounds every action respects.

    ``max_memory_limit_bytes``: patch_resources never sets a memory limit above this (bytes).
    ``eviction_retry_seconds``/``eviction_timeout_seconds``: drain retries a 429 Eviction answer
    (a PodDisruptionBudget blocks it) with exponential backoff starting at the first, giving up
    after the second. ``log_tail_lines``: default tail for logs.
    """

    max_memory_limit_bytes: int = 8 * 1024**3
    eviction_retry_seconds: float = 1.0
    eviction_timeout_seconds: float = 60.0
    log_tail_lines: int = 200


@dataclass(frozen=True)
class ActionContext:
    """What an action may use: the Kubernetes client, the audit sink and who approved the run.

    ``planned_at``: the time a planner uses for values derived from "now" (None: now); a re-plan
    for the re-check passes the approved plan's, so equal intent gives equal calls.
    ``dry_run``: writes go out with ``dryRun=All`` and change nothing.
    ``fence``: under leader election, awaited before each write is sent; raises
    :class:`aiops.errors.FenceLost` when this replica's term is over (``aiops.playbooks.fencing``).
    """

    kube: kube.Kube
    audit: AuditSink
    actor: str | None = None
    run_id: str | None = None
    request_id: str | None = None
    limits: ActionLimits = field(default_factory=ActionLimits)
    planned_at: datetime | None = None
    dry_run: bool = False
    fence: Callable[[], Awaitable[None]] | None = None

    def now(self) -> datetime:
        """``planned_at`` or the current time (timezone-aware UTC)."""
        return self.planned_at or utcnow()


ActionFn = Callable[[ActionContext, Any], Awaitable[ActionResult]]

#: A write action's planner: reads the cluster, returns the exact calls it would make.
PlanFn = Callable[[ActionContext, Any], Awaitable[Plan]]


@dataclass(frozen=True)
class Action:
    """An implemented action: its catalog info, its params model (``extra="forbid"``) and its coroutine.

    A write action also has ``plan``: ``run`` is then ``plan`` followed by
    ``aiops.actions.apply.apply`` of that plan, and the executor calls the two apart (plan before
    the approval request, apply after the re-check).
    """

    info: ActionInfo
    params: type[BaseModel]
    run: ActionFn
    plan: PlanFn | None = None

    def target(self, params: BaseModel) -> ObjectRef | None:
        """The object this action acts on with ``params`` (validated by :attr:`params`), as its
        params model declares it (``object_ref()``); None when it names no single object."""
        object_ref = getattr(params, "object_ref", None)
        found = object_ref() if callable(object_ref) else None
        return found if isinstance(found, ObjectRef) else None
