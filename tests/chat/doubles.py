"""A test double of a chat channel (a Notifier that records its calls and fails on demand) and a
clock the tests move by hand. Nothing of aiops's own Redis calls is replaced: the outbox, the
windows and the locations are the real ones."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import MessageLocation, RateLimit

T0 = 2_000_000_000.0


@dataclass
class Clock:
    """Epoch seconds, moved by the test."""

    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingChannel:
    """Records ``(op, target, message_id, detail)`` per call; ``fail`` is raised by every call while
        set; ``hang`` makes calls wait until ``released`` is set (a process dying mid-call is simulated by
    cancelling)."""

    name: str
    limits: tuple[RateLimit, ...] = ()
    calls: list[tuple[str, str, str, str]] = field(default_factory=list)
    fail: Exception | None = None
    hang: bool = False
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    posted: int = 0

    def target_for(self, message: IncidentMessage) -> str:
        return "chat-" + message.incident_id

    async def _enter(self) -> None:
        self.entered.set()
        if self.hang:
            await self.released.wait()
        if self.fail is not None:
            raise self.fail

    async def post(self, message: IncidentMessage) -> MessageLocation:
        await self._enter()
        self.posted += 1
        target = self.target_for(message)
        self.calls.append(("post", target, str(self.posted), str(message.header.count)))
        return MessageLocation(channel=self.name, target=target, message_id=str(self.posted))

    async def update(self, location: MessageLocation, message: IncidentMessage) -> None:
        await self._enter()
        self.calls.append(("update", location.target, location.message_id, str(message.header.count)))

    async def reply(self, location: MessageLocation, text: str) -> None:
        await self._enter()
        self.calls.append(("reply", location.target, location.message_id, text))

    def ops(self) -> list[tuple[str, str]]:
        """``(op, detail)`` per call."""
        return [(op, detail) for op, _, _, detail in self.calls]
