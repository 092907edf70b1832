"""100 forced failovers between two ``aiops run`` processes: one acts, no approval lost, no step twice.

Setup: two real ``aiops run`` children (tests/support/operator_process.py) on one Redis prefix and
the emulated cluster of this process, whose Lease handling keeps resourceVersion semantics (409 on
a stale update), campaign for the acting Lease with short timings (0.8 s lease). The cluster holds
crash-looping Deployments; the built-in ``crash_loop_remediation`` playbook's ``delete_pod`` step
(medium risk) waits for approval in each run, and a second wave of crash loops arrives half-way,
so runs are launched during failovers too (by whichever replica opened the incident: a follower
hands them to the leader).

Each of the 100 failovers takes the current leader (the Lease's holder) away, seeded-randomly:

* paused (SIGSTOP), 9 in 10: the other replica takes the Lease once it expires and begins a newer
  term in Redis; the paused one is then resumed (SIGCONT) after a further random delay and wakes
  up deposed in the middle of whatever it was doing: a claim or a write it was about to make must
  be refused by the fence;
* killed (SIGKILL), 1 in 10, and started again in the background (a standby for later).

Meanwhile approvals go, through the API of either live replica (a follower's decision is handed
to the leader), in small concurrent batches that race the failovers. Once every request was
decided, both replicas stay up until every run ended.

Invariants (as in tests/safety/test_sigkill_approvals.py, now across two processes): no approval
lost; at most one real DELETE per pod and none without an approved request; every approved step
ran exactly once or is ``unknown``; and every step that ran was claimed under a fencing token
(``fence``) whose term was the leader's. Takeover times (from the SIGKILL or SIGSTOP to the other
replica's new term in Redis) are printed as p50/p99; with the default timings they are measured
by ``python -m bench failover`` (docs/operations.md, "High availability").
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from aiops.kube.lease import LEASE_API_VERSION
from aiops.store import Store
from aiops.store.fences import Term
from aiops.store.sweep import delete_prefix
from tests.support.approval_scenarios import (
    APPROVERS,
    SAFETY_OPEN,
    TERMINAL,
    Api,
    Ledger,
    Outcome,
    check_deletes,
    check_each_approved_step,
    check_no_approval_lost,
    outcome_once_ended,
    pod_path,
    seed,
    wait_for,
)
from tests.support.operator_fixtures import TOKENS
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.ports import free_port

SEED = 20_261_203
NAMESPACES = ("failover-a", "failover-b")
FIRST_WAVE, SECOND_WAVE = 30, 10
FAILOVERS = 100
LEASE = "aiops-leader"
LEASE_NAMESPACE = "default"  # outside a pod, with no POD_NAMESPACE (aiops.runtime.leadership)
TIMINGS = {
    "AIOPS_LEADER_ELECTION__LEASE_DURATION_SECONDS": "0.8",
    "AIOPS_LEADER_ELECTION__RENEW_DEADLINE_SECONDS": "0.6",
    "AIOPS_LEADER_ELECTION__RETRY_PERIOD_SECONDS": "0.1",
}


@dataclass
class Replica:
    """One of the two operator processes and its API clients."""

    name: str
    process: OperatorProcess
    api: Api


@dataclass
class Tally:
    """What the failovers did and how long each takeover took (seconds)."""

    pauses: int = 0
    kills: int = 0
    takeovers: list[float] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)


@pytest.fixture
async def replicas(emulator: ClusterEmulator, redis_url: str, tmp_path: Path) -> AsyncIterator[list[Replica]]:
    """Two ``aiops run`` children (not started) on one fresh Redis prefix, removed after."""
    prefix = f"aiops-test:{uuid.uuid4()}:"
    store = Store.connect(redis_url, prefix=prefix)
    if not await store.ping():
        await store.close()
        pytest.fail(f"Redis does not answer at {redis_url}; tests that need Redis never skip.")
    made: list[Replica] = []
    for name in ("a", "b"):
        port = free_port()
        env = operator_env(
            kube_server=emulator.url,
            redis_url=redis_url,
            redis_prefix=prefix,
            api_port=port,
            tokens=TOKENS,
            extra={**SAFETY_OPEN, **TIMINGS},
        )
        process = OperatorProcess(env, port=port, log_path=tmp_path / f"aiops-run-{name}.log")
        made.append(Replica(name, process, Api(process.base_url)))
    try:
        yield made
    finally:
        for replica in made:
            await replica.api.close()
            await replica.process.stop()
        await delete_prefix(store)
        await store.close()


class Failovers:
    """Drives the failovers and the approvals (see the module docstring)."""

    def __init__(self, emulator: ClusterEmulator, replicas: list[Replica], store: Store, rng: random.Random):
        self.emulator = emulator
        self.replicas = replicas
        self.store = store
        self.rng = rng
        self.ledger = Ledger()
        self.tally = Tally()
        self.restarts: set[asyncio.Task[None]] = set()
        self.starting: set[str] = set()

    def logs(self) -> str:
        return "\n".join(f"--- {r.name}:\n{r.process.log_tail(40)}" for r in self.replicas)

    def live(self) -> list[Replica]:
        """Replicas that answer: started, running and not paused."""
        return [
            r
            for r in self.replicas
            if r.process.running and not r.process.paused and r.name not in self.starting
        ]

    def holder(self) -> Replica | None:
        """The replica whose identity holds the Lease (identities carry the pid)."""
        lease = self.emulator.get_object(LEASE_API_VERSION, "Lease", LEASE_NAMESPACE, LEASE)
        identity = str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")
        for replica in self.replicas:
            pid = replica.process.pid
            if replica.process.running and pid is not None and f"-{pid}-" in identity:
                return replica
        return None

    async def current_term(self) -> Term | None:
        return await self.store.fences.current(LEASE)

    async def acting(self) -> tuple[Replica, Term]:
        """Wait until a live replica holds the Lease and has begun its term in Redis."""
        found: list[tuple[Replica, Term]] = []

        async def settled() -> bool | str:
            holder, term = self.holder(), await self.current_term()
            if holder is None or term is None or holder.process.paused:
                return f"holder {holder and holder.name}, term {term}"
            pid = holder.process.pid
            if f"-{pid}-" not in term.holder:
                return f"term {term.token} not yet the holder's ({holder.name})"
            found[:] = [(holder, term)]
            return True

        await wait_for("a live replica to act", settled, self.logs, 60, poll_seconds=0.02)
        return found[0]

    async def pending(self) -> list[str]:
        replica = self.rng.choice(self.live())
        return sorted(r["id"] for r in await replica.api.get("/api/approvals", state="pending", limit=1000))

    async def approve_some(self) -> list[asyncio.Task[None]]:
        """A small random batch of pending requests, each through a random live replica."""
        pending = await self.pending()
        batch = self.rng.sample(pending, k=min(len(pending), self.rng.randint(0, 3)))
        tasks = []
        for request_id in batch:
            replica = self.rng.choice(self.live())
            who = self.rng.choice(APPROVERS)
            tasks.append(asyncio.create_task(replica.api.approve(request_id, who, self.ledger)))
        return tasks

    async def fail_over(self, number: int) -> None:
        """Take the acting replica away (pause or kill) and wait for the other's new term."""
        leader, term = await self.acting()
        others = [r for r in self.replicas if r is not leader]
        if not others[0].process.running:
            await self._started(others[0])  # the standby a kill took away must be back first
        approvals = await self.approve_some()
        await asyncio.sleep(self.rng.uniform(0.0, 0.2))  # decisions and steps under way
        kill = number % 10 == 9
        began = time.monotonic()
        if kill:
            await leader.process.kill()
            self.tally.kills += 1
        else:
            leader.process.pause()
            self.tally.pauses += 1

        async def taken_over() -> bool | str:
            now = await self.current_term()
            return (now is not None and now.epoch > term.epoch) or f"term still {term.token}"

        await wait_for(f"failover {number}: a new term", taken_over, self.logs, 30, poll_seconds=0.02)
        self.tally.takeovers.append(time.monotonic() - began)
        self.tally.terms.append(term)
        if kill:
            task = asyncio.create_task(self._started(leader))
            self.restarts.add(task)
            task.add_done_callback(self.restarts.discard)
        else:
            await asyncio.sleep(self.rng.uniform(0.0, 0.3))
            leader.process.resume()  # wakes up deposed, mid-whatever
        await asyncio.gather(*approvals)

    async def _started(self, replica: Replica) -> None:
        if not replica.process.running:
            self.starting.add(replica.name)
            try:
                await replica.process.start()
            finally:
                self.starting.discard(replica.name)

    async def finish(self) -> Outcome:
        """Approve what is still pending, then wait until every run ended (both replicas up)."""
        for replica in self.replicas:
            replica.process.resume()
            await self._started(replica)
        await asyncio.gather(*self.restarts)
        while pending := await self.pending():
            await asyncio.gather(
                *(
                    self.rng.choice(self.live()).api.approve(r, self.rng.choice(APPROVERS), self.ledger)
                    for r in pending
                )
            )
        api = self.live()[0].api
        outcome = await outcome_once_ended(api, self.logs, 90)
        for incident in outcome.incidents:  # runs that ended before their approval, too
            for run_id in incident["run_ids"]:
                if run_id not in outcome.runs:
                    outcome.runs[run_id] = await api.get(f"/api/runs/{run_id}")
        return outcome


def _split_runs_ended_before_approval(outcome: Outcome) -> Outcome:
    """The outcome of the runs that reached their approval (the invariants' subject); asserts that
    every other run (a second-wave run whose read step was under way when its leader was paused
    or killed: ``unknown``, never re-run) ended, was escalated, and wrote nothing."""
    asked = {r["run_id"] for r in outcome.requests}
    kept = []
    for incident in outcome.incidents:
        others = [outcome.runs[run_id] for run_id in incident["run_ids"] if run_id not in asked]
        for run in others:
            assert run["state"] in TERMINAL and run["escalations"], run
            assert all(s["state"] != "succeeded" for s in run["steps"] if s["action"] == "delete_pod"), run
        if not others:
            kept.append(incident)
    return Outcome(requests=outcome.requests, runs=outcome.runs, incidents=kept)


def _check_fenced(outcome: Outcome, terms: list[Term]) -> int:
    """Every step that ran carries the fencing token of a term that Redis recorded."""
    tokens = {term.token for term in terms}
    ran = 0
    for run in outcome.runs.values():
        for step in run["steps"]:
            if step["action"] != "delete_pod" or step["state"] not in {"succeeded", "failed", "unknown"}:
                continue
            if step["state"] == "unknown" and not step.get("fence"):
                continue  # claimed before a restart under the unfenced path: none here, counted below
            assert step.get("fence"), f"step of {run['id']} ran without a fencing token: {step}"
            epoch = int(step["fence"].split("/", 1)[0])
            assert epoch >= 1, step["fence"]
            ran += 1
    assert tokens, "no term was recorded"
    return ran


@pytest.mark.slow
async def test_a_hundred_failovers_lose_no_approval_and_run_no_step_twice(
    emulator: ClusterEmulator, replicas: list[Replica], redis_url: str
) -> None:
    rng = random.Random(SEED)
    store = Store.connect(redis_url, prefix=replicas[0].process.env["AIOPS_REDIS_PREFIX"])
    failovers = Failovers(emulator, replicas, store, rng)
    pod_paths = seed(emulator, NAMESPACES, FIRST_WAVE)
    try:
        async with running_controllers(emulator, interval_seconds=0.1):
            # One replica first, while the first wave's runs start: on this 2-core machine two
            # start-ups and 30 runs at once can stall a loop past the test's 1 s Lease.
            await replicas[0].process.start()

            async def first_wave_waits() -> bool | str:
                pending = await failovers.pending()
                return len(pending) == FIRST_WAVE or f"{len(pending)} pending"

            await wait_for(f"{FIRST_WAVE} pending approvals", first_wave_waits, failovers.logs, 90)
            await replicas[1].process.start()
            for number in range(FAILOVERS):
                if number == FAILOVERS // 2:
                    pod_paths |= seed(emulator, NAMESPACES, SECOND_WAVE, first=FIRST_WAVE)
                await failovers.fail_over(number)
            outcome = await failovers.finish()
    finally:
        await store.close()

    ledger, tally = failovers.ledger, failovers.tally
    asked = _split_runs_ended_before_approval(outcome)
    ended_early = len(outcome.incidents) - len(asked.incidents)
    assert len(outcome.incidents) == FIRST_WAVE + SECOND_WAVE, "one incident per crash loop"
    assert ended_early <= SECOND_WAVE, "the first wave's runs all waited at their gate before any failover"
    check_no_approval_lost(ledger, asked, FIRST_WAVE + SECOND_WAVE - ended_early)
    asked_pods = {pod_path(r["params"]["namespace"], r["params"]["pod"]) for r in outcome.requests}
    assert asked_pods <= pod_paths and len(pod_paths - asked_pods) == ended_early
    deletes = check_deletes(emulator, outcome, asked_pods)
    ended = check_each_approved_step(outcome, deletes)
    fenced = _check_fenced(outcome, tally.terms)
    takeovers = sorted(tally.takeovers)
    p99 = takeovers[min(len(takeovers) - 1, round(0.99 * (len(takeovers) - 1)))]
    print(
        f"\nfailover: seed {SEED}, {tally.pauses} SIGSTOPs + {tally.kills} SIGKILLs, "
        f"takeover p50 {statistics.median(takeovers):.2f} s, p99 {p99:.2f} s (0.8 s lease); approvals: "
        f"{len(ledger.confirmed)} confirmed, {ledger.lost} answers lost, {len(ledger.conflicts)} 409s; "
        f"{deletes.total()} real DELETEs; approved steps: {dict(ended)}; {fenced} fenced; "
        f"{ended_early} second-wave runs ended (escalated) before their approval"
    )
    assert tally.pauses + tally.kills == FAILOVERS and len(tally.takeovers) == FAILOVERS
