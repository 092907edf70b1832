"""The Block Kit render: every part shown, buttons styled by risk, gone after a decision, within
Block Kit's limits (https://api.slack.com/reference/block-kit/blocks)."""

from __future__ import annotations

from typing import Any

from aiops.approvals.model import ApprovalState
from aiops.chat.clicks import SLACK_APPROVE, SLACK_REJECT
from aiops.chat.message import Decision, build_message
from aiops.chat.slack.render import (
    MAX_BLOCKS,
    MAX_SECTION_CHARS,
    closed_blocks,
    mention,
    processing_blocks,
    render,
)
from tests.chat import domain
from tests.chat.slack.support import REQUEST_ID, has_buttons, pending_message, texts


def _actions(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (block,) = [b for b in blocks if b["type"] == "actions"]
    elements: list[dict[str, Any]] = block["elements"]
    return elements


def _section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def test_a_pending_medium_step_shows_everything_and_two_buttons() -> None:
    text, blocks = render(pending_message())
    assert (
        text == "[WARNING] crash_loop on Deployment/shop/checkout — open — approval needed: restart (medium)"
    )
    shown = texts(blocks)
    for expected in (
        ":large_orange_circle: WARNING crash_loop on Deployment/shop/checkout",
        "reason `BackOff` ×3",
        "*restarts*\\n7",
        "*java_oom* (error) ×40: `java_oom sample`",
        "The JVM runs out of heap.",
        "*logs* (get_logs, low): succeeded — read 200 lines from app",
        "409 Conflict: the object changed",
        "*Waiting for approval*: *restart* (restart_deployment, medium risk)",
        "```Plan: restart_deployment on Deployment/shop/checkout\\n  1. PATCH /apis/apps/v1/...```",
    ):
        assert expected in shown, expected
    approve, reject = _actions(blocks)
    assert (approve["action_id"], approve["value"], approve["style"]) == (
        SLACK_APPROVE,
        REQUEST_ID,
        "primary",
    )
    assert "confirm" not in approve
    assert (reject["action_id"], reject["value"]) == (SLACK_REJECT, REQUEST_ID)
    assert "votes" not in shown


def test_a_high_risk_approve_is_danger_with_a_confirm_dialog() -> None:
    _, blocks = render(pending_message(risk="high"))
    approve, _ = _actions(blocks)
    assert approve["style"] == "danger"
    assert approve["confirm"]["title"]["text"] == "Approve a high-risk step?"
    assert approve["confirm"]["confirm"]["text"] == "Approve"


def test_votes_are_shown_when_more_than_one_approver_is_needed() -> None:
    _, blocks = render(pending_message(risk="high", votes=("slack:T0001/U0456",), votes_needed=2))
    assert "votes 1/2 (<@U0456>)" in texts(blocks)
    _, blocks = render(pending_message(risk="high", votes=("slack:T1/U1", "telegram:42"), votes_needed=3))
    assert "votes 2/3 (<@U1>, telegram:42)" in texts(blocks)


def test_after_a_decision_there_are_no_buttons_and_the_decider_is_mentioned() -> None:
    message = build_message(
        domain.incident(),
        runs=[domain.run()],
        approvals=[domain.request("req-1", state=ApprovalState.APPROVED)],
    )
    decision = Decision(verdict="approved", step="restart", by="slack:T0001/U0456", at=domain.T0, reason="go")
    _, blocks = render(message.model_copy(update={"decision": decision}))
    assert not has_buttons(blocks)
    assert "*restart*: approved by <@U0456> at 2026-12-03 15:00:00Z — go" in texts(blocks)
    rejected = Decision(verdict="rejected", step="restart", by="alice", at=domain.T0, reason="not now")
    _, blocks = render(message.model_copy(update={"decision": rejected}))
    assert "*restart*: rejected by alice at 2026-12-03 15:00:00Z — not now" in texts(blocks)
    not_run = build_message(
        domain.incident(),
        approvals=[domain.request("r", state=ApprovalState.APPROVED, closed=domain.NOT_RUN)],
    )
    text, blocks = render(not_run)
    assert "not_run by alice" in texts(blocks) and "the problem was gone" in texts(blocks)
    assert text.endswith("restart: not_run")


def test_a_resolved_incident_says_so() -> None:
    message = build_message(domain.incident())
    header = message.header.model_copy(
        update={"status": "resolved", "resolved_at": domain.T0, "resolution": "gone"}
    )
    text, blocks = render(message.model_copy(update={"header": header}))
    assert "— resolved" in text
    assert blocks[0]["text"]["text"].endswith("(resolved)")
    assert "*Resolved* at 2026-12-03 15:00:00Z: gone" in texts(blocks)


def test_a_huge_plan_stays_within_block_kit_limits_and_says_what_was_cut() -> None:
    message = pending_message()
    pending = message.pending
    assert pending is not None
    plan = tuple(f"  {n}. PATCH /api/v1/namespaces/shop/pods/{'x' * 80}" for n in range(2000))
    big = message.model_copy(update={"pending": pending.model_copy(update={"plan": plan})})
    _, blocks = render(big)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_CHARS for t in _section_texts(blocks))
    assert "more lines" in texts(blocks)
    assert has_buttons(blocks)
    one_long_line = message.model_copy(
        update={"pending": pending.model_copy(update={"plan": ("y" * 10_000,)})}
    )
    _, blocks = render(one_long_line)
    assert all(len(t) <= MAX_SECTION_CHARS for t in _section_texts(blocks))


def test_text_from_the_cluster_is_escaped() -> None:
    message = build_message(domain.incident())
    facts = (("message", "<!channel> & <https://evil|click>"),)
    _, blocks = render(message.model_copy(update={"facts": facts}))
    shown = texts(blocks)
    assert "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in shown
    assert "<!channel>" not in shown


def test_processing_and_closed_blocks_replace_only_the_buttons() -> None:
    _, blocks = render(pending_message())
    processing = processing_blocks(blocks)
    assert not has_buttons(processing)
    assert len(processing) == len(blocks)
    assert "processing…" in texts(processing)
    closed = closed_blocks(blocks, "already approved by <@U1>")
    assert not has_buttons(closed) and "already approved by <@U1>" in texts(closed)
    assert processing_blocks(processing) == processing


def test_mention() -> None:
    assert mention("slack:T0001/U0456") == "<@U0456>"
    assert mention("slack:E1/W2") == "<@W2>"
    assert mention("telegram:42") == "telegram:42"
    assert mention("a<b") == "a&lt;b"
    assert mention(None) == "-"
