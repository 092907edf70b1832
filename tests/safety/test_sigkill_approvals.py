"""The operator is SIGKILLed at random points of 100 approval runs: no approval lost, no step run twice.

Setup: the emulated cluster (in this process) holds 100 Deployments, each with a ReplicaSet and one
crash-looping pod, so the built-in ``crash_loop_remediation`` playbook starts 100 runs whose last
step, ``delete_pod`` (medium risk), waits behind the approval gate; the emulated ReplicaSet
controller replaces a deleted pod with a Ready one, so verification has something to observe.
``aiops run`` is a real child process (tests/support/operator_process.py) on real Redis. A seeded
``random.Random`` decides which pending requests are approved in each round (through the HTTP API,
as ``alice`` or ``bob``, concurrently, plus retries of requests whose answer was lost), and whether
and when the operator is killed with SIGKILL: right as a batch of approvals is sent, after a random
delay of up to 1 s (steps planned, claimed, writing or verifying), or while a fresh process is
still starting (its ``resume()`` runs approved steps before the API opens). After each kill the
operator is started again on the same Redis prefix and API port. Once nothing is pending, a last
incarnation runs every run to a terminal state.

Deterministic in outcome: the schedule comes from ``SEED``; which step a kill lands in depends on
timing, and every invariant must hold wherever it lands. No assertion is about time (the waits
are bounds that fail with the operator's log).

Invariants proved (dry-run writes, ``dryRun=All``, are ignored: they change nothing):

1. No approval lost: every request the API confirmed as approved (200) is still ``approved`` with
   ``decided_by`` = the approver who sent it; every request whose answer was lost to a kill (or was
   answered 409) is ``approved`` by one of the approvers that tried; every one of the 100 runs has
   exactly one ``delete_pod`` approval request, and it is decided.
2. No step run twice: at most one real ``DELETE`` reaches each pod.
3. No step run without a recorded approval: every real pod ``DELETE`` targets the pod of a run
   whose ``delete_pod`` request is ``approved``, and the run's step names that request.
4. No approved step silently vanished: every run ends terminal, and its approved step either ran
   exactly once (one real DELETE; step ``succeeded``/``failed`` with its API calls recorded) or is
   ``unknown`` (its outcome died with a process: at most one DELETE, never a second).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from aiops.store import Store
from aiops.store.sweep import delete_prefix
from tests.support.approval_scenarios import (
    APPROVERS,
    SAFETY_OPEN,
    Api,
    Ledger,
    Outcome,
    check_deletes,
    check_each_approved_step,
    check_no_approval_lost,
    outcome_once_ended,
    seed,
    wait_for,
)
from tests.support.operator_fixtures import TOKENS
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.ports import free_port

SEED = 20_261_121
NAMESPACES = ("sigkill-a", "sigkill-b", "sigkill-c", "sigkill-d")
DEPLOYMENTS = 100
#: Kills are capped (each restart costs a Python start-up); the seed reaches it (printed).
MAX_KILLS = 10
MIN_KILLS = 6
#: One process, restarted: it acts alone (leader election across processes, killed and paused,
#: is tests/faults/test_failover.py's subject).
SAFETY_OPEN_ALONE = {**SAFETY_OPEN, "AIOPS_LEADER_ELECTION__ENABLED": "false"}


@pytest.fixture
async def operator(
    emulator: ClusterEmulator, redis_url: str, tmp_path: Path
) -> AsyncIterator[OperatorProcess]:
    """An ``aiops run`` child (not started) on the emulator and a fresh Redis prefix, removed after."""
    prefix = f"aiops-test:{uuid.uuid4()}:"
    store = Store.connect(redis_url, prefix=prefix)
    if not await store.ping():
        await store.close()
        pytest.fail(f"Redis does not answer at {redis_url}; tests that need Redis never skip.")
    port = free_port()
    env = operator_env(
        kube_server=emulator.url,
        redis_url=redis_url,
        redis_prefix=prefix,
        api_port=port,
        tokens=TOKENS,
        extra=SAFETY_OPEN_ALONE,
    )
    proc = OperatorProcess(env, port=port, log_path=tmp_path / "aiops-run.log")
    try:
        yield proc
    finally:
        await proc.stop()
        await delete_prefix(store)
        await store.close()


class Scenario:
    """Approves every request through the API while killing the operator at seeded-random points."""

    def __init__(self, op: OperatorProcess, rng: random.Random) -> None:
        self.op = op
        self.rng = rng
        self.api = Api(op.base_url)
        self.ledger = Ledger()
        self.startup_seconds = 3.0

    async def start(self) -> None:
        started = time.monotonic()
        await self.op.start()
        self.startup_seconds = time.monotonic() - started

    async def pending(self) -> list[str]:
        return sorted(r["id"] for r in await self.api.get("/api/approvals", state="pending", limit=1000))

    async def all_requested(self) -> bool | str:
        pending = await self.pending()
        return len(pending) == DEPLOYMENTS or f"{len(pending)} pending"

    async def approve_all_with_kills(self) -> None:
        """Rounds of: (re)start if dead; approve a random batch concurrently; maybe SIGKILL mid-way."""
        rng, op = self.rng, self.op
        for _ in range(200):
            if not op.running:
                if op.kills < MAX_KILLS and self.ledger.attempted and rng.random() < 0.15:
                    # Killed while starting: resume() may be executing approved steps right now.
                    await op.spawn()
                    await asyncio.sleep(rng.uniform(0.5, 1.0) * self.startup_seconds)
                    await op.kill()
                    continue
                await self.start()
            pending = await self.pending()
            if not pending:
                return
            batch = rng.sample(pending, k=min(len(pending), rng.randint(3, 10)))
            # A user whose answer was lost retries: the request must answer 409 if it was decided.
            lost = sorted(set(self.ledger.attempted) - set(self.ledger.confirmed) - set(pending))
            batch += rng.sample(lost, k=min(len(lost), rng.randint(0, 2)))
            tasks = [
                asyncio.create_task(self.api.approve(request_id, rng.choice(APPROVERS), self.ledger))
                for request_id in batch
            ]
            if op.kills < MAX_KILLS and rng.random() < 0.7:
                await asyncio.sleep(0.0 if rng.random() < 0.3 else rng.uniform(0.0, 1.0))
                await op.kill()
            await asyncio.gather(*tasks)
        raise AssertionError("no progress after 200 rounds: approvals keep getting lost")

    async def finish(self) -> Outcome:
        """Start a last incarnation (never killed) and wait until every run is terminal."""
        if not self.op.running:
            await self.start()
        return await outcome_once_ended(self.api, self.op.log_tail, 60)


@pytest.mark.slow
async def test_sigkill_at_random_points_loses_no_approval_and_runs_no_step_twice(
    emulator: ClusterEmulator, operator: OperatorProcess
) -> None:
    pod_paths = seed(emulator, NAMESPACES, DEPLOYMENTS)
    scenario = Scenario(operator, random.Random(SEED))
    try:
        async with running_controllers(emulator, interval_seconds=0.1):
            await scenario.start()
            # Kills begin once every run waits at its gate: a run killed during its low-risk reads
            # ends there (unknown) and never reaches the approval this test is about.
            await wait_for(f"{DEPLOYMENTS} pending approvals", scenario.all_requested, operator.log_tail, 60)
            await scenario.approve_all_with_kills()
            outcome = await scenario.finish()
    finally:
        await scenario.api.close()
        await operator.stop()

    ledger = scenario.ledger
    check_no_approval_lost(ledger, outcome, DEPLOYMENTS)
    deletes = check_deletes(emulator, outcome, pod_paths)
    ended = check_each_approved_step(outcome, deletes)
    print(
        f"\nsigkill: seed {SEED}, {operator.starts} starts, {operator.kills} SIGKILLs; approvals: "
        f"{len(ledger.confirmed)} confirmed, {ledger.lost} answers lost to kills, "
        f"{len(ledger.conflicts)} retries answered 409; {deletes.total()} real DELETEs; "
        f"approved steps: {dict(ended)}"
    )
    assert operator.kills >= MIN_KILLS, f"only {operator.kills} kills: the schedule tested too little"
