"""``aiops demo``: the whole product against an emulated cluster, on an embedded default.

Starts kmock's Kubernetes emulator in-process (extended with the API semantics in
``aiops.testing.emulator``), seeds it with failing workloads (``aiops.demo.seed``), runs the
real operator, pipeline, executor, approval gate and API against it, shows incidents, the
steps that ran at once and the pending approvals, takes decisions (interactively, or through
the public API with ``--script``) and verifies that each approved action landed in the cluster.

Uses the Redis at ``REDIS_URL`` when one answers (under a throwaway key prefix, removed at the
end), otherwise an in-process store with the same semantics; it says which at start.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from rich.console import Console
from rich.prompt import Prompt
from rich.table import Table

from aiops import client as client_mod
from aiops import runtime
from aiops.demo import seed
from aiops.settings import (
    ActionSettings,
    ApiSettings,
    ApprovalSettings,
    KubeSettings,
    SafetySettings,
    Settings,
)
from aiops.store import Store
from aiops.testing import controllers as controllers_mod
from aiops.testing import emulator as emulator_mod

DEMO_TOKEN_BYTES = 18


async def _choose_store(redis_url: str | None, console: Console) -> tuple[Store, str]:
    url = redis_url or "redis://127.0.0.1:6379/0"
    prefix = f"aiops-demo:{secrets.token_hex(4)}:"
    store = Store.connect(url, prefix=prefix)
    if await store.ping():
        console.print(f"[bold]store:[/] Redis at {url} (keys under {prefix}, removed at the end)")
        return store, f"redis ({url})"
    await store.close()
    console.print(f"[bold]store:[/] no Redis answers at {url}; using the in-process store (same semantics)")
    return Store.in_memory(prefix=prefix), "in-memory"


async def _wait_for(predicate: Any, *, timeout_seconds: float, settle_seconds: float = 1.0) -> None:
    """Poll ``predicate`` (async → bool) until it holds for ``settle_seconds`` or time runs out."""
    deadline = time.monotonic() + timeout_seconds
    held_since: float | None = None
    while time.monotonic() < deadline:
        if await predicate():
            held_since = held_since or time.monotonic()
            if time.monotonic() - held_since >= settle_seconds:
                return
        else:
            held_since = None
        await asyncio.sleep(0.1)


def _incident_table(incidents: list[dict[str, Any]]) -> Table:
    table = Table("incident", "type", "subject", "status", "events", title="Incidents")
    for inc in incidents:
        s = inc["subject"]
        table.add_row(
            inc["id"],
            inc["type"],
            f"{s['kind']}/{s.get('namespace') or '-'}/{s['name']}",
            inc["status"],
            str(inc["event_count"]),
        )
    return table


def _steps_table(runs: list[dict[str, Any]]) -> Table:
    colours = {
        "succeeded": "green",
        "awaiting_approval": "yellow",
        "failed": "red",
        "refused": "red",
        "rejected": "red",
        "expired": "dim",
        "pending": "dim",
    }
    table = Table(
        "run", "playbook", "step", "risk", "state", "approved by", "summary", title="Playbook steps"
    )
    for run in runs:
        for step in run["steps"]:
            colour = colours.get(step["state"], "")
            table.add_row(
                run["id"][-8:],
                run["playbook_id"],
                step["name"],
                step["risk"],
                f"[{colour}]{step['state']}[/]",
                step.get("approved_by") or "",
                (step.get("summary") or step.get("error") or "")[:70],
            )
    return table


def _approvals_table(pending: list[dict[str, Any]]) -> Table:
    table = Table(
        "#", "request", "risk", "playbook", "step", "action", "params", title="Waiting for approval"
    )
    for i, req in enumerate(pending, 1):
        params = ", ".join(f"{k}={v}" for k, v in req["params"].items() if v not in (None, ""))
        table.add_row(
            str(i),
            req["id"][:10] + "…",
            f"[bold]{req['risk']}[/]",
            req["playbook_id"],
            req["step_name"],
            req["action"],
            params[:60],
        )
    return table


async def _runs(services: runtime.Services) -> list[dict[str, Any]]:
    return [run.model_dump(mode="json") for run in reversed(await services.runs.recent(limit=100))]


async def _cluster_checks(emu: emulator_mod.ClusterEmulator) -> dict[str, bool]:
    """What the approved actions should have done to the emulated cluster."""
    ns = seed.NAMESPACE
    crash_pod = emu.get_object("v1", "pods", ns, "checkout-7d4b9c-x2k4p")
    cart = emu.get_object("apps/v1", "deployments", ns, "cart") or {}
    node = emu.get_object("v1", "nodes", None, "worker-2") or {}
    evicted = emu.get_object("v1", "pods", ns, "search-84c7f9-k2l9d")
    payments = emu.get_object("apps/v1", "deployments", ns, "payments") or {}
    cart_limit = cart.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0]
    payments_image = payments.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0]
    return {
        "crash-looping pod deleted (its ReplicaSet replaces it)": crash_pod is None,
        "cart memory limit raised above 256Mi": cart_limit.get("resources", {})
        .get("limits", {})
        .get("memory")
        not in (None, "256Mi"),
        "cart image unchanged by the patch": cart_limit.get("image") == "shop/cart:1.12.0",
        "worker-2 cordoned": bool(node.get("spec", {}).get("unschedulable")),
        "worker-2 drained through the Eviction API": evicted is None,
        "payments rolled back to shop/payments:1.4.2": payments_image.get("image") == "shop/payments:1.4.2",
    }


async def run_demo(*, redis_url: str | None, interactive: bool, console: Console) -> dict[str, Any]:
    """Run the demo end to end and return the report (incidents, runs, audit, cluster checks)."""
    store, store_desc = await _choose_store(redis_url, console)
    token = secrets.token_urlsafe(DEMO_TOKEN_BYTES)
    try:
        async with emulator_mod.running_emulator() as emu:
            for obj in seed.seed_objects():
                emu.put_object(obj)
            for namespace, pod, container, text, previous in seed.seed_logs():
                emu.set_pod_log(namespace, pod, text, container=container, previous=previous)
            console.print(
                f"[bold]cluster:[/] emulated Kubernetes API at {emu.url} "
                f"({len(seed.seed_objects())} objects seeded)"
            )
            settings = Settings(
                redis_url=redis_url or "redis://127.0.0.1:6379/0",
                kube=KubeSettings(server=emu.url),
                api=ApiSettings(host="127.0.0.1", port=0, tokens={"demo-sre": token}),
                approvals=ApprovalSettings(sweep_interval_seconds=1.0),
                actions=ActionSettings(eviction_retry_seconds=0.2, eviction_timeout_seconds=10.0),
                # Short enough to watch: each write's outcome must hold 2 s, within 20 s.
                safety=SafetySettings(
                    verify_settle_seconds=2.0, verify_timeout_seconds=20.0, verify_poll_seconds=0.5
                ),
            )
            services = await runtime.build(settings, store=store)
            stop = asyncio.Event()
            ready, api_started = asyncio.Event(), asyncio.Event()
            server = asyncio.create_task(
                runtime.serve(services, stop=stop, operator_ready=ready, api_started=api_started)
            )
            try:
                with console.status("starting the operator and the API…"):
                    await asyncio.wait_for(asyncio.gather(ready.wait(), api_started.wait()), timeout=30)
                port = services.api_port or 0
                console.print(f"[bold]api:[/] http://127.0.0.1:{port} (token for identity demo-sre: {token})")
                async with controllers_mod.running_controllers(emu):  # replace pods, finish rollouts
                    report = await _drive(
                        services, emu, port, token, interactive=interactive, console=console
                    )
            finally:
                stop.set()
                await server
                await services.executor.wait_idle(timeout_seconds=10)
                await services.kube.close()
            report["store"] = store_desc
            return report
    finally:
        await store.delete_prefix_for_tests()
        await store.close()


async def _drive(
    services: runtime.Services,
    emu: emulator_mod.ClusterEmulator,
    port: int,
    token: str,
    *,
    interactive: bool,
    console: Console,
) -> dict[str, Any]:
    async def _settled() -> bool:
        runs = await services.runs.recent()
        return bool(runs) and all(r.state.value != "running" for r in runs)

    with console.status("watching the cluster: detecting, deduplicating, running low-risk steps…"):
        await _wait_for(_settled, timeout_seconds=30, settle_seconds=1.5)
    async with client_mod.AiopsClient(f"http://127.0.0.1:{port}", token) as api:
        console.print(_incident_table(await api.incidents()))
        console.print(_steps_table(await _runs(services)))
        for _round in range(10):  # a decision can unblock the next medium/high step of a run
            # Writes are verified before a run goes on: wait for that before asking again.
            with console.status("verifying the outcome of the approved writes…"):
                await _wait_for(_settled, timeout_seconds=60, settle_seconds=0.5)
            pending = await api.approvals("pending")
            if not pending:
                break
            console.print(_approvals_table(pending))
            decided = 0
            for req in pending:
                approve = True
                if interactive:
                    answer = Prompt.ask(
                        f"[bold]{req['action']}[/] {req['step_name']} ({req['risk']})",
                        choices=["approve", "reject", "skip"],
                        default="approve",
                        console=console,
                    )
                    if answer == "skip":
                        continue
                    approve = answer == "approve"
                result = await api.decide(req["id"], approve=approve, reason="decided in aiops demo")
                decided += 1
                run = result.get("run") or {}
                console.print(
                    f"  {'[green]approved' if approve else '[red]rejected'}[/] {req['step_name']} → "
                    f"run {run.get('state')}"
                )
            if not decided:  # everything left was skipped: stop asking
                break
        await _wait_for(_settled, timeout_seconds=30, settle_seconds=0.5)
        incidents = await api.incidents()
        audit = await api.audit()
    runs = await _runs(services)
    console.print(_steps_table(runs))
    checks = await _cluster_checks(emu)
    table = Table("check", "result", title="In the cluster after approval")
    for name, passed in checks.items():
        table.add_row(name, "[green]yes[/]" if passed else "[yellow]not done[/]")
    console.print(table)
    console.print(f"[bold]audit log:[/] {len(audit)} write(s) recorded with approver and API response")
    ok = all(checks.values()) and all(run["state"] == "succeeded" for run in runs)
    return {"ok": ok, "incidents": incidents, "runs": runs, "audit": audit, "cluster_checks": checks}
