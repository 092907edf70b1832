"""The incident message as Slack Block Kit: a text fallback and a list of blocks.

Fed by: :class:`aiops.chat.slack.channel.SlackChannel` (``chat.postMessage``/``chat.update``
bodies) and :class:`aiops.chat.slack.interactions.SlackInteractions` (the "processing…" and
restored renders after a click), with :class:`aiops.chat.message.IncidentMessage` s or the blocks
Slack sent back in a ``block_actions`` payload. Consumed by: Slack's Web API.

One message per incident: a header (severity emoji, severity, event type, resource), the summary
(incident id, status, reason, count, first/last seen), the resolution, the facts, the RCA summary,
the top log findings, the steps already run (state and short result), and for a pending step its
plan in a code block with Approve/Reject buttons (``action_id``
:data:`aiops.chat.clicks.SLACK_APPROVE`/:data:`~aiops.chat.clicks.SLACK_REJECT`, ``value`` the
request id; Approve ``primary`` for medium risk, ``danger`` with a confirm dialog for high risk)
and "votes 1/2 (<@U…>)" when more than one approver is needed. After a decision there are no
buttons, only the decision line ("approved by <@U…> at T").

Block Kit limits kept here (https://api.slack.com/reference/block-kit/blocks): at most 50 blocks
per message, a section's text at most 3000 characters, at most 10 fields of 2000 characters, a
header's text at most 150, a context block at most 10 elements; a button's text at most 75
(https://api.slack.com/reference/block-kit/block-elements#button); a confirm dialog's title 100,
text 300, button texts 30 (https://api.slack.com/reference/block-kit/composition-objects#confirm).
Text from the cluster is escaped as Slack asks (``&``, ``<``, ``>``:
https://api.slack.com/reference/surfaces/formatting#escaping), so nothing in a pod's log can
mention ``@channel`` or forge a link. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiops.chat.clicks import SLACK_APPROVE, SLACK_REJECT
from aiops.chat.message import Decision, IncidentMessage, PendingStep

__all__ = [
    "ACTIONS_BLOCK_ID",
    "MAX_BLOCKS",
    "MAX_HEADER_CHARS",
    "MAX_SECTION_CHARS",
    "Block",
    "closed_blocks",
    "escape",
    "mention",
    "processing_blocks",
    "render",
]

#: One Block Kit block as the Web API takes it (JSON).
Block = dict[str, Any]

#: Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_CHARS = 3000

#: Most code-block sections the plan may take (each at most :data:`MAX_SECTION_CHARS`).
MAX_PLAN_BLOCKS = 3
#: Most fact sections (each at most :data:`MAX_FIELDS` facts).
MAX_FACT_BLOCKS = 2
#: The ``block_id`` of the Approve/Reject actions block (what :func:`processing_blocks` replaces).
ACTIONS_BLOCK_ID = "aiops_decide"
#: The ``block_id`` of the "votes 1/2" context line.
VOTES_BLOCK_ID = "aiops_votes"

_SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}
_STATE_EMOJI = {
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "awaiting_approval": ":hourglass_flowing_sand:",
    "running": ":arrows_counterclockwise:",
    "pending": ":double_vertical_bar:",
    "skipped": ":black_right_pointing_double_triangle_with_vertical_bar:",
    "refused": ":no_entry:",
    "rejected": ":no_entry_sign:",
    "expired": ":hourglass:",
    "blocked": ":octagonal_sign:",
    "unknown": ":grey_question:",
}
_VERDICT_EMOJI = {
    "approved": ":white_check_mark:",
    "rejected": ":no_entry_sign:",
    "expired": ":hourglass:",
    "not_run": ":fast_forward:",
}


def escape(text: str) -> str:
    """``text`` with Slack's three control characters escaped (``&amp;``, ``&lt;``, ``&gt;``):
    https://api.slack.com/reference/surfaces/formatting#escaping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(actor: str | None) -> str:
    """How to name an actor in a message: an approver identity ``slack:T…/U…`` becomes the
    mention ``<@U…>`` (https://api.slack.com/reference/surfaces/formatting#mentioning-users);
    anything else (``alice``, ``telegram:42``) is shown as it is, escaped; None is ``-``."""
    if not actor:
        return "-"
    scheme, _, rest = actor.partition(":")
    if scheme == "slack":
        _, slash, user = rest.partition("/")
        if slash and user.isalnum():
            return f"<@{user}>"
    return escape(actor)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ")


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION_CHARS)}}


def _context(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _cut(text, MAX_CONTEXT_CHARS)}],
    }
    if block_id:
        block["block_id"] = block_id
    return block


def _header(message: IncidentMessage) -> Block:
    header = message.header
    emoji = _SEVERITY_EMOJI.get(header.severity, ":white_circle:")
    done = " (resolved)" if header.status == "resolved" else ""
    text = f"{emoji} {header.severity.upper()} {header.event_type} on {header.resource}{done}"
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _cut(text, MAX_HEADER_CHARS), "emoji": True},
    }


def _summary(message: IncidentMessage) -> Block:
    header = message.header
    text = (
        f"*{escape(header.resource)}* · {escape(header.event_type)} · reason `{escape(header.reason)}`"
        f" ×{header.count}\nincident `{escape(header.incident_id)}` · {escape(header.status)} · first seen"
        f" {_when(header.first_seen)}, last seen {_when(header.last_seen)}"
    )
    return _section(text)


def _resolved(message: IncidentMessage) -> list[Block]:
    header = message.header
    if header.status != "resolved" and header.resolved_at is None:
        return []
    at = f" at {_when(header.resolved_at)}" if header.resolved_at else ""
    why = f": {escape(header.resolution)}" if header.resolution else ""
    return [_section(f":white_check_mark: *Resolved*{at}{why}")]


def _facts(message: IncidentMessage) -> list[Block]:
    facts = message.facts[: MAX_FIELDS * MAX_FACT_BLOCKS]
    blocks = []
    for start in range(0, len(facts), MAX_FIELDS):
        fields = [
            {"type": "mrkdwn", "text": _cut(f"*{escape(label)}*\n{escape(value)}", MAX_FIELD_CHARS)}
            for label, value in facts[start : start + MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    return blocks


def _rca(message: IncidentMessage) -> list[Block]:
    return [_section(f":mag: *Root cause*: {escape(message.rca)}")] if message.rca else []


def _findings(message: IncidentMessage) -> list[Block]:
    if not message.findings:
        return []
    lines = [
        f"• *{escape(f.category)}* ({escape(f.severity)}) ×{f.count}"
        + (f": `{escape(f.sample)}`" if f.sample else "")
        for f in message.findings
    ]
    return [_section("*Log findings*\n" + "\n".join(lines))]


def _steps(message: IncidentMessage) -> list[Block]:
    if not message.steps:
        return []
    lines = []
    for step in message.steps:
        emoji = _STATE_EMOJI.get(step.state, ":white_circle:")
        line = f"{emoji} {step.index}. *{escape(step.name)}* ({escape(step.action)}, {escape(step.risk)}): "
        line += escape(step.state)
        if step.result:
            line += f" — {escape(step.result)}"
        lines.append(line)
    return [_section("*Steps*\n" + "\n".join(lines))]


def _plan(plan: Sequence[str]) -> list[Block]:
    """The plan as up to :data:`MAX_PLAN_BLOCKS` code-block sections; lines that do not fit are
    counted in a last line ``… n more lines``."""
    budget = MAX_SECTION_CHARS - len("``````") - 40  # the fences and the "more lines" note
    chunks: list[list[str]] = [[]]
    used = 0
    lines = [_cut(escape(line), budget) for line in plan]
    shown = 0
    for line in lines:
        if used + len(line) + 1 > budget:
            if len(chunks) == MAX_PLAN_BLOCKS:
                break
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += len(line) + 1
        shown += 1
    if shown < len(lines):
        chunks[-1].append(f"… {len(lines) - shown} more lines")
    return [_section("```" + "\n".join(chunk) + "```") for chunk in chunks if chunk]


def _buttons(pending: PendingStep) -> Block:
    high = pending.risk == "high"
    approve: Block = {
        "type": "button",
        "action_id": SLACK_APPROVE,
        "text": {"type": "plain_text", "text": "Approve", "emoji": True},
        "value": pending.request_id,
        "style": "danger" if high else "primary",
    }
    if high:
        approve["confirm"] = {
            "title": {"type": "plain_text", "text": "Approve a high-risk step?"},
            "text": {
                "type": "mrkdwn",
                "text": _cut(
                    f"*{escape(pending.step)}* ({escape(pending.action)}) on {escape(pending.target)}", 300
                ),
            },
            "confirm": {"type": "plain_text", "text": "Approve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        }
    reject: Block = {
        "type": "button",
        "action_id": SLACK_REJECT,
        "text": {"type": "plain_text", "text": "Reject", "emoji": True},
        "value": pending.request_id,
    }
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": [approve, reject]}


def votes_line(pending: PendingStep) -> str:
    """``votes 1/2 (<@U1>)``: the votes so far of the distinct approvers needed."""
    who = ", ".join(mention(v) for v in pending.votes)
    return f"votes {len(pending.votes)}/{pending.votes_needed}" + (f" ({who})" if who else "")


def _pending(pending: PendingStep) -> list[Block]:
    head = (
        f":raised_hand: *Waiting for approval*: *{escape(pending.step)}* ({escape(pending.action)},"
        f" {escape(pending.risk)} risk) on `{escape(pending.target)}`\nrequest `{pending.request_id}`,"
        f" expires {_when(pending.expires_at)}"
    )
    blocks = [_section(head), *_plan(pending.plan)]
    if pending.votes_needed > 1:
        blocks.append(_context(votes_line(pending), block_id=VOTES_BLOCK_ID))
    blocks.append(_buttons(pending))
    return blocks


def decision_line(decision: Decision) -> str:
    """``restart: approved by <@U…> at 2026-12-03 15:01:00Z — looks right`` (mrkdwn)."""
    emoji = _VERDICT_EMOJI.get(decision.verdict, ":white_circle:")
    text = f"{emoji} *{escape(decision.step)}*: {escape(decision.verdict)}"
    if decision.by:
        text += f" by {mention(decision.by)}"
    if decision.at:
        text += f" at {_when(decision.at)}"
    return text + (f" — {escape(decision.reason)}" if decision.reason else "")


def _fallback(message: IncidentMessage) -> str:
    header = message.header
    text = f"[{header.severity.upper()}] {header.event_type} on {header.resource} — {header.status}"
    if message.pending is not None:
        text += f" — approval needed: {message.pending.step} ({message.pending.risk})"
    elif message.decision is not None:
        text += f" — {message.decision.step}: {message.decision.verdict}"
    return escape(_cut(text, 300))


def _fit(blocks: list[Block]) -> list[Block]:
    """At most :data:`MAX_BLOCKS` blocks: the middle (facts, findings) gives way first; the
    header, the pending step with its buttons and the decision stay (they are the last ones)."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    tail = 8
    return [*blocks[: MAX_BLOCKS - tail - 1], _context("… (cut to Slack's 50-block limit)"), *blocks[-tail:]]


def render(message: IncidentMessage) -> tuple[str, list[Block]]:
    """``(text, blocks)`` for ``chat.postMessage``/``chat.update``: ``text`` the notification
    fallback (one line), ``blocks`` the Block Kit layout described in the module docstring, within
    Block Kit's limits. Pure; never raises for a valid message."""
    blocks: list[Block] = [_header(message), _summary(message)]
    blocks += _resolved(message)
    blocks += _facts(message)
    blocks += _rca(message)
    blocks += _findings(message)
    blocks += _steps(message)
    if message.pending is not None:
        blocks += _pending(message.pending)
    if message.decision is not None:
        blocks.append(_section(decision_line(message.decision)))
    return _fallback(message), _fit(blocks)


def _replace_actions(blocks: Sequence[Block], replacement: Block) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        is_ours = block.get("type") == "actions" and (
            block.get("block_id") == ACTIONS_BLOCK_ID
            or any(e.get("action_id") in (SLACK_APPROVE, SLACK_REJECT) for e in block.get("elements", ()))
        )
        out.append(replacement if is_ours else block)
    return out


def processing_blocks(
    blocks: Sequence[Block], note: str = ":hourglass_flowing_sand: processing…"
) -> list[Block]:
    """``blocks`` (as rendered, or as Slack sent them back in a click's payload) with the
    Approve/Reject actions block replaced by a context line ``note``, so nobody clicks twice while
    a click is being handled. Blocks without buttons come back unchanged."""
    return _replace_actions(blocks, _context(note, block_id=ACTIONS_BLOCK_ID))


def closed_blocks(blocks: Sequence[Block], line: str) -> list[Block]:
    """``blocks`` with the buttons replaced by a context line ``line`` (mrkdwn, e.g. the answer to a
    late click: who decided and when), for a request that can no longer be decided."""
    return _replace_actions(blocks, _context(line, block_id=ACTIONS_BLOCK_ID))
