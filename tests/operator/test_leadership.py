"""The acting Lease: one replica runs the leader's work, terms are recorded, deposed terms are fenced.

Against the emulated API server (Leases with resourceVersion and 409) and a real Redis: two
:class:`Leadership` candidates on one Lease run the leader's work one at a time; a stopping
leader releases the Lease after its work ended, and the other begins a newer term at once
(recorded in Redis, ``aiops_leader`` moving with it). :class:`Fencing` then refuses every claim
and write of the earlier term, while the step it claimed stays claimed (never run twice).
The same guarantees across processes, killed and paused: tests/faults/test_failover.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from aiops import errors
from aiops.kube import Kube
from aiops.kube.lease import LeaseElector
from aiops.metrics import Metrics
from aiops.playbooks.fencing import Fencing
from aiops.runtime.leadership import Leadership, Work
from aiops.store import Store
from aiops.store.fences import Term

NS, NAME = "aiops-system", "aiops-leader"


def candidate(kube: Kube, identity: str) -> LeaseElector:
    """A candidate with short real durations (the campaigns below run on the real clock)."""
    return LeaseElector(
        kube,
        namespace=NS,
        name=NAME,
        identity=identity,
        lease_seconds=3,
        renew_deadline_seconds=2,
        retry_seconds=0.1,
    )


async def test_one_replica_works_at_a_time_and_a_stopping_leader_hands_over_at_once(
    kube: Kube, store: Store
) -> None:
    running: set[str] = set()
    overlaps: list[set[str]] = []
    drained: list[str] = []
    started = {name: asyncio.Event() for name in ("a", "b")}
    metrics = {name: Metrics() for name in ("a", "b")}
    leaders: dict[str, Leadership] = {}

    def work_of(name: str) -> Work:
        async def work(term: asyncio.Event) -> None:
            running.add(name)
            if len(running) > 1:
                overlaps.append(set(running))
            started[name].set()
            try:
                await term.wait()
            finally:
                running.discard(name)

        return work

    for name in ("a", "b"):

        async def drain(name: str = name) -> None:
            assert name not in running, "the work stops before the drain"
            drained.append(name)

        leaders[name] = Leadership(candidate(kube, name), store, metrics[name], drain=drain)
        leaders[name].add("work", work_of(name))
    stops = {name: asyncio.Event() for name in ("a", "b")}
    tasks = {name: asyncio.create_task(leaders[name].run(stops[name])) for name in ("a", "b")}
    async with asyncio.timeout(15):
        await next(asyncio.as_completed([started["a"].wait(), started["b"].wait()]))
        leader = "a" if started["a"].is_set() else "b"
        other = "b" if leader == "a" else "a"
        await asyncio.sleep(0.5)  # both campaign for several rounds
        assert running == {leader} and not started[other].is_set()
        first = leaders[leader].term()
        assert first is not None and first.holder == leader
        assert await store.fences.current(NAME) == first
        assert leaders[other].term() is None
        assert metrics[leader].leader.labels(lease=NAME)._value.get() == 1
        assert metrics[other].leader.labels(lease=NAME)._value.get() == 0

        stops[leader].set()
        await tasks[leader]
        assert drained == [leader]
        await started[other].wait()  # released at once: no 3 s expiry to wait out
        second = leaders[other].term()
        assert second is not None and second.holder == other and second.epoch > first.epoch
        assert not await store.fences.is_current(NAME, first.epoch)
        assert metrics[leader].leader.labels(lease=NAME)._value.get() == 0
        stops[other].set()
        await tasks[other]
    assert overlaps == [] and running == set()


async def test_without_an_elector_the_work_runs_from_start_to_stop(store: Store) -> None:
    acting = Leadership(None, store, Metrics())
    ran = asyncio.Event()

    async def work(term: asyncio.Event) -> None:
        ran.set()
        await term.wait()

    acting.add("work", work)
    stop = asyncio.Event()
    task = asyncio.create_task(acting.run(stop))
    async with asyncio.timeout(5):
        await ran.wait()
        assert not acting.elected and acting.term() is None  # writes are not fenced
        stop.set()
        await task


async def test_a_deposed_term_claims_and_writes_nothing(store: Store) -> None:
    """Replica a leads in term 1 and claims a step; replica b begins term 2 (a was paused and
    its Lease expired). Whatever a's own view, Redis's newer term refuses a's write of the step
    it claimed and any new claim; b finds a's claim standing (the step is never run twice)."""
    terms: dict[str, Term | None] = {"a": None, "b": None}

    def term_of(name: str) -> Callable[[], Term | None]:
        return lambda: terms[name]

    fencing = {name: Fencing(store, NAME, term_of(name), term_of(name)) for name in ("a", "b")}

    with pytest.raises(errors.FenceLost):  # not leading: no claim at all
        await fencing["a"].claim("step:run-1:0", "exec-a")
    terms["a"] = await store.fences.begin_term(NAME, holder="a", transitions=0, since=1.0)
    assert terms["a"] is not None
    claimed = await fencing["a"].claim("step:run-1:0", "exec-a")
    assert claimed is not None and claimed == terms["a"]
    write_check = fencing["a"].write_check(claimed.epoch)
    await write_check()  # current: the write may go out

    terms["b"] = await store.fences.begin_term(NAME, holder="b", transitions=1, since=2.0)
    # a still believes it leads (paused: its clock has not told it yet); Redis refuses.
    with pytest.raises(errors.FenceLost, match="is over"):
        await write_check()
    with pytest.raises(errors.FenceLost, match="is over"):
        await fencing["a"].ensure_current()  # no save of a run either
    with pytest.raises(errors.FenceLost):
        await fencing["a"].claim("step:run-2:0", "exec-a")
    assert await store.fences.claim_of("step:run-2:0") is None
    assert await fencing["b"].claim("step:run-1:0", "exec-b") is None  # claimed in term 1
    assert await fencing["b"].claim("step:run-2:0", "exec-b") == terms["b"]
    terms["a"] = None
    assert not fencing["a"].acting() and fencing["b"].acting()
    assert await fencing["b"].ensure_current() == terms["b"]
