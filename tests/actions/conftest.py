"""Action tests run every action through the registry against the emulator, via the real Kube client."""

from __future__ import annotations

from typing import Any

import pytest

from aiops import kube as kube_mod
from aiops.actions import registry
from aiops.actions.base import Action, ActionContext, ActionLimits, ActionResult, AuditEntry


class MemoryAudit:
    """An in-memory AuditSink: ``entries`` in the order recorded."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def limits() -> ActionLimits:
    """Tiny backoff and timeout so that eviction retries take milliseconds."""
    return ActionLimits(
        max_memory_limit_bytes=2 * 1024**3,
        eviction_retry_seconds=0.01,
        eviction_timeout_seconds=0.2,
        log_tail_lines=2,
    )


@pytest.fixture
def ctx(kube: kube_mod.Kube, audit: MemoryAudit, limits: ActionLimits) -> ActionContext:
    return ActionContext(
        kube=kube, audit=audit, actor="alice", run_id="run-1", request_id="req-1", limits=limits
    )


@pytest.fixture
def actions() -> dict[str, Action]:
    return registry.builtin_actions()


class Runner:
    """Validates params the way the executor does (strings in) and runs the named action."""

    def __init__(self, actions: dict[str, Action], ctx: ActionContext) -> None:
        self.actions = actions
        self.ctx = ctx

    async def __call__(self, action_name: str, /, **params: Any) -> ActionResult:
        action = self.actions[action_name]
        return await action.run(self.ctx, action.params.model_validate(params))


@pytest.fixture
def run(actions: dict[str, Action], ctx: ActionContext) -> Runner:
    return Runner(actions, ctx)
