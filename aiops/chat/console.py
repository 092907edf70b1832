"""The console channel: the incident messages rendered in the terminal with rich.

Fed by: the delivery worker (:mod:`aiops.chat.delivery`), like any channel, with
:class:`aiops.chat.message.IncidentMessage` s; the demo uses it when no chat is configured.
Consumed by: a :class:`rich.console.Console` (the terminal, or a recording console in tests).

:func:`render` turns a message into one rich Panel: the header, the facts, the top log findings,
the RCA summary, the steps table, the step waiting for a decision with its plan, and the decision
line. :class:`ConsoleChannel` implements :class:`aiops.chat.notifier.Notifier`: ``post`` prints
the panel and returns a synthetic location (``console``, a running number), ``update`` prints it
again marked "updated", ``reply`` prints the text indented under the incident id. A terminal has
no rate limit and never fails for a reason worth retrying, so it declares no limits.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from aiops.chat.message import IncidentMessage
from aiops.chat.notifier import MessageLocation, RateLimit

__all__ = ["ConsoleChannel", "render"]

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _title(message: IncidentMessage, note: str) -> Text:
    header = message.header
    title = Text()
    title.append(f"[{header.severity.upper()}] ", style=_SEVERITY_STYLE.get(header.severity, "bold"))
    title.append(f"{header.event_type} on {header.resource}", style="bold")
    title.append(f" — {header.status}")
    if note:
        title.append(f" ({note})", style="dim")
    return title


def _steps(message: IncidentMessage) -> Table:
    table = Table(title="Steps", title_justify="left", expand=True)
    for column in ("#", "step", "action", "risk", "state", "result"):
        table.add_column(column, overflow="fold")
    for step in message.steps:
        table.add_row(str(step.index), step.name, step.action, step.risk, step.state, step.result)
    return table


def render(message: IncidentMessage, *, note: str = "") -> Panel:
    """The message as one rich Panel (``note``, e.g. ``updated``, goes into the title). Pure."""
    header = message.header
    seen = f"{header.first_seen:%Y-%m-%d %H:%M:%S}Z → {header.last_seen:%H:%M:%S}Z"
    parts: list[RenderableType] = [
        Text(f"incident {header.incident_id} · {header.reason} ×{header.count} · {seen}"),
    ]
    if header.resolved_at is not None:
        parts.append(Text(f"resolved {header.resolved_at:%Y-%m-%d %H:%M:%S}Z: {header.resolution or ''}"))
    if message.facts:
        parts.append(Text("\n".join(f"{label}: {value}" for label, value in message.facts)))
    if message.findings:
        lines = [f"• {f.category} ({f.severity}) ×{f.count}: {f.sample}" for f in message.findings]
        parts.append(Text("Log findings\n" + "\n".join(lines)))
    if message.rca:
        parts.append(Text("RCA: " + message.rca))
    if message.steps:
        parts.append(_steps(message))
    if message.pending is not None:
        pending = message.pending
        head = (
            f"Waiting for approval: {pending.step} ({pending.action}, {pending.risk}) on {pending.target}"
            f" — request {pending.request_id}, expires {pending.expires_at:%Y-%m-%d %H:%M:%S}Z"
        )
        parts.append(Text("\n".join([head, *pending.plan]), style="bold"))
    if message.decision is not None:
        parts.append(Text("Decision: " + message.decision.line()))
    return Panel(Group(*parts), title=_title(message, note), title_align="left")


def _gist(message: IncidentMessage) -> tuple[object, ...]:
    """What a person watching the terminal needs to see change: the status, the step waiting for
    a decision and its votes, and the decision (not the event count, the enrichment or a step
    that ran on its own: those show in the next update that matters)."""
    pending = message.pending
    return (
        message.header.status,
        (pending.request_id, pending.votes) if pending is not None else None,
        message.decision,
    )


class ConsoleChannel:
    """A :class:`aiops.chat.notifier.Notifier` printing to ``console`` (a new stdout Console when
    None). Locations are ``console`` / ``console`` / a running number, per process.
    ``changes_only``: print an update only when its gist changed (status, pending step and votes,
    decision), so a terminal shared with other output (the demo) stays readable."""

    def __init__(
        self, console: Console | None = None, *, name: str = "console", changes_only: bool = False
    ) -> None:
        self._console = console or Console()
        self._name = name
        self._posted = 0
        self._changes_only = changes_only
        self._shown: dict[str, tuple[object, ...]] = {}

    @property
    def name(self) -> str:
        """The channel's name (``console`` unless given)."""
        return self._name

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        """None: a terminal takes every line."""
        return ()

    def target_for(self, message: IncidentMessage) -> str:
        """Always ``console``."""
        return "console"

    async def post(self, message: IncidentMessage) -> MessageLocation:
        """Print the message; returns ``(name, console, <running number>)``."""
        self._posted += 1
        self._shown[str(self._posted)] = _gist(message)
        self._console.print(render(message))
        return MessageLocation(channel=self._name, target="console", message_id=str(self._posted))

    async def update(self, location: MessageLocation, message: IncidentMessage) -> None:
        """Print the message again, marked ``updated`` (with ``changes_only``, only when its gist
        changed since it was last printed)."""
        gist = _gist(message)
        if self._changes_only and self._shown.get(location.message_id) == gist:
            return
        self._shown[location.message_id] = gist
        self._console.print(render(message, note="updated"))

    async def reply(self, location: MessageLocation, text: str) -> None:
        """Print ``text`` indented, under the message's number."""
        self._console.print(Text(f"  ↳ #{location.message_id} {text}"))
