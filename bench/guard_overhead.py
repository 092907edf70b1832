"""What the blast-radius guards add to one write step, with the real Redis (one process, one core).

Workload: 5,000 write decisions over 50 namespaces, 500 Deployments and 20 nodes: pod deletions
(with a workload lease and a PodDisruptionBudget to check), workload restarts, cordons and drains
(one drain lease), each with the namespace and cluster budgets, the rate-limit claim and the
storm facts to evaluate. Phases, timed one decision at a time on a fresh key prefix:
``check`` (read-only, before the approval request: one Redis round trip), ``acquire`` (one Lua
script) and ``release`` (one Lua script), and acquire+release together (reserve right
before acting, then release with wrote=False, which gives everything back, so that every decision
takes the pass path: every guard runs and every reservation is taken and undone). Budgets are set
high enough that nothing is blocked. As a baseline, one plain Redis round trip (a GET through the
Store) is timed next to each decision: on a loaded machine the tail is the event loop's and
Redis's scheduling, not the guards'. Redis: ``REDIS_URL`` or ``redis://127.0.0.1:6379/0``; every
key is deleted afterwards.
Goal: p99 under 1 ms per write decision.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

from aiops.actions.plan import Facts, Plan, PlannedCall, PodRemoval
from aiops.metrics import Metrics
from aiops.safety.guard_rules import WriteDecision
from aiops.safety.guards import Guards
from aiops.settings import SafetySettings
from aiops.store.sweep import delete_prefix
from bench.common import bench_store, report, summary_ms

DECISIONS = int(os.environ.get("BENCH_GUARD_DECISIONS", "5000"))
NAMESPACES, DEPLOYMENTS, NODES = 50, 500, 20
PLANNED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def make_decision(i: int) -> WriteDecision:
    """The i-th decision: a pod deletion, a restart, a cordon or a drain, in turn."""
    ns = f"team-{i % NAMESPACES}"
    deploy = f"web-{i % DEPLOYMENTS}"
    node = f"node-{i % NODES}"
    kind = i % 4
    if kind in (0, 1):
        action = "delete_pod" if kind == 0 else "restart_workload"
        pod = f"{deploy}-{i:05d}"
        path = (
            f"/api/v1/namespaces/{ns}/pods/{pod}"
            if kind == 0
            else f"/apis/apps/v1/namespaces/{ns}/deployments/{deploy}"
        )
        budget = {
            "name": f"{deploy}-pdb",
            "disruptions_allowed": 1,
            "current_healthy": 3,
            "desired_healthy": 2,
            "unhealthy_pod_eviction_policy": None,
        }
        removals = [PodRemoval(namespace=ns, name=pod, ready=True, budgets=[budget])] if kind == 0 else []
        plan = Plan(
            action=action,
            target=f"Pod/{ns}/{pod}" if kind == 0 else f"Deployment/{ns}/{deploy}",
            planned_at=PLANNED_AT,
            calls=[PlannedCall(method="DELETE" if kind == 0 else "PATCH", path=path, object=path)],
            facts=Facts(
                namespaces={ns: {"team": ns}},
                workload=f"Deployment/{ns}/{deploy}",
                workload_replicas=3,
                workload_unavailable=1,
                pod_removals=removals,
                nodes_total=NODES,
                nodes_not_ready=1,
                disruptive=True,
            ),
        )
    else:
        action = "cordon" if kind == 2 else "drain"
        path = f"/api/v1/nodes/{node}"
        plan = Plan(
            action=action,
            target=f"Node/-/{node}",
            planned_at=PLANNED_AT,
            calls=[PlannedCall(method="PATCH", path=path, object=f"Node/-/{node}")],
            facts=Facts(node=node, nodes_total=NODES, nodes_not_ready=1, disruptive=True, drain=kind == 3),
        )
    return WriteDecision(
        run_id=f"run-{i}",
        step_index=0,
        playbook_id=f"pb-{i % 7}",
        incident_id=f"inc-{i}",
        action=action,
        plan=plan,
    )


async def main() -> dict[str, Any]:
    """Time check and acquire+release per decision; the result keys are prefixed by phase."""
    store = await bench_store()
    try:
        settings = SafetySettings(
            budget_per_namespace=DECISIONS, budget_per_cluster=DECISIONS, rate_limit_seconds=3600
        )
        metrics = Metrics()
        guards = Guards(store, settings, metrics=metrics, protected_namespaces=["aiops-system"])
        decisions = [make_decision(i) for i in range(DECISIONS)]
        for d in decisions[:200]:  # warm up: connections, script SHAs
            await guards.check(d)
        checks: list[float] = []
        cycles: list[float] = []
        acquires: list[float] = []
        releases: list[float] = []
        round_trips: list[float] = []
        blocked = 0
        for d in decisions:
            start = time.perf_counter()
            await store.claim_owner("baseline")
            round_trips.append(time.perf_counter() - start)
            start = time.perf_counter()
            block = await guards.check(d)
            checks.append(time.perf_counter() - start)
            start = time.perf_counter()
            block = block or await guards.acquire(d)
            middle = time.perf_counter()
            await guards.release(d, wrote=False)
            end = time.perf_counter()
            acquires.append(middle - start)
            releases.append(end - middle)
            cycles.append(end - start)
            blocked += block is not None
        result: dict[str, Any] = {"decisions": DECISIONS, "blocked": blocked}
        phases = (
            ("check", checks),
            ("acquire", acquires),
            ("release", releases),
            ("acquire_release", cycles),
            ("one_redis_round_trip", round_trips),
        )
        for phase, samples in phases:
            for key, value in summary_ms(samples).items():
                result[f"{phase}.{key}"] = value
        return result
    finally:
        await delete_prefix(store)
        await store.close()


def run() -> None:
    """Run and print the benchmark."""
    report("guard_overhead", asyncio.run(main()), "p99 < 1 ms per write decision (check, acquire+release)")


if __name__ == "__main__":
    run()
