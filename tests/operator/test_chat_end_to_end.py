"""Chat approvals end to end: the real runtime, Slack and Telegram through their SDKs and local mocks.

The whole runtime (kopf operator over HTTP against the emulated Kubernetes API, the API app,
real Redis) with Slack in HTTP mode and Telegram in webhook mode, both pointed at local mock
servers (tests/support/slack_mock.py, telegram_mock.py), so what is tested is the wire contract:
the ``chat.postMessage``/``chat.update`` bodies and the ``sendMessage``/``editMessageText``
params, and the signed interactions Slack and Telegram would post to ``/slack/events`` and
``/telegram/webhook``.

Covers: a crash-looping pod opens an incident whose message, with Approve/Reject, reaches both
channels; an approve click in Telegram deletes the pod once, both messages lose their buttons
and say who approved, and the step's result follows in the Slack thread; a click from someone
who is not an approver is refused (ephemeral in Slack) and audited; 100 concurrent clicks from
both channels run the step exactly once; a Slack whose Web API fails leaves the pipeline and
Telegram going, and the message is posted once Slack answers again; a drain needs two people
across channels (the same person twice is one vote); with the RBAC check on, a vote needs the
emulated API server's SubjectAccessReview to agree; Slack's Socket Mode and Telegram's long
polling (both services' defaults) carry a click into the runtime too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from pydantic import SecretStr

from aiops.chat.clicks import callback_data
from aiops.emulator.controllers import running_controllers
from aiops.settings import ApprovalSettings, SlackSettings, TelegramSettings
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, make_settings, writes
from tests.support.slack_mock import TEAM_ID, SlackMock, serve_slack_mock
from tests.support.telegram_mock import TelegramMock, serve_telegram_mock

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
CHANNEL = "C0INCIDENTS"
BOT_TOKEN = "123456:E2E-token_abcdefghijklmnopqrstuv"
WEBHOOK_SECRET = "e2e-webhook-Secret_1"
GROUP = -1001234567890
ALICE_SLACK, BOB_SLACK, EVE_SLACK = "U0ALICE", "U0BOB", "U0EVE"
ALICE_TG, BOB_TG = 4242, 4343
PEOPLE = {
    "alice": ["alice", f"slack:{TEAM_ID}/{ALICE_SLACK}", f"telegram:{ALICE_TG}"],
    "bob": ["bob", f"slack:{TEAM_ID}/{BOB_SLACK}", f"telegram:{BOB_TG}"],
}


@pytest.fixture
async def slack() -> AsyncIterator[SlackMock]:
    async with serve_slack_mock() as mock:
        yield mock


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramMock]:
    async with serve_telegram_mock() as mock:
        yield mock


def chat_settings(harness: Harness, slack: SlackMock, telegram: TelegramMock) -> None:
    """Slack (HTTP mode) and Telegram (webhook mode) at the mocks; alice and bob approve."""
    harness.settings = make_settings(
        harness.emulator,
        approvals=ApprovalSettings(
            sweep_interval_seconds=0.2,
            approvers_medium=["alice", "bob"],
            approvers_high=["alice", "bob"],
            people=PEOPLE,
        ),
        slack=SlackSettings(
            bot_token=SecretStr("xoxb-e2e"),
            signing_secret=SecretStr(SIGNING_SECRET),
            channel=CHANNEL,
            api_url=slack.api_url,
            mode="http",
        ),
        telegram=TelegramSettings(
            bot_token=SecretStr(BOT_TOKEN),
            chat_ids=[GROUP],
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            api_url=telegram.api_url,
            mode="webhook",
        ),
    )


def slack_renders(slack: SlackMock) -> list[dict[str, Any]]:
    """Every top-level render of the incident message (posts outside a thread, and edits)."""
    posts = [b for b in slack.bodies("chat.postMessage") if not b.get("thread_ts")]
    return posts + slack.bodies("chat.update")


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    """The request ids on the Approve buttons in ``blocks``."""
    return [
        element["value"]
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("action_id") == "aiops_approve"
    ]


def tg_keyboards(telegram: TelegramMock) -> list[str]:
    """Every callback_data of every inline keyboard sent (posts and edits)."""
    found: list[str] = []
    for method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
        for params in telegram.of(method):
            markup = params.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            for row in markup.get("inline_keyboard", []):
                found += [button.get("callback_data", "") for button in row]
    return found


def signed_click(
    request_id: str, user: str, *, approve: bool = True, ts: str = "1"
) -> tuple[bytes, dict[str, str]]:
    """A ``block_actions`` interaction on the incident message, signed as Slack signs it:
    ``v0=`` + HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the signing secret
    (https://api.slack.com/authentication/verifying-requests-from-slack)."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "aiops"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A1",
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False},
        "trigger_id": f"trigger-{user}-{ts}",
        "channel": {"id": CHANNEL, "name": "incidents"},
        "message": {"type": "message", "ts": ts, "text": "incident", "blocks": [], "user": "UBOT"},
        "actions": [
            {
                "type": "button",
                "action_id": "aiops_approve" if approve else "aiops_reject",
                "block_id": "aiops_decide",
                "value": request_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return body, headers


def tg_click(update_id: int, request_id: str, user: int, *, approve: bool = True) -> dict[str, Any]:
    """A callback_query Update from ``user`` in the group (https://core.telegram.org/bots/api#update)."""
    data = callback_data(request_id, approve)
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq-{update_id}",
            "from": {"id": user, "is_bot": False, "first_name": f"user{user}"},
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": 101,
                "date": 1_700_000_000,
                "chat": {"id": GROUP, "type": "supergroup", "title": "oncall"},
                "text": "incident",
                "reply_markup": {"inline_keyboard": [[{"text": "Approve", "callback_data": data}]]},
            },
        },
    }


async def pending_everywhere(harness: Harness, slack: SlackMock, telegram: TelegramMock) -> str:
    """Wait for the pod restart to be pending and for both channels to show its buttons."""

    async def one_pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(one_pending, what="the pod deletion to wait for approval")
    (request,) = await harness.pending()
    request_id = str(request["id"])

    async def shown() -> bool:
        in_slack = any(request_id in buttons(r.get("blocks") or []) for r in slack_renders(slack))
        return in_slack and callback_data(request_id, True) in tg_keyboards(telegram)

    await eventually(shown, what="both channels to show Approve for the request")
    return request_id


async def test_an_approve_click_in_telegram_runs_the_step_and_updates_both_channels(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    chat_settings(harness, slack, telegram)
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request_id = await pending_everywhere(harness, slack, telegram)
    first_post = next(b for b in slack.bodies("chat.postMessage") if not b.get("thread_ts"))
    assert first_post["channel"] == CHANNEL and "crash_loop" in json.dumps(first_post["blocks"])

    async with harness.api(None) as http, running_controllers(harness.emulator), asyncio.timeout(30):
        body, headers = signed_click(request_id, EVE_SLACK)
        eve = await http.post("/slack/events", content=body, headers=headers)
        assert eve.status_code == 200
        await slack.wait(lambda: bool(slack.bodies("chat.postEphemeral")), within_seconds=10)
        refusal = slack.bodies("chat.postEphemeral")[0]
        assert refusal["user"] == EVE_SLACK and "not an approver" in refusal["text"]

        answer = await http.post(
            "/telegram/webhook",
            json=tg_click(1, request_id, ALICE_TG),
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
        assert answer.status_code == 200
        assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None

        async def updated_everywhere() -> bool:
            last_slack = slack_renders(slack)[-1]
            edits = telegram.of("editMessageText")
            return (
                "approved by alice" in json.dumps(last_slack.get("blocks"))
                and not buttons(last_slack.get("blocks") or [])
                and bool(edits)
                and "approved by alice" in str(edits[-1].get("text"))
                and not edits[-1].get("reply_markup")
                and any(
                    "delete" in b["text"] and "alice" in b["text"]
                    for b in slack.bodies("chat.postMessage")
                    if b.get("thread_ts")
                )
            )

        await eventually(updated_everywhere, what="both messages to say approved, and a thread reply")

    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1
    replies = [b["text"] for b in slack.bodies("chat.postMessage") if b.get("thread_ts")]
    assert any("delete" in r and "succeeded" in r and "alice" in r for r in replies), replies
    assert telegram.of("answerCallbackQuery"), "every click is answered"
    audit = await harness.get("/api/audit")
    refused = [e for e in audit if e["action"] == "approval.refused"]
    assert [e["params"]["identity"] for e in refused] == [f"slack:{TEAM_ID}/{EVE_SLACK}"]
    assert [e["actor"] for e in audit if e["action"] == "approval.decided"] == ["alice"]


async def test_a_hundred_concurrent_clicks_from_both_channels_run_the_step_once(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    chat_settings(harness, slack, telegram)
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request_id = await pending_everywhere(harness, slack, telegram)

    async with harness.api(None) as http, running_controllers(harness.emulator), asyncio.timeout(60):

        async def one(n: int) -> httpx.Response:
            if n % 2:
                user = ALICE_TG if n % 4 == 1 else BOB_TG
                return await http.post(
                    "/telegram/webhook",
                    json=tg_click(1000 + n, request_id, user),
                    headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                )
            body, headers = signed_click(request_id, ALICE_SLACK if n % 4 == 0 else BOB_SLACK, ts=str(n))
            return await http.post("/slack/events", content=body, headers=headers)

        answers = await asyncio.gather(*(one(n) for n in range(100)))
        assert {a.status_code for a in answers} == {200}

        async def answered() -> bool:
            return len(telegram.of("answerCallbackQuery")) == 50

        await eventually(answered, timeout_seconds=30, what="every Telegram click to be answered")

    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1, "one execution"
    audit = await harness.get("/api/audit?limit=1000")
    assert len([e for e in audit if e["action"] == "approval.decided"]) == 1
    assert len([e for e in audit if e["action"] == "delete_pod"]) == 1


async def test_a_failing_slack_holds_up_neither_the_pipeline_nor_telegram(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    chat_settings(harness, slack, telegram)
    for _ in range(2):  # Slack's Web API is down for the first two posts (500, then a 429)
        slack.fail_next("chat.postMessage", status=500, error=None)
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def posted_in_telegram() -> bool:
        return bool(telegram.of("sendMessage")) and len(await harness.pending()) == 1

    await eventually(posted_in_telegram, what="Telegram and the pipeline to go on while Slack fails")
    assert not [b for b in slack.bodies("chat.postMessage") if not b.get("thread_ts")][2:]

    async def posted_in_slack_once() -> bool:
        posts = [b for b in slack.bodies("chat.postMessage") if not b.get("thread_ts")]
        (request,) = await harness.pending()
        return len(posts) == 3 and request["id"] in buttons(slack_renders(slack)[-1].get("blocks") or [])

    await eventually(
        posted_in_slack_once, timeout_seconds=30, what="Slack to get the message once it answers"
    )
    # Two failed attempts, then one post (of the latest render: the ones queued meanwhile coalesced);
    # every later render is an edit of that message.
    assert len([b for b in slack.bodies("chat.postMessage") if not b.get("thread_ts")]) == 3
    assert len([p for p in telegram.of("sendMessage") if not p.get("reply_parameters")]) == 1


async def test_a_drain_needs_two_people_across_channels(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    chat_settings(harness, slack, telegram)
    workloads.seed_not_ready_node(harness.emulator, max_unavailable=1)
    await harness.start()

    async def pending(action: str) -> str | None:
        found = [r["id"] for r in await harness.pending() if r["action"] == action]
        return str(found[0]) if found else None

    async def cordon_waits() -> bool:
        return await pending("cordon") is not None

    await eventually(cordon_waits, what="the cordon to wait for approval")
    await harness.approve(str(await pending("cordon")))  # through the API: one person is enough

    async def drain_waits() -> bool:
        return await pending("drain") is not None

    await eventually(drain_waits, timeout_seconds=30, what="the drain to wait for approval")
    drain = str(await pending("drain"))
    webhook = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    async with harness.api(None) as http, running_controllers(harness.emulator), asyncio.timeout(30):
        body, headers = signed_click(drain, ALICE_SLACK, ts="7")
        assert (await http.post("/slack/events", content=body, headers=headers)).status_code == 200

        async def one_vote_shown() -> bool:
            return "votes 1/2" in json.dumps(slack_renders(slack)[-1].get("blocks"))

        await eventually(one_vote_shown, what="the Slack message to show votes 1/2")
        assert await pending("drain") == drain, "one vote runs nothing"
        assert writes(harness.emulator, "POST", "/eviction") == []

        again = await http.post("/telegram/webhook", json=tg_click(7, drain, ALICE_TG), headers=webhook)
        assert again.status_code == 200
        refusal = (await telegram.wait_for("answerCallbackQuery"))[-1]
        assert "already counts" in str(refusal.get("text")), refusal
        assert await pending("drain") == drain, "the same person twice is still one vote"

        second = await http.post("/telegram/webhook", json=tg_click(8, drain, BOB_TG), headers=webhook)
        assert second.status_code == 200

        async def evicted() -> bool:
            return bool(writes(harness.emulator, "POST", "/eviction"))

        await eventually(evicted, what="bob's vote to run the drain")
    audit = await harness.get("/api/audit")
    votes = [(e["action"], e["actor"]) for e in reversed(audit) if e["action"].startswith("approval.")]
    assert votes == [("approval.vote", "alice"), ("approval.refused", "alice"), ("approval.decided", "bob")]


async def test_with_the_rbac_check_a_vote_needs_kubernetes_to_agree(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    """``approvals.subject_access_review``: alice is an approver, but until a RoleBinding lets her
    Kubernetes user delete pods in ``shop`` the emulated API server's SubjectAccessReview says no,
    her click is refused with the reason and nothing runs; once bound, the same click runs it."""
    chat_settings(harness, slack, telegram)
    approvals = harness.settings.approvals.model_copy(
        update={
            "subject_access_review": True,
            "people": {**PEOPLE, "alice": [*PEOPLE["alice"], "kubernetes:alice@corp"]},
        }
    )
    harness.settings = harness.settings.model_copy(update={"approvals": approvals})
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request_id = await pending_everywhere(harness, slack, telegram)
    webhook = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    async with harness.api(None) as http, running_controllers(harness.emulator), asyncio.timeout(30):
        denied = await http.post(
            "/telegram/webhook", json=tg_click(21, request_id, ALICE_TG), headers=webhook
        )
        assert denied.status_code == 200
        answer = (await telegram.wait_for("answerCallbackQuery"))[-1]
        assert "does not allow alice@corp to delete pods" in str(answer.get("text")), answer
        assert writes(harness.emulator, "DELETE", "/pods/") == []

        rbac = "rbac.authorization.k8s.io/v1"
        rules = [{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}]
        harness.emulator.put_object(
            {
                "apiVersion": rbac,
                "kind": "Role",
                "metadata": {"name": "restarter", "namespace": "shop"},
                "rules": rules,
            }
        )
        harness.emulator.put_object(
            {
                "apiVersion": rbac,
                "kind": "RoleBinding",
                "metadata": {"name": "alice-restarts", "namespace": "shop"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "restarter"},
                "subjects": [{"kind": "User", "name": "alice@corp", "apiGroup": "rbac.authorization.k8s.io"}],
            }
        )
        allowed = await http.post(
            "/telegram/webhook", json=tg_click(22, request_id, ALICE_TG), headers=webhook
        )
        assert allowed.status_code == 200
        assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None
    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1


async def test_socket_mode_the_default_carries_a_click_into_the_runtime(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    """Slack's default mode, Socket Mode (no ingress): the runtime opens the WebSocket that
    ``apps.connections.open`` hands out (the mock's), acknowledges an interactive envelope pushed
    over it, and bob's approve there deletes the pod."""
    chat_settings(harness, slack, telegram)
    socket = harness.settings.slack.model_copy(update={"mode": "socket", "app_token": SecretStr("xapp-e2e")})
    harness.settings = harness.settings.model_copy(update={"slack": socket})
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request_id = await pending_everywhere(harness, slack, telegram)
    body, _ = signed_click(request_id, BOB_SLACK, ts="9")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    async with running_controllers(harness.emulator), asyncio.timeout(30):
        envelope = await slack.push("interactive", payload)
        await slack.wait(lambda: any(a.get("envelope_id") == envelope for a in slack.acks), 10)

        async def deleted() -> bool:
            return harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None

        await eventually(deleted, what="bob's Socket Mode click to delete the pod")
    assert slack.connections >= 1
    assert [e["actor"] for e in await harness.get("/api/audit") if e["action"] == "approval.decided"] == [
        "bob"
    ]


async def test_telegram_long_polling_carries_a_click_into_the_runtime(
    harness: Harness, slack: SlackMock, telegram: TelegramMock
) -> None:
    """Telegram's default mode, long polling: the runtime's poller takes alice's approve from
    getUpdates (the mock's queue) and the pod is deleted; the click is answered."""
    chat_settings(harness, slack, telegram)
    polling = harness.settings.telegram.model_copy(update={"mode": "polling", "webhook_secret": None})
    harness.settings = harness.settings.model_copy(update={"telegram": polling})
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request_id = await pending_everywhere(harness, slack, telegram)
    async with running_controllers(harness.emulator), asyncio.timeout(30):
        await telegram.queue_update(tg_click(31, request_id, ALICE_TG))

        async def decided() -> bool:
            audit = await harness.get("/api/audit")
            return [e["actor"] for e in audit if e["action"] == "approval.decided"] == ["alice"]

        await eventually(decided, what="alice's click, polled from getUpdates, to approve")
        await telegram.wait_for("answerCallbackQuery")
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None
