"""Incident messages as Telegram HTML text with an inline keyboard for the pending step.

Fed by: :class:`aiops.chat.telegram.channel.TelegramChannel` (``post``/``update``) and the
update handler (:mod:`aiops.chat.telegram.updates`, the "processing…" keyboard), with an
:class:`aiops.chat.message.IncidentMessage`. Consumed by: the Bot API's ``sendMessage`` and
``editMessageText`` (``parse_mode=HTML``, ``reply_markup``).

Formatting follows the Bot API's HTML style (https://core.telegram.org/bots/api#html-style):
only ``<b>``, ``<i>``, ``<code>`` and ``<pre>`` are used, every text taken from the message is
escaped with :func:`html.escape`, and every line (or the one ``<pre>`` block of the plan) is
balanced on its own, so dropping whole lines never breaks the markup. A message holds 1-4096
characters after entity parsing (https://core.telegram.org/bots/api#sendmessage); the HTML source
is never shorter than its parsed text, so keeping the source within :data:`MAX_TEXT_CHARS` is
enough. When it does not fit, the plan's last lines go first (with a pointer to
``aiops approvals show``), then the oldest steps, then the findings and facts.

The keyboard carries only the request's opaque id and the verb (``a:<id>``/``r:<id>``,
:func:`aiops.chat.clicks.callback_data`, 34 bytes of the 64 allowed:
https://core.telegram.org/bots/api#inlinekeyboardbutton). No keyboard once nothing is pending: an
edit sent without ``reply_markup`` leaves the message without buttons (PTB drops an empty
``inline_keyboard`` from the request, so "no markup" is how buttons are removed).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from aiops.chat.clicks import callback_data
from aiops.chat.message import IncidentMessage, PendingStep, Step

__all__ = [
    "MAX_TEXT_CHARS",
    "NOOP",
    "keyboard",
    "processing_keyboard",
    "render_text",
]

#: The Bot API's limit on a message's text (characters after entity parsing).
MAX_TEXT_CHARS = 4096

#: callback_data of the "processing…" button: answered, never handled as a decision.
NOOP = "noop"

_SEVERITY_MARK = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
_STATE_MARK = {
    "succeeded": "✅",
    "failed": "❌",
    "refused": "⛔",
    "rejected": "🚫",
    "expired": "⌛",
    "skipped": "⏭",
    "awaiting_approval": "⏸",
    "running": "▶",
}


def _e(text: object) -> str:
    return html.escape(str(text))


def _header(message: IncidentMessage) -> list[str]:
    header = message.header
    mark = _SEVERITY_MARK.get(header.severity, "⚪")
    lines = [
        f"{mark} <b>[{_e(header.severity.upper())}] {_e(header.event_type)}</b>"
        f" on <code>{_e(header.resource)}</code>",
        f"{_e(header.reason)} ×{header.count} · {header.first_seen:%Y-%m-%d %H:%M:%S}Z … "
        f"{header.last_seen:%H:%M:%S}Z · <i>{_e(header.status)}</i>"
        f" · incident <code>{_e(header.incident_id)}</code>",
    ]
    if header.resolved_at is not None:
        resolution = f": {_e(header.resolution)}" if header.resolution else ""
        lines.append(f"✅ <b>resolved</b> {header.resolved_at:%Y-%m-%d %H:%M:%S}Z{resolution}")
    return lines


def _facts(message: IncidentMessage) -> list[str]:
    return [f"<b>{_e(label)}</b>: {_e(value)}" for label, value in message.facts]


def _findings(message: IncidentMessage) -> list[str]:
    if not message.findings:
        return []
    lines = ["<b>Log findings</b>"]
    for f in message.findings:
        sample = f": <code>{_e(f.sample)}</code>" if f.sample else ""
        lines.append(f"• {_e(f.category)} ({_e(f.severity)}) ×{f.count}{sample}")
    return lines


def _step_line(step: Step) -> str:
    mark = _STATE_MARK.get(step.state, "•")
    result = f" — {_e(step.result)}" if step.result else ""
    what = f"({_e(step.action)}, {_e(step.risk)})"
    return f"{mark} {step.index}. <b>{_e(step.name)}</b> {what}: {_e(step.state)}{result}"


def _steps(steps: Sequence[Step], keep: int) -> list[str]:
    if not steps:
        return []
    shown = steps[len(steps) - keep :] if keep else ()
    lines = ["<b>Steps</b>"]
    if len(shown) < len(steps):
        lines.append(f"<i>… {len(steps) - len(shown)} earlier steps not shown</i>")
    return lines + [_step_line(s) for s in shown]


def _pending(pending: PendingStep, keep: int) -> list[str]:
    lines = [
        f"⏸ <b>Waiting for approval: {_e(pending.step)}</b> ({_e(pending.action)}, risk {_e(pending.risk)}) "
        f"on <code>{_e(pending.target)}</code>",
        f"request <code>{_e(pending.request_id)}</code>, expires {pending.expires_at:%Y-%m-%d %H:%M:%S}Z",
    ]
    if pending.votes_needed > 1:
        who = f" ({_e(', '.join(pending.votes))})" if pending.votes else ""
        lines.append(f"votes {len(pending.votes)}/{pending.votes_needed}{who}")
    plan = pending.plan[:keep]
    if plan:
        lines.append("<pre>" + "\n".join(_e(line) for line in plan) + "</pre>")
    if len(plan) < len(pending.plan):
        more = len(pending.plan) - len(plan)
        lines.append(f"<i>… {more} more plan lines: aiops approvals show {_e(pending.request_id)}</i>")
    return lines


def _compose(message: IncidentMessage, *, plan: int, steps: int, details: bool) -> str:
    blocks = [_header(message)]
    if details:
        blocks += [_facts(message), _findings(message)]
    if message.rca:
        blocks.append([f"<b>RCA</b>: {_e(message.rca)}"])
    blocks.append(_steps(message.steps, steps))
    if message.pending is not None:
        blocks.append(_pending(message.pending, plan))
    if message.decision is not None:
        blocks.append([f"<b>Decision</b>: {_e(message.decision.line())}"])
    return "\n\n".join("\n".join(block) for block in blocks if block)


def render_text(message: IncidentMessage, *, limit: int = MAX_TEXT_CHARS) -> str:
    """The message as Telegram HTML (``parse_mode=HTML``), at most ``limit`` characters: the
    header (severity, event type, resource, reason, count, status, resolution), the facts, the top
    log findings, the RCA, the steps with state and result, the pending step with its plan and
    votes (``votes 1/2 (…)`` when more than one approver is needed), and the decision line. Cut to
    fit in this order: plan lines from the end, the oldest steps, the facts and findings (what is
    left is bounded far below 4096 characters; only a tiny ``limit`` falls back to the header).
    Pure."""
    pending_plan = len(message.pending.plan) if message.pending else 0
    steps = len(message.steps)
    for plan in range(pending_plan, -1, -1):
        text = _compose(message, plan=plan, steps=steps, details=True)
        if len(text) <= limit:
            return text
    for details in (True, False):
        for keep in range(steps, -1, -1):
            text = _compose(message, plan=0, steps=keep, details=details)
            if len(text) <= limit:
                return text
    return "\n".join(_header(message))[:limit]


def keyboard(message: IncidentMessage) -> InlineKeyboardMarkup | None:
    """Approve / Reject buttons for the pending step (callback_data ``a:<id>`` / ``r:<id>``), or
    None when nothing is pending (a decided message has no buttons). Pure."""
    pending = message.pending
    if pending is None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Approve", callback_data=callback_data(pending.request_id, True)),
                InlineKeyboardButton("❌ Reject", callback_data=callback_data(pending.request_id, False)),
            ]
        ]
    )


def processing_keyboard() -> InlineKeyboardMarkup:
    """The single "processing…" button (callback_data :data:`NOOP`) shown while a click is handled,
    so nobody clicks twice."""
    return InlineKeyboardMarkup([[InlineKeyboardButton("⏳ processing…", callback_data=NOOP)]])
