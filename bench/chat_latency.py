"""Chat latency: incident → first chat post, and an Approve click → the message's ``chat.update``.

Against the real Redis, the real chat stack (the deduplicator's hook, the incident feed, the
durable outbox and its workers, the Slack channel on slack_sdk, one Telegram channel on
python-telegram-bot, slack-bolt's interaction handler, the Decider and the approval gate) and
the local mock Slack Web API and Telegram Bot API of the tests (tests/support/slack_mock.py,
telegram_mock.py), which timestamp every call they receive.

Phases:

1. ``post``: ``INCIDENTS`` (100) new incidents open at once (``Deduplicator.observe`` of as many
   crash-loop events, concurrently); for each, the time from the observe call to the first
   ``chat.postMessage`` / ``sendMessage`` naming it.
2. ``click``: one approval request per incident (a run saved with the step waiting on it); all
   ``INCIDENTS`` Approve clicks are posted to ``/slack/events`` at once (signed as Slack signs,
   through the bolt app in the FastAPI app, in process); for each, the time from the click to the
   ``chat.update`` that shows the decision.

Both phases run with the channels' rate limits lifted (what aiops itself adds: the goal), then
phase 1 again with Slack's limit kept (1 message per second per channel,
https://api.slack.com/apis/rate-limits) for ``LIMITED`` (10) incidents, to show what a real
workspace allows: the n-th post of a burst goes out about n seconds later, by design.
Goal (issue 11): both under 1 s at p99 with 100 incidents opening at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from aiops.actions.catalog import Risk
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.policy import ApprovalPolicy
from aiops.audit import AuditLog
from aiops.chat.decide import Decider
from aiops.chat.feed import IncidentFeed
from aiops.chat.hub import Notifications
from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import MessageLocation, Notifier, RateLimit
from aiops.chat.slack import Slack
from aiops.chat.telegram import TelegramChats
from aiops.enrichment.enricher import EnrichmentStore
from aiops.events.dedup import Deduplicator
from aiops.events.model import ClusterEvent, EventType, ObjectRef
from aiops.metrics import Metrics
from aiops.playbooks.runs import Run, RunStore, StepRecord, StepState
from aiops.runtime.chat import ChatHooks
from aiops.settings import SlackSettings, TelegramSettings
from aiops.store import Store
from aiops.store.sweep import delete_prefix
from bench.common import bench_store, report, summary_ms
from tests.support.slack_mock import TEAM_ID, SlackMock, serve_slack_mock
from tests.support.telegram_mock import TelegramMock, serve_telegram_mock

INCIDENTS = int(os.environ.get("BENCH_CHAT_INCIDENTS", "100"))
LIMITED = int(os.environ.get("BENCH_CHAT_LIMITED", "10"))
SIGNING_SECRET = "bench-signing-secret-0123456789"
CHANNEL, GROUP, USER = "C0BENCH", -1009999, "U0SRE"


class _Timed(list[Any]):
    """A mock's call list that also keeps when each call arrived (monotonic seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


class _Unlimited:
    """A channel with its rate limits lifted: what aiops itself adds, without the service's pacing."""

    def __init__(self, inner: Notifier) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        return ()

    def target_for(self, message: IncidentMessage) -> str:
        return self._inner.target_for(message)

    async def post(self, message: IncidentMessage) -> MessageLocation:
        return await self._inner.post(message)

    async def update(self, location: MessageLocation, message: IncidentMessage) -> None:
        await self._inner.update(location, message)

    async def reply(self, location: MessageLocation, text: str) -> None:
        await self._inner.reply(location, text)


def _event(i: int, tag: str) -> ClusterEvent:
    owner = ObjectRef(api_version="apps/v1", kind="Deployment", namespace="bench", name=f"{tag}-{i}")
    pod = ObjectRef(api_version="v1", kind="Pod", namespace="bench", name=f"{tag}-{i}-abcde")
    return ClusterEvent(
        type=EventType.CRASH_LOOP,
        resource=pod,
        owner=owner,
        reason="BackOff",
        message="Back-off restarting failed container app",
        details={"container": "app", "restarts": 5},
        observed_at=datetime.now(UTC),
    )


def _first_seen(calls: _Timed, method: str, needles: dict[str, str], field: str) -> dict[str, float]:
    """For each key of ``needles``, when the first ``method`` call whose ``field`` holds its needle
    arrived."""
    seen: dict[str, float] = {}
    for call, at in zip(calls, calls.times, strict=True):
        if call.method != method:
            continue
        body = getattr(call, "body", None) or getattr(call, "params", {})
        text = json.dumps(body.get(field)) if field == "blocks" else str(body.get(field, ""))
        for key, needle in needles.items():
            if key not in seen and needle in text:
                seen[key] = at
    return seen


class _Rig:
    """The chat stack over one store, wired as the runtime wires it (aiops.runtime.chat)."""

    def __init__(self, store: Store, slack: SlackMock, telegram: TelegramMock, *, unlimited: bool) -> None:
        self.metrics = Metrics()
        hooks = ChatHooks()  # bound to the feed below, as aiops.runtime.chat.build_chat binds them
        self.gate = ApprovalGate(
            store,
            ApprovalPolicy(approvers={Risk.MEDIUM: frozenset({f"slack:{TEAM_ID}/{USER}"})}),
            on_change=hooks.request,
        )
        self.dedup = Deduplicator(store, on_change=hooks.incident)
        self.runs = RunStore(store, on_saved=hooks.run)
        self.audit = AuditLog(store)
        enrichments = EnrichmentStore(store)
        self.decider = Decider(
            self.gate, self.audit, store, allowed_chats={"slack": frozenset({CHANNEL})}, metrics=self.metrics
        )
        slack_settings = SlackSettings(
            bot_token=SecretStr("xoxb-bench"),
            signing_secret=SecretStr(SIGNING_SECRET),
            channel=CHANNEL,
            api_url=slack.api_url,
            mode="http",
        )
        self.slack = Slack(slack_settings, self.decider)
        self.telegram = TelegramChats(
            TelegramSettings(bot_token=SecretStr("1:bench"), chat_ids=[GROUP], api_url=telegram.api_url),
            self.decider,
            store,
        )
        notifiers: list[Notifier] = [self.slack.channel, *self.telegram.channels()]
        if unlimited:
            notifiers = [_Unlimited(n) for n in notifiers]
        self.notifications = Notifications.of(store, notifiers, metrics=self.metrics)
        self.feed = IncidentFeed(
            self.notifications,
            incident=self.dedup.get,
            run=self.runs.get,
            enrichment=enrichments.get,
            approval=self.gate.get,
        )
        hooks.feed = self.feed
        app = FastAPI()
        app.include_router(self.slack.http_router())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aiops")

    async def close(self) -> None:
        await self.http.aclose()
        await self.slack.close()
        await self.telegram.close()


def _signed(request_id: str, n: int) -> tuple[bytes, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": USER, "team_id": TEAM_ID},
        "container": {"type": "message", "message_ts": f"1.{n}", "channel_id": CHANNEL},
        "trigger_id": f"t-{n}",
        "channel": {"id": CHANNEL},
        "message": {"ts": f"1.{n}", "text": "incident", "blocks": []},
        "actions": [{"action_id": "aiops_approve", "value": request_id, "action_ts": f"{time.time():.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


async def _wait(predicate: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"chat_latency: timed out after {seconds} s")
        await asyncio.sleep(0.02)


async def _posts(rig: _Rig, slack: SlackMock, telegram: TelegramMock, count: int, tag: str) -> dict[str, Any]:
    """Phase 1: open ``count`` incidents at once; latency to the first post in each channel."""
    events = [_event(i, tag) for i in range(count)]
    needles = {f"{tag}-{i}": f"Deployment/bench/{tag}-{i}" for i in range(count)}
    started = time.monotonic()
    await asyncio.gather(*(rig.dedup.observe(e) for e in events))

    def slack_seen() -> dict[str, float]:
        return _first_seen(slack.calls, "chat.postMessage", needles, "text")  # type: ignore[arg-type]

    def tg_seen() -> dict[str, float]:
        return _first_seen(telegram.calls, "sendMessage", needles, "text")  # type: ignore[arg-type]

    # A cheap check while waiting (the scan for who arrived when runs once, at the end): the
    # benchmark shares the event loop with what it measures.
    await _wait(
        lambda: len(slack.bodies("chat.postMessage")) >= count and len(telegram.of("sendMessage")) >= count,
        30 + 2 * count,
    )
    await _wait(lambda: len(slack_seen()) == count and len(tg_seen()) == count, 30 + 2 * count)
    return {
        "slack": summary_ms([t - started for t in slack_seen().values()]),
        "telegram": summary_ms([t - started for t in tg_seen().values()]),
    }


async def _clicks(rig: _Rig, slack: SlackMock, incidents: Iterable[str]) -> dict[str, Any]:
    """Phase 2: a pending request per incident; all Approve clicks at once; click → chat.update
    that shows the decision."""
    requests: dict[str, str] = {}
    for n, incident_id in enumerate(incidents):
        request = await rig.gate.request(
            run_id=f"run-{n}",
            incident_id=incident_id,
            playbook_id="bench",
            step_index=0,
            step_name="restart",
            action="rollout_restart",
            risk=Risk.MEDIUM,
            target=None,
            params={},
        )
        now = datetime.now(UTC)
        incident = await rig.dedup.get(incident_id)
        assert incident is not None
        step = StepRecord(index=0, name="restart", action="rollout_restart", risk=Risk.MEDIUM)
        step.state, step.approval_id = StepState.AWAITING_APPROVAL, request.id
        run = Run(id=f"run-{n}", incident_id=incident_id, playbook_id="bench", event=incident.last_event,
                  created_at=now, updated_at=now, steps=[step])  # fmt: skip
        await rig.dedup.attach_run(incident_id, run.id)
        await rig.runs.save(run)
        requests[incident_id] = request.id
    await _wait(lambda: rig.feed.pending == 0, 60)
    await asyncio.sleep(1.0)  # the pending renders delivered
    before = len(slack.calls)
    signed = [_signed(rid, n) for n, rid in enumerate(requests.values())]
    started = time.monotonic()
    answers = await asyncio.gather(
        *(rig.http.post("/slack/events", content=body, headers=headers) for body, headers in signed)
    )
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200]
    needles = {incident_id: await _resource(rig, incident_id) for incident_id in requests}

    def decided() -> dict[str, float]:
        seen: dict[str, float] = {}
        calls: _Timed = slack.calls  # type: ignore[assignment]
        for call, at in zip(calls[before:], calls.times[before:], strict=True):
            text = json.dumps(call.body.get("blocks"))
            if call.method != "chat.update" or "approved by" not in text:
                continue
            for incident_id, needle in needles.items():
                if incident_id not in seen and needle in text:
                    seen[incident_id] = at
        return seen

    def updates() -> int:
        return sum(1 for call in slack.calls[before:] if call.method == "chat.update")

    await _wait(lambda: updates() >= 2 * len(requests), 60 + 2 * len(requests))  # processing…, decided
    await _wait(lambda: len(decided()) == len(requests), 60 + 2 * len(requests))
    return {"click_to_update": summary_ms([t - started for t in decided().values()])}


async def _resource(rig: _Rig, incident_id: str) -> str:
    """How the incident's resource shows in its message (``Deployment/bench/own-3``)."""
    incident = await rig.dedup.get(incident_id)
    assert incident is not None
    return incident.subject.key


async def _phase(store: Store, *, unlimited: bool, count: int, clicks: bool, tag: str) -> dict[str, Any]:
    async with serve_slack_mock() as slack, serve_telegram_mock() as telegram:
        slack.calls = _Timed()
        telegram.calls = _Timed()
        rig = _Rig(store, slack, telegram, unlimited=unlimited)
        stop = asyncio.Event()
        workers = asyncio.create_task(rig.notifications.run(stop))
        feeding = asyncio.create_task(rig.feed.run(stop))
        try:
            result = await _posts(rig, slack, telegram, count, tag)
            if clicks:
                open_ids = [
                    i.id for i in await rig.dedup.list(limit=count * 2) if i.subject.name.startswith(tag)
                ]
                result.update(await _clicks(rig, slack, open_ids))
            return result
        finally:
            stop.set()
            await asyncio.gather(workers, feeding)
            await rig.close()


async def _isolated(**phase: Any) -> dict[str, Any]:
    """A phase on a store of its own (a fresh key prefix), so no delivery another phase left
    queued, and no rate-limit window it filled, is measured with it."""
    store = await bench_store()
    try:
        return await _phase(store, **phase)
    finally:
        await delete_prefix(store)
        await store.close()


async def main() -> dict[str, Any]:
    own = await _isolated(unlimited=True, count=INCIDENTS, clicks=True, tag="own")
    limited = await _isolated(unlimited=False, count=LIMITED, clicks=False, tag="paced")
    result: dict[str, Any] = {"incidents": INCIDENTS}
    for key in ("p50_ms", "p99_ms", "max_ms"):
        result[f"post_slack_{key}"] = own["slack"][key]
        result[f"post_telegram_{key}"] = own["telegram"][key]
        result[f"click_to_update_{key}"] = own["click_to_update"][key]
    result[f"paced_{LIMITED}_post_slack_p50_ms"] = limited["slack"]["p50_ms"]
    result[f"paced_{LIMITED}_post_slack_max_ms"] = limited["slack"]["max_ms"]
    result[f"paced_{LIMITED}_post_telegram_max_ms"] = limited["telegram"]["max_ms"]
    return result


def run() -> None:
    """Run and print the benchmark."""
    report(
        "chat_latency",
        asyncio.run(main()),
        f"incident → post and click → chat.update p99 < 1 s with {INCIDENTS} incidents at once",
    )


if __name__ == "__main__":
    run()
