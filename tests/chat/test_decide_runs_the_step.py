"""A chat click drives the real runtime: two approvals from Slack and Telegram restart the pod.

Against the whole runtime (kopf operator, API, emulated Kubernetes, real Redis) with a
crash-looping Deployment whose restart needs two people (``approvals.votes_medium: 2``): the
:class:`aiops.chat.decide.Decider` built on the runtime's gate, audit log and executor counts
alice's Slack click as vote 1/2 (the pod is still there), refuses her Telegram click, and bob's
Telegram click approves and runs the step at once (the pod is deleted once, the run continues).
"""

from __future__ import annotations

import asyncio

from aiops.chat.clicks import ChatIdentity, Click, ClickOutcome
from aiops.chat.decide import Decider
from aiops.emulator.controllers import running_controllers
from aiops.settings import ApprovalSettings
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, make_settings, writes

ALLOWED = {"slack": frozenset({"C1"}), "telegram": frozenset({"-100"})}


async def test_two_chat_approvals_run_the_step_once(harness: Harness) -> None:
    harness.settings = make_settings(
        harness.emulator,
        approvals=ApprovalSettings(
            sweep_interval_seconds=0.2,
            approvers_medium=["alice", "bob"],
            people={"alice": ["slack:T1/U1", "telegram:42"], "bob": ["slack:T1/U2", "telegram:43"]},
            votes_medium=2,
        ),
    )
    pod = workloads.seed_crash_loop(harness.emulator)
    services = await harness.start()

    async def one_pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(one_pending, what="the pod restart to wait for approval")
    (request,) = await harness.pending()
    decider = Decider(
        services.gate,
        services.audit,
        services.store,
        allowed_chats=ALLOWED,
        metrics=services.metrics,
        executor=services.executor,
    )
    alice_slack = ChatIdentity(channel="slack", user_id="U1", team_id="T1", chat_id="C1")
    alice_telegram = ChatIdentity(channel="telegram", user_id="42", chat_id="-100")
    bob_telegram = ChatIdentity(channel="telegram", user_id="43", chat_id="-100")

    async with asyncio.timeout(20), running_controllers(harness.emulator):
        first = await decider.handle(Click(identity=alice_slack, request_id=request["id"], approve=True))
        assert (first.outcome, first.text) == (ClickOutcome.VOTED, "vote 1/2 recorded")
        again = await decider.handle(Click(identity=alice_telegram, request_id=request["id"], approve=True))
        assert again.outcome is ClickOutcome.REFUSED
        assert writes(harness.emulator, "DELETE") == [], "one vote runs nothing"

        second = await decider.handle(Click(identity=bob_telegram, request_id=request["id"], approve=True))
        assert (second.outcome, second.text) == (ClickOutcome.DECIDED, "approved")
        # The executor ran the step before the answer: the pod is gone at once.
        assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None
        run = await harness.finished_run(second.request.run_id if second.request else "")

    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1
    assert run["state"] == "succeeded", run
    audit = await harness.get("/api/audit")
    assert [(e["action"], e["actor"]) for e in reversed(audit)] == [
        ("approval.vote", "alice"),
        ("approval.refused", "alice"),
        ("approval.decided", "bob"),
        ("delete_pod", "bob"),
    ], "the decision is audited ahead of the write it allows"
