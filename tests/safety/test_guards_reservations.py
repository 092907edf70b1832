"""The stateful guards on the real Redis: budgets, rate limit, concurrency leases, release, dry-run.

Covers: a namespace budget of 5 lets 5 writes through and blocks the 6th with the numbers, and
frees up once the window passed (injected clock); the cluster budget counts cluster-scoped plans;
budget 0 allows nothing; acquire is all or nothing (a full namespace budget or a held lease leaves
no budget unit, rate-limit claim or lease behind); a repeated acquire of one holder counts once;
release(wrote=False) gives back the budget and the rate limit, release(wrote=True) keeps them and
frees the leases; 20 concurrent acquires on a budget of 3 let exactly 3 through; one drain at a time
across two Guards instances sharing Redis; one disruptive action per workload and per node; the
rate limit is per playbook and target, shared by the steps of one run and off at 0; dry-run and
check reserve nothing; the Store's window_reserve/claim_many/release_owned primitives.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiops.actions.plan import Facts, Plan, PlannedCall
from aiops.safety.guard_rules import WriteDecision
from aiops.safety.guards import Guards
from aiops.settings import SafetySettings
from aiops.store import Reserved, Store


class Clock:
    """An injectable epoch-seconds clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pod_plan(ns: str = "shop", pod: str = "web-1", **facts: Any) -> Plan:
    call = PlannedCall(method="DELETE", path=f"/api/v1/namespaces/{ns}/pods/{pod}", object=f"Pod/{ns}/{pod}")
    return Plan(
        action="delete_pod",
        target=f"Pod/{ns}/{pod}",
        planned_at=datetime(2026, 1, 1, tzinfo=UTC),
        calls=[call],
        facts=Facts(namespaces={ns: {}}, **facts),
    )


def node_plan(node: str, *, drain: bool) -> Plan:
    call = PlannedCall(method="PATCH", path=f"/api/v1/nodes/{node}", object=f"Node/-/{node}")
    return Plan(
        action="drain" if drain else "cordon",
        target=f"Node/-/{node}",
        planned_at=datetime(2026, 1, 1, tzinfo=UTC),
        calls=[call],
        facts=Facts(node=node, disruptive=True, drain=drain, nodes_total=10, nodes_not_ready=0),
    )


def decision(
    plan: Plan, *, run: str = "run-1", step: int = 0, playbook: str = "pb", dry_run: bool = False
) -> WriteDecision:
    return WriteDecision(
        run_id=run,
        step_index=step,
        playbook_id=playbook,
        incident_id="inc-1",
        action=plan.action,
        plan=plan,
        dry_run=dry_run,
    )


def guards(store: Store, clock: Clock | None = None, **settings: Any) -> Guards:
    return Guards(store, SafetySettings(**settings), clock=clock or Clock())


async def test_namespace_budget_boundary_and_window(store: Store) -> None:
    clock = Clock()
    start = clock.now
    g = guards(store, clock, budget_per_namespace=5)
    for i in range(5):
        assert await g.acquire(decision(pod_plan(pod=f"web-{i}"), run=f"r{i}")) is None
        clock.now += 1
    sixth = decision(pod_plan(pod="web-5"), run="r5")
    for block in (await g.check(sixth), await g.acquire(sixth)):
        assert block is not None and block.guard == "budget"
        assert block.reason == (
            "namespace shop already had 5 writes in the last 3600 s (budget 5, safety.budget_per_namespace)"
        )
    assert await g.acquire(decision(pod_plan(ns="other"), run="r-other")) is None  # another namespace
    clock.now = start + 3599.5
    assert await g.check(sixth) is not None
    clock.now = start + 3600  # the first write (at start) has just left the window; the others not
    assert await g.check(sixth) is None
    assert await g.acquire(sixth) is None
    assert (await g.acquire(decision(pod_plan(pod="web-6"), run="r6"))) is not None


async def test_cluster_budget_counts_cluster_scoped_writes(store: Store) -> None:
    g = guards(store, budget_per_cluster=2, rate_limit_seconds=0)
    assert await g.acquire(decision(node_plan("n1", drain=False), run="a")) is None
    await g.release(decision(node_plan("n1", drain=False), run="a"), wrote=True)
    assert await g.acquire(decision(pod_plan(), run="b")) is None
    block = await g.acquire(decision(node_plan("n2", drain=False), run="c"))
    assert block is not None and block.guard == "budget"
    assert block.reason.startswith("the cluster already had 2 writes in the last 3600 s (budget 2")


async def test_budget_zero_allows_nothing(store: Store) -> None:
    block = await guards(store, budget_per_namespace=0).check(decision(pod_plan()))
    assert block is not None and block.guard == "budget"


async def test_acquire_is_all_or_nothing_on_a_full_namespace(store: Store) -> None:
    g = guards(store, budget_per_namespace=1, budget_per_cluster=2)
    assert await g.acquire(decision(pod_plan(pod="a"), run="r1")) is None
    blocked = await g.acquire(decision(pod_plan(pod="b"), run="r2"))
    assert blocked is not None and blocked.guard == "budget"
    # the cluster window was not charged by the blocked acquire: one more elsewhere fits
    assert await g.acquire(decision(pod_plan(ns="other"), run="r3")) is None
    assert await store.reservations.owner("rate:pb:Pod/shop/b") is None


async def test_acquire_is_all_or_nothing_on_a_held_lease(store: Store) -> None:
    g = guards(store, budget_per_cluster=2)
    assert await g.acquire(decision(node_plan("n1", drain=True), run="r1")) is None
    blocked = await g.acquire(decision(node_plan("n2", drain=True), run="r2"))
    assert blocked is not None and blocked.guard == "concurrency"
    assert "another node drain is in progress (step 0 of run r1)" in blocked.reason
    assert await store.reservations.owner("lease:node:n2") is None  # its node lease was given back
    assert await store.reservations.owner("rate:pb:Node/-/n2") is None
    # and its budget unit: the second cluster unit is still free
    assert await g.acquire(decision(pod_plan(), run="r3")) is None


async def test_acquire_twice_with_the_same_holder_counts_once(store: Store) -> None:
    g = guards(store, budget_per_namespace=2)
    d = decision(pod_plan(workload="Deployment/shop/web", disruptive=True))
    assert await g.acquire(d) is None
    assert await g.acquire(d) is None  # a retry after a crash
    assert await g.check(d) is None
    assert await g.acquire(decision(pod_plan(pod="web-2"), run="r2")) is None
    third = await g.acquire(decision(pod_plan(pod="web-3"), run="r3"))
    assert third is not None and "had 2 writes" in third.reason


async def test_release_without_write_gives_back_budget_and_rate_limit(store: Store) -> None:
    g = guards(store, budget_per_namespace=1)
    d = decision(pod_plan(workload="Deployment/shop/web", disruptive=True))
    assert await g.acquire(d) is None
    await g.release(d, wrote=False)
    assert await store.reservations.owner("rate:pb:Pod/shop/web-1") is None
    assert await store.reservations.owner("lease:workload:Deployment/shop/web") is None
    again = decision(pod_plan(workload="Deployment/shop/web", disruptive=True), run="r2")
    assert await g.acquire(again) is None


async def test_release_after_write_keeps_budget_and_rate_limit_frees_leases(store: Store) -> None:
    g = guards(store, budget_per_namespace=2)
    d = decision(pod_plan(workload="Deployment/shop/web", disruptive=True))
    assert await g.acquire(d) is None
    await g.release(d, wrote=True)
    assert await store.reservations.owner("lease:workload:Deployment/shop/web") is None
    # The rate limit counts the workload: another pod of the same Deployment is the same target.
    same_target = await g.acquire(
        decision(pod_plan(pod="web-9", workload="Deployment/shop/web", disruptive=True), run="r2")
    )
    assert same_target is not None and same_target.guard == "rate_limit"
    assert (
        "playbook pb already wrote to Deployment/shop/web within the last 14400 s (run run-1)"
        in same_target.reason
    )
    assert await g.acquire(decision(pod_plan(pod="web-2"), run="r3")) is None
    full = await g.acquire(decision(pod_plan(pod="web-4"), run="r4"))
    assert full is not None and full.guard == "budget"


async def test_concurrent_acquires_respect_the_budget(store: Store) -> None:
    g = guards(store, budget_per_namespace=3)
    ds = [decision(pod_plan(pod=f"web-{i}"), run=f"r{i}") for i in range(20)]
    blocks = await asyncio.gather(*(g.acquire(d) for d in ds))
    assert sum(b is None for b in blocks) == 3
    assert {b.guard for b in blocks if b is not None} == {"budget"}


async def test_one_drain_at_a_time_across_instances(store: Store, redis_url: str) -> None:
    other_store = Store.connect(redis_url, prefix=store._prefix)  # a second replica, same keys
    try:
        a, b = guards(store), guards(other_store)
        first = decision(node_plan("n1", drain=True), run="ra")
        second = decision(node_plan("n2", drain=True), run="rb")
        results = await asyncio.gather(a.acquire(first), b.acquire(second))
        assert sum(r is None for r in results) == 1
        winner, loser = (first, second) if results[0] is None else (second, first)
        (ga, gb) = (a, b) if winner is first else (b, a)
        assert (await gb.check(loser)) is not None
        await ga.release(winner, wrote=True)
        assert await gb.acquire(loser) is None
    finally:
        await other_store.close()


async def test_one_disruptive_action_per_workload_and_node(store: Store) -> None:
    g = guards(store, rate_limit_seconds=0)
    web = decision(pod_plan(pod="web-1", workload="Deployment/shop/web", disruptive=True), run="r1")
    assert await g.acquire(web) is None
    same = decision(pod_plan(pod="web-2", workload="Deployment/shop/web", disruptive=True), run="r2")
    block = await g.acquire(same)
    assert block is not None and block.guard == "concurrency"
    assert "workload Deployment/shop/web is already being disrupted by step 0 of run r1" in block.reason
    assert (
        await g.acquire(decision(pod_plan(pod="api-1", workload="Deployment/shop/api", disruptive=True)))
        is None
    )
    assert await g.acquire(decision(node_plan("n1", drain=False), run="c1")) is None
    cordon_again = await g.acquire(decision(node_plan("n1", drain=False), run="c2"))
    assert cordon_again is not None and "node n1 is already being disrupted" in cordon_again.reason
    # a non-disruptive write to the workload takes no lease
    assert await g.acquire(decision(pod_plan(pod="web-3", workload="Deployment/shop/web"), run="r3")) is None


async def test_rate_limit_is_per_playbook_and_shared_by_a_run(store: Store) -> None:
    g = guards(store)
    assert await g.acquire(decision(pod_plan(), step=0)) is None
    assert await g.acquire(decision(pod_plan(), step=1)) is None  # another step of the same run
    await g.release(decision(pod_plan(), step=1), wrote=False)  # step 1 did not take it: kept
    assert await store.reservations.owner("rate:pb:Pod/shop/web-1") == "run-1:0"
    assert await g.acquire(decision(pod_plan(), run="r2", playbook="other")) is None
    blocked = await g.check(decision(pod_plan(), run="r3"))
    assert blocked is not None and blocked.guard == "rate_limit"


async def test_rate_limit_zero_disables_it(store: Store) -> None:
    g = guards(store, rate_limit_seconds=0)
    assert await g.acquire(decision(pod_plan(), run="r1")) is None
    assert await g.acquire(decision(pod_plan(), run="r2")) is None


async def test_dry_run_and_check_reserve_nothing(store: Store) -> None:
    g = guards(store, budget_per_namespace=1)
    plan = pod_plan(workload="Deployment/shop/web", disruptive=True, drain=True)
    assert await g.check(decision(plan)) is None
    assert await g.acquire(decision(plan, dry_run=True)) is None
    assert await g.acquire(decision(plan.model_copy(update={"dry_run": True}), run="r2")) is None
    assert await guards(store, dry_run=True).acquire(decision(plan, run="r3")) is None
    state = await store.reservations.probe(
        "x",
        windows=["budget:ns:shop", "budget:cluster"],
        now_seconds=Clock()(),
        window_seconds=3600,
        claims=["lease:drain", "rate:pb:Pod/shop/web-1"],
    )
    assert state == ([0, 0], [None, None])
    await g.release(decision(plan, dry_run=True), wrote=False)
    assert await g.acquire(decision(plan, run="r4")) is None


async def test_store_reserve_primitives(any_store: Store) -> None:
    store = any_store  # the Lua scripts behave the same on Redis and in memory (fakeredis + lupa)
    windows = [("a", 1), ("b", 5)]

    async def reserve(member: str, now: float, claims: list[tuple[str, int | None, str | None]]) -> Reserved:
        return await store.reservations.reserve(
            member, windows=windows, now_seconds=now, window_seconds=10, claims=claims
        )

    async def probe(member: str, now: float) -> tuple[list[int], list[str | None]]:
        return await store.reservations.probe(
            member, windows=["a", "b"], now_seconds=now, window_seconds=10, claims=["k1", "k2"]
        )

    assert await reserve("r1:0", 100, [("k1", 60, "r1"), ("k2", None, None)]) == Reserved(added=True)
    assert await reserve("r1:0", 101, [("k1", 60, "r1"), ("k2", None, None)]) == Reserved(added=False)
    assert await probe("r1:0", 102) == ([0, 0], ["r1:0", "r1:0"])
    assert await probe("r2:0", 102) == ([1, 1], ["r1:0", "r1:0"])
    full = await reserve("r2:0", 102, [])
    assert (full.ok, full.full_window, full.used) == (False, 0, 1)
    # m1's entry (t=100) leaves the window at t=110; the claims are checked before anything is written
    held = await reserve("r2:0", 110, [("k1", 60, "r2"), ("k3", 60, None)])
    assert (held.ok, held.held_claim, held.owner) == (False, 0, "r1:0")
    assert await probe("r2:0", 110) == ([0, 0], ["r1:0", "r1:0"])
    assert await store.reservations.owner("k3") is None
    # another step of run r1 shares k1 (group r1) but not k2 (no group)
    assert (await reserve("r1:1", 110, [("k1", 60, "r1")])).ok
    assert await probe("r1:1", 110) == ([0, 0], ["r1:0", "r1:0"])
    no_group = await store.reservations.reserve(
        "r1:2", windows=[], now_seconds=111, window_seconds=10, claims=[("k2", 60, None)]
    )
    assert (no_group.held_claim, no_group.owner) == (0, "r1:0")
    await store.reservations.unreserve(
        "r1:1", windows=["a", "b"], claims=["k1", "k2"]
    )  # leaves; owns neither claim
    assert await probe("x", 111) == ([0, 0], ["r1:0", "r1:0"])
    await store.reservations.unreserve("r1:0", windows=["a", "b"], claims=["k1", "k2"])
    assert await probe("x", 111) == ([0, 0], [None, None])
    zero = await store.reservations.reserve(
        "m", windows=[("c", 0)], now_seconds=1, window_seconds=10, claims=[]
    )
    assert zero.full_window == 0
