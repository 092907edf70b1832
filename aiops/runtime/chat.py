"""Wiring chat into the runtime: channels, the incident feed, the click handler and their hooks.

Fed by: :func:`aiops.runtime.services.build`, which creates a :class:`ChatHooks` first (so the
deduplicator, the run store, the enrichment store and the approval gate can be handed its hooks),
then calls :func:`build_chat` once the gate, the audit log and the readers exist. Consumed by:
:func:`aiops.runtime.serve`, which runs :meth:`Chat.run` supervised, and the FastAPI app, which
mounts :attr:`Chat.routers` (Slack's ``/slack/events``, Telegram's ``/telegram/webhook``).

With no channel configured (no Slack or Telegram settings, no extra channel such as the demo's
console) nothing is built and every hook is a no-op: aiops runs exactly as without chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

from aiops.approvals.gate import ApprovalGate
from aiops.approvals.model import ApprovalRequest
from aiops.audit import AuditLog
from aiops.chat.decide import AccessReview, Decider
from aiops.chat.feed import IncidentFeed
from aiops.chat.hub import Notifications
from aiops.chat.notifier import Notifier
from aiops.chat.slack import Slack
from aiops.chat.telegram import TelegramChats
from aiops.enrichment.enricher import Enrichment
from aiops.events.incident import Incident
from aiops.metrics import Metrics
from aiops.playbooks.executor import Executor
from aiops.playbooks.runs import Run
from aiops.runtime.leadership import Leadership
from aiops.settings import Settings
from aiops.store import Store

__all__ = ["Chat", "ChatHooks", "Runner", "build_chat", "enabled"]

#: A channel's own loop (Socket Mode, long polling): runs until the event is set.
Runner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

log = logging.getLogger(__name__)


class ChatHooks:
    """The hooks handed to the components that change an incident, bound to the feed later
    (:attr:`feed`); until then, and forever when chat is off, they do nothing."""

    def __init__(self) -> None:
        self.feed: IncidentFeed | None = None

    def incident(self, incident_id: str) -> None:
        """An incident opened or resolved, or its enrichment was stored."""
        if self.feed is not None:
            self.feed.touch(incident_id)

    def run(self, run: Run) -> None:
        """One of an incident's runs was saved."""
        if self.feed is not None:
            self.feed.touch(run.incident_id)

    async def request(self, request: ApprovalRequest) -> None:
        """An approval request was decided, voted on, expired or closed (the gate's hook)."""
        if self.feed is not None:
            self.feed.touch(request.incident_id)


@dataclass
class Chat:
    """The built chat: ``notifications`` (the channels' workers), ``feed``, ``decider`` (every
    channel's click handler), ``routers`` to mount on the API app, and ``runners``: the channels'
    own loops (Socket Mode, long polling), each ``(name, run(stop))``."""

    notifications: Notifications
    feed: IncidentFeed
    decider: Decider
    routers: list[APIRouter] = field(default_factory=list)
    runners: list[tuple[str, Runner]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver, publish and listen until ``stop`` is set (every part side by side)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.notifications.run(stop), name="chat-delivery")
            group.create_task(self.feed.run(stop), name="chat-feed")
            for name, runner in self.runners:
                group.create_task(runner(stop), name=f"chat-{name}")

    async def close(self) -> None:
        """Close the channels' clients; never raises."""
        for closer in self.closers:
            try:
                await closer()
            except Exception:  # shutdown: log and go on closing the others
                log.exception("chat: closing a channel failed")


def enabled(settings: Settings, extra_channels: Sequence[Notifier]) -> bool:
    """Whether any chat channel is configured."""
    return bool(extra_channels) or settings.slack.enabled or settings.telegram.enabled


@dataclass
class _Parts:
    """What the channels add while being built."""

    notifiers: list[Notifier]
    routers: list[APIRouter] = field(default_factory=list)
    runners: list[tuple[str, Runner]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def build_chat(
    settings: Settings,
    *,
    hooks: ChatHooks,
    store: Store,
    gate: ApprovalGate,
    audit: AuditLog,
    metrics: Metrics,
    incident: Callable[[str], Awaitable[Incident | None]],
    run: Callable[[str], Awaitable[Run | None]],
    enrichment: Callable[[str], Awaitable[Enrichment | None]],
    executor: Executor,
    leadership: Leadership,
    access: AccessReview | None = None,
    extra_channels: Sequence[Notifier] = (),
) -> Chat | None:
    """Build the configured channels (``extra_channels`` first, then Slack, then one Telegram
    channel per chat) over one outbox, the feed reading through the given readers, and the
    :class:`Decider` every channel's clicks go to (deciding through ``executor``, so an approved
    step runs at once; ``access``: the optional SubjectAccessReview of approvers); binds ``hooks``
    to the feed. ``leadership``: Telegram long polling is the leader's work (one poller per bot
    token). None when no channel is configured."""
    if not enabled(settings, extra_channels):
        return None
    allowed: dict[str, frozenset[str]] = {}
    if settings.slack.enabled and settings.slack.channel:
        allowed["slack"] = frozenset({settings.slack.channel})
    if settings.telegram.enabled:
        allowed["telegram"] = frozenset(str(chat) for chat in settings.telegram.chat_ids)
    decider = Decider(
        gate, audit, store, allowed_chats=allowed, access=access, metrics=metrics, executor=executor
    )
    parts = _Parts(notifiers=list(extra_channels))
    _slack(settings, decider, metrics, parts)
    _telegram(settings, decider, store, metrics, parts, leadership=leadership)
    notifications = Notifications.of(store, parts.notifiers, metrics=metrics)
    feed = IncidentFeed(notifications, incident=incident, run=run, enrichment=enrichment, approval=gate.get)
    hooks.feed = feed
    return Chat(
        notifications=notifications,
        feed=feed,
        decider=decider,
        routers=parts.routers,
        runners=parts.runners,
        closers=parts.closers,
    )


def _slack(settings: Settings, decider: Decider, metrics: Metrics, parts: _Parts) -> None:
    """Add Slack when configured: its channel, its clicks over Socket Mode (a runner) or HTTP
    (``POST /slack/events``), and the close of its Web API connections."""
    if not settings.slack.enabled:
        return
    approvals = settings.approvals
    identities = [*approvals.approvers_medium, *approvals.approvers_high]
    slack = Slack(settings.slack, decider, approver_groups=frozenset(identities), metrics=metrics)
    parts.notifiers.append(slack.channel)
    if settings.slack.mode == "http":
        parts.routers.append(slack.http_router())
    else:
        parts.runners.append(("slack", slack.run))
    parts.closers.append(slack.close)


def _telegram(
    settings: Settings,
    decider: Decider,
    store: Store,
    metrics: Metrics,
    parts: _Parts,
    *,
    leadership: Leadership,
) -> None:
    """Add Telegram when configured: one channel per chat, its clicks through the webhook
    (``POST /telegram/webhook``, registered with setWebhook at start when ``webhook_url`` is set)
    or long polling by the leader only (the Bot API allows one getUpdates poller per bot token),
    and the bot's close."""
    if not settings.telegram.enabled:
        return
    telegram = TelegramChats(settings.telegram, decider, store, metrics=metrics)
    parts.notifiers.extend(telegram.channels())
    if settings.telegram.mode == "webhook":
        parts.routers.append(telegram.webhook_router())

        async def register(stop: asyncio.Event) -> None:
            try:
                await telegram.register_webhook()
            except Exception as exc:  # the Bot API refused or is down: say so, keep running
                log.warning("telegram: setWebhook failed (%s); clicks arrive once the webhook is set", exc)
            await stop.wait()

        parts.runners.append(("telegram-webhook", register))
    else:
        leadership.add("telegram", telegram.run)
    parts.closers.append(telegram.close)
