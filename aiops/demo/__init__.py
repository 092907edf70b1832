"""``aiops demo``: the whole product against an emulated cluster, on an embedded default.

Starts kmock's Kubernetes emulator in-process (extended with the API semantics in
``aiops.emulator.emulator``), seeds it with failing workloads (``aiops.demo.seed``), runs the
real operator, pipeline, executor, approval gate and API against it, shows incidents, the
steps that ran at once and the pending approvals, takes decisions (interactively, or through
the public API with ``--script``) and verifies that each approved action landed in the cluster.

Uses the Redis at ``REDIS_URL`` when one answers (under a throwaway key prefix, removed at the
end), otherwise an in-process store with the same semantics; it says which at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from aiops import client as client_mod
from aiops import runtime
from aiops.chat.console import ConsoleChannel
from aiops.demo import prompt, seed, tables
from aiops.emulator import controllers as controllers_mod
from aiops.emulator import emulator as emulator_mod
from aiops.settings import (
    ActionSettings,
    ApiSettings,
    KubeSettings,
    SafetySettings,
    Settings,
)
from aiops.store import Store
from aiops.store.sweep import delete_prefix

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


class Interrupted(Exception):
    """Ctrl-C (SIGINT) stopped the demo; everything it started has been stopped and cleaned up."""


#: Which playbook's approved steps each cluster check proves (``aiops/defaults/rules.yaml``).
CHECKS_BY_PLAYBOOK = {
    "crash_loop_remediation": ("crash-looping pod deleted (its ReplicaSet replaces it)",),
    "oom_kill_remediation": ("cart memory limit raised above 256Mi", "cart image unchanged by the patch"),
    "node_not_ready_remediation": ("worker-2 cordoned", "worker-2 drained through the Eviction API"),
    "deployment_rollback": ("payments rolled back to shop/payments:1.4.2",),
}


async def _runs(services: runtime.Services) -> list[dict[str, Any]]:
    runs = reversed(await services.runs.recent(limit=100))
    return [run.model_dump(mode="json", by_alias=True) for run in runs]


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


#: Signals that stop the demo cleanly: Ctrl-C, and ``kill`` (SIGTERM).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _SigintStops:
    """Ctrl-C (or SIGTERM) cancels the demo's task (once; a second one only says it is stopping).

    kopf and uvicorn take SIGINT over when they start (each to stop only itself), so :meth:`arm`
    is called again once they run. The handler runs on the event loop, which a waiting prompt
    never blocks, so Ctrl-C works at every prompt and during every wait.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self.task: asyncio.Task[Any] | None = None
        self.fired = False

    def arm(self) -> None:
        """(Re)install the handlers; a no-op where signals cannot be handled (not the main thread)."""
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signum, self._fire)

    def disarm(self) -> None:
        """Give the signals back to Python's default handlers."""
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signum)

    def _fire(self) -> None:
        if self.fired:
            self._console.print("\n[yellow]still stopping: the operator and the API are shutting down…[/]")
            return
        self.fired = True
        self._console.print("\n[yellow]stopping the demo (Ctrl-C); nothing more will be decided…[/]")
        if self.task is not None:
            self.task.cancel()


async def run_demo(*, redis_url: str | None, interactive: bool, console: Console) -> dict[str, Any]:
    """Run the demo end to end and return the report (incidents, runs, decisions, audit, cluster
    checks, ``ok``). Raises :class:`Interrupted` after a clean stop on Ctrl-C."""
    sigint = _SigintStops(console)
    task = asyncio.create_task(
        _run_demo(redis_url=redis_url, interactive=interactive, console=console, on_started=sigint.arm)
    )
    sigint.task = task
    sigint.arm()
    try:
        return await task
    except asyncio.CancelledError:
        if sigint.fired:
            raise Interrupted from None
        raise
    finally:
        sigint.disarm()


async def _run_demo(
    *, redis_url: str | None, interactive: bool, console: Console, on_started: Callable[[], None]
) -> dict[str, Any]:
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
            # Chat (AIOPS_SLACK__*, AIOPS_TELEGRAM__*) and approvers come from the environment, as
            # for `aiops run`: with a chat configured its buttons drive the demo's approvals too.
            from_env = Settings()
            settings = Settings(
                redis_url=redis_url or "redis://127.0.0.1:6379/0",
                kube=KubeSettings(server=emu.url),
                api=ApiSettings(host="127.0.0.1", port=0, tokens={"demo-sre": token}),
                # One person drives the demo: every step needs one approver (a real drain needs two).
                approvals=from_env.approvals.model_copy(
                    update={"sweep_interval_seconds": 1.0, "votes_by_action": {}}
                ),
                actions=ActionSettings(eviction_retry_seconds=0.2, eviction_timeout_seconds=10.0),
                # Short enough to watch: each write's outcome must hold 2 s, within 20 s.
                safety=SafetySettings(
                    verify_settle_seconds=2.0, verify_timeout_seconds=20.0, verify_poll_seconds=0.5
                ),
            )
            services = await runtime.build(
                settings, store=store, extra_channels=_console_channel(settings, console)
            )
            stop = asyncio.Event()
            ready, api_started = asyncio.Event(), asyncio.Event()
            server = asyncio.create_task(
                runtime.serve(services, stop=stop, operator_ready=ready, api_started=api_started)
            )
            try:
                with console.status("starting the operator and the API…"):
                    await asyncio.wait_for(asyncio.gather(ready.wait(), api_started.wait()), timeout=30)
                on_started()  # kopf and uvicorn took SIGINT over as they started: take it back
                port = services.api_port or 0
                console.print(f"[bold]api:[/] http://127.0.0.1:{port} (token for identity demo-sre: {token})")
                async with controllers_mod.running_controllers(emu):  # replace pods, finish rollouts
                    report = await _drive(
                        services, emu, port, token, interactive=interactive, console=console
                    )
            finally:
                stop.set()
                await server
                await services.stop_work()  # the store stays open: the demo's keys are removed below
                if services.chat is not None:
                    await services.chat.close()
                await services.kube.close()
            report["store"] = store_desc
            return report
    finally:
        await delete_prefix(store)
        await store.close()


def _console_channel(settings: Settings, console: Console) -> list[ConsoleChannel]:
    """The console channel when no chat is configured (the incident messages shown here as it
    renders them, an update only when the pending step, a decision or the status changed); none when
    Slack or Telegram is configured (the messages and their buttons are there)."""
    chat = [name for name, on in (("Slack", settings.slack), ("Telegram", settings.telegram)) if on.enabled]
    if chat:
        console.print(f"[bold]chat:[/] {' and '.join(chat)} (the messages and their buttons are live)")
        return []
    console.print("[bold]chat:[/] none configured; the incident messages are shown here (console channel)")
    return [ConsoleChannel(console, changes_only=True)]


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
    decisions: dict[str, dict[str, str]] = {}  # request id -> {run_id, step, decision}
    async with client_mod.AiopsClient(f"http://127.0.0.1:{port}", token) as api:
        console.print(tables.incidents(await api.incidents()))
        console.print(tables.steps(await _runs(services)))
        if interactive:
            console.print(
                "[bold]Each waiting step is shown in full; nothing runs unless you approve it.[/] "
                "Enter skips, Ctrl-C stops the demo."
            )
        for _round in range(10):  # a decision can unblock the next medium/high step of a run
            # Writes are verified before a run goes on: wait for that before asking again.
            with console.status("verifying the outcome of the approved writes…"):
                await _wait_for(_settled, timeout_seconds=60, settle_seconds=0.5)
            waiting = [r for r in await api.approvals("pending") if r["id"] not in decisions]
            left = sum(1 for d in decisions.values() if d["decision"] == prompt.Decision.SKIP)
            if not waiting and left:
                console.print(f"no other pending approvals ({left} skipped, left pending)")
            else:
                console.print(tables.pending(waiting))
            if not waiting or not await _decide_all(api, waiting, decisions, interactive, console):
                break
        await _wait_for(_settled, timeout_seconds=30, settle_seconds=0.5)
        incidents = await api.incidents()
        audit = await api.audit()
    runs = await _runs(services)
    console.print(tables.steps(runs))
    checks = await _cluster_checks(emu)
    results, ok = _outcome(runs, checks, decisions)
    console.print(tables.checks(results))
    console.print(f"[bold]audit log:[/] {len(audit)} write(s) recorded with approver and API response")
    return {
        "ok": ok,
        "incidents": incidents,
        "runs": runs,
        "decisions": decisions,
        "audit": audit,
        "cluster_checks": checks,
    }


async def _decide_all(
    api: client_mod.AiopsClient,
    waiting: list[dict[str, Any]],
    decisions: dict[str, dict[str, str]],
    interactive: bool,
    console: Console,
) -> bool:
    """Decide each waiting request (all approved with ``--script``) and record it in
    ``decisions``; False when the person stopped answering (end of input: the rest are left
    pending) or nothing was decided (all skipped): stop asking."""
    decided = 0
    for number, req in enumerate(waiting, 1):

        def record(decision: prompt.Decision, req: dict[str, Any] = req) -> None:
            decisions[req["id"]] = {"run_id": req["run_id"], "step": req["step_name"], "decision": decision}

        decision = prompt.Decision.APPROVE
        if interactive:
            detail = await _incident_with_rca(api, req["incident_id"], console)
            console.print()
            for line in prompt.request_lines(req, detail, number=number, total=len(waiting)):
                console.print(Text(line), highlight=False)
            answer = await prompt.ask(console, req)
            if answer is None:
                console.print("[yellow]end of input: no more questions; the rest are left pending[/]")
                for rest in waiting[number - 1 :]:
                    record(prompt.Decision.SKIP, rest)
                return False
            decision = answer
        record(decision)
        if decision is prompt.Decision.SKIP:
            console.print(f"  [dim]skipped[/] {escape(req['step_name'])}: left pending")
            continue
        try:
            result = await api.decide(
                req["id"], approve=decision is prompt.Decision.APPROVE, reason="decided in aiops demo"
            )
        except client_mod.ApiClientError as error:  # expired meanwhile, or decided elsewhere
            console.print(f"  [yellow]not decided[/] {escape(req['step_name'])}: {escape(str(error))}")
            continue
        decided += 1
        run = result.get("run") or {}
        verb = "[green]approved[/]" if decision is prompt.Decision.APPROVE else "[red]rejected[/]"
        console.print(f"  {verb} {escape(req['step_name'])} → run {run.get('state')}")
    return decided > 0


async def _incident_with_rca(
    api: client_mod.AiopsClient, incident_id: str, console: Console, *, timeout_seconds: float = 15.0
) -> dict[str, Any] | None:
    """``GET /api/incidents/{id}`` once its enrichment (the RCA) is there, or as it is after
    ``timeout_seconds``; None when the API does not answer. The enricher reads logs and events
    in the background, so the RCA may come a moment after the request."""
    deadline = time.monotonic() + timeout_seconds
    detail: dict[str, Any] | None = None
    with console.status("reading the incident's root-cause analysis…"):
        while True:
            try:
                detail = await api.incident(incident_id)
            except client_mod.ApiClientError:
                return detail
            if detail.get("enrichment") or time.monotonic() >= deadline:
                return detail
            await asyncio.sleep(0.2)


def _outcome(
    runs: list[dict[str, Any]], checks: dict[str, bool], decisions: dict[str, dict[str, str]]
) -> tuple[list[tuple[str, str]], bool]:
    """The result line of each cluster check, and whether the demo went as decided: every run
    succeeded (its checks hold), or was rejected, or was left waiting because the person skipped
    its step. Rejecting or skipping is a normal outcome; a failed, stopped or expired run is not."""
    state_of = {run["playbook_id"]: run["state"] for run in runs}
    skipped = {d["run_id"] for d in decisions.values() if d["decision"] == prompt.Decision.SKIP}
    results: list[tuple[str, str]] = []
    ok = bool(runs)
    for playbook_id, names in CHECKS_BY_PLAYBOOK.items():
        state = state_of.get(playbook_id)
        for name in names:
            if checks.get(name):
                results.append((name, "yes"))
            elif state == "rejected":
                results.append((name, "not done: rejected"))
            elif state == "waiting_approval":
                results.append((name, "not done: left pending"))
            else:
                results.append((name, "NO"))
                ok = False
    as_decided = ("succeeded", "rejected")
    ok = ok and all(
        run["state"] in as_decided or (run["state"] == "waiting_approval" and run["id"] in skipped)
        for run in runs
    )
    return results, ok
