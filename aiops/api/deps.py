"""The components the API routes use, passed in by the runtime (no globals, no singletons)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiops.api import auth
from aiops.approvals import gate as gate_mod
from aiops.audit import AuditLog
from aiops.enrichment import enricher as enricher_mod
from aiops.events import dedup as dedup_mod
from aiops.metrics import Metrics
from aiops.playbooks import executor as executor_mod

#: A readiness probe: True when the dependency answers. Never raises.
Probe = Callable[[], Awaitable[bool]]

#: A readiness probe that says why not: None when the dependency is ready, else the reason.
#: Never raises.
ReasonProbe = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class ApiDeps:
    """What the routes use. ``kube_ready``/``store_ready`` are the readiness probes (the store's
    says why not: unreachable, or refusing writes)."""

    gate: gate_mod.ApprovalGate
    executor: executor_mod.Executor
    dedup: dedup_mod.Deduplicator
    audit: AuditLog
    metrics: Metrics
    kube_ready: Probe
    store_ready: ReasonProbe
    authenticate: auth.Authenticator
    enrichments: enricher_mod.EnrichmentStore | None = None
