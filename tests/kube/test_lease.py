"""Leader election on a Lease against the emulated API server (real HTTP, resourceVersion and 409).

Covers: the first candidate creates the Lease and leads (fence: 0 transitions); a second
candidate does not take a Lease whose record keeps changing; once the holder stops renewing for
the lease duration (by the second candidate's own clock, not the remote renewTime), the second
takes it and the fencing token moves on (1 transition), and the deposed holder, trying again,
learns it lost; of two candidates taking an expired Lease at once exactly one wins (409 for the
other); a release lets another take over at once; ``run`` reports winning and losing, and
releases on stop; the Lease is written as the API spells it (MicroTime, leaseDurationSeconds).
The work run while leading: tests/operator/test_leadership.py.
"""

from __future__ import annotations

import asyncio

import pytest

from aiops.emulator import ClusterEmulator
from aiops.kube import Kube
from aiops.kube.lease import LEASE_API_VERSION, Fence, LeaseElector

NS, NAME = "aiops-system", "aiops-leader"


class Ticks:
    """A monotonic clock the test moves (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(kube: Kube, identity: str, ticks: Ticks) -> LeaseElector:
    return LeaseElector(
        kube,
        namespace=NS,
        name=NAME,
        identity=identity,
        lease_seconds=15,
        renew_deadline_seconds=10,
        retry_seconds=2,
        monotonic=ticks,
    )


async def test_the_first_candidate_creates_the_lease_and_leads(kube: Kube, emulator: ClusterEmulator) -> None:
    ticks = Ticks()
    a, b = elector(kube, "a", ticks), elector(kube, "b", ticks)
    assert await a.try_acquire_or_renew() and a.leading and a.fence == Fence(0, "a")
    assert not await b.try_acquire_or_renew() and not b.leading and b.fence is None
    lease = emulator.get_object(LEASE_API_VERSION, "Lease", NS, NAME)
    assert lease is not None
    spec = lease["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15
    assert spec["renewTime"].endswith("Z") and "." in spec["renewTime"]  # MicroTime
    assert spec["leaseTransitions"] == 0


async def test_a_holder_that_stops_renewing_is_replaced_and_its_fence_is_stale(kube: Kube) -> None:
    ticks = Ticks()
    a, b = elector(kube, "a", ticks), elector(kube, "b", ticks)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b starts observing the record
    for _ in range(5):  # a renews every 2 s: the record keeps changing, b never takes it
        ticks.now += 2
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    ticks.now += 14  # a paused: 14 s of no change, less than the duration
    assert not await b.try_acquire_or_renew()
    assert not a.leading, "a stopped leading once it could not renew within its deadline"
    ticks.now += 2  # 16 s: expired by b's own clock
    assert await b.try_acquire_or_renew() and b.fence == Fence(1, "b")
    assert not await a.try_acquire_or_renew(), "the deposed holder learns it lost"
    assert a.fence is None and not a.leading
    assert b.fence > Fence(0, "a")


async def test_two_candidates_taking_an_expired_lease_at_once_one_wins(kube: Kube) -> None:
    ticks = Ticks()
    a = elector(kube, "a", ticks)
    assert await a.try_acquire_or_renew()
    others = [elector(kube, f"c{i}", ticks) for i in range(6)]
    assert not any([await c.try_acquire_or_renew() for c in others])
    ticks.now += 20
    won = await asyncio.gather(*(c.try_acquire_or_renew() for c in others))
    assert sum(won) == 1, won
    (winner,) = [c for c, w in zip(others, won, strict=True) if w]
    assert winner.fence is not None and winner.fence.transitions == 1


async def test_a_release_lets_another_take_over_at_once(kube: Kube, emulator: ClusterEmulator) -> None:
    ticks = Ticks()
    a, b = elector(kube, "a", ticks), elector(kube, "b", ticks)
    assert await a.try_acquire_or_renew()
    await a.release()
    assert not a.leading
    lease = emulator.get_object(LEASE_API_VERSION, "Lease", NS, NAME)
    assert lease is not None and not lease["spec"].get("holderIdentity")
    assert await b.try_acquire_or_renew() and b.fence == Fence(1, "b")


async def test_run_reports_leadership_and_releases_on_stop(kube: Kube, emulator: ClusterEmulator) -> None:
    seen: list[bool] = []
    won = asyncio.Event()

    def changed(leading: bool) -> None:
        seen.append(leading)
        won.set()

    a = LeaseElector(
        kube,
        namespace=NS,
        name=NAME,
        identity="a",
        lease_seconds=3,
        renew_deadline_seconds=2,
        retry_seconds=0.1,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(a.run(stop, on_change=changed))
    async with asyncio.timeout(10):
        await won.wait()
        stop.set()
        await running
    assert seen == [True, False]
    lease = emulator.get_object(LEASE_API_VERSION, "Lease", NS, NAME)
    assert lease is not None and not lease["spec"].get("holderIdentity")


def test_durations_must_leave_room_to_renew(kube: Kube) -> None:
    with pytest.raises(ValueError, match="renew_deadline_seconds < lease_seconds"):
        LeaseElector(kube, namespace=NS, name=NAME, identity="a", lease_seconds=5, renew_deadline_seconds=10)
