"""The Telegram render: HTML-escaped text with every part, within 4096 characters, and buttons
only while a step is pending."""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.approvals.model import ApprovalState
from aiops.chat.clicks import parse_callback_data
from aiops.chat.message import Decision, Header, IncidentMessage, Step, build_message
from aiops.chat.telegram.render import MAX_TEXT_CHARS, keyboard, processing_keyboard, render_text
from tests.chat import domain
from tests.chat.telegram.support import pending_message, request_id


def test_the_text_shows_every_part_of_the_message() -> None:
    rid = request_id()
    text = render_text(pending_message(rid))
    for expected in (
        "<b>[WARNING] crash_loop</b> on <code>Deployment/shop/checkout</code>",
        "BackOff ×3",
        "<b>restarts</b>: 7",
        "• java_oom (error) ×40: <code>java_oom sample</code>",
        "<b>RCA</b>: The JVM runs out of heap. (out_of_memory, confidence 80%)",
        "<b>scale</b> (scale, high): failed — 409 Conflict: the object changed",
        "<b>Waiting for approval: restart</b> (restart_deployment, risk medium)",
        f"request <code>{rid}</code>",
        "PATCH /apis/apps/v1/namespaces/shop/deployments/checkout",
    ):
        assert expected in text, expected
    assert "votes" not in text and "Decision" not in text


def test_text_from_the_message_is_escaped() -> None:
    header = Header(
        incident_id="<i>",
        severity="critical",
        status="open",
        resource="Pod/a&b/<x>",
        event_type="oom",
        reason="<script>",
        count=1,
        first_seen=datetime(2026, 1, 1, tzinfo=UTC),
        last_seen=datetime(2026, 1, 1, tzinfo=UTC),
    )
    text = render_text(IncidentMessage(header=header, facts=(("msg", 'a "b" <c>'),)))
    assert "Pod/a&amp;b/&lt;x&gt;" in text and "&lt;script&gt;" in text and "&lt;c&gt;" in text
    assert "<script>" not in text and "<x>" not in text


def test_votes_show_when_more_than_one_approver_is_needed() -> None:
    text = render_text(pending_message(request_id(), votes=("@alice",), needed=2))
    assert "votes 1/2 (@alice)" in text


def test_the_keyboard_carries_the_request_id_and_the_verb() -> None:
    rid = request_id()
    markup = keyboard(pending_message(rid))
    assert markup is not None
    (row,) = markup.inline_keyboard
    datas = [button.callback_data for button in row]
    assert [parse_callback_data(d if isinstance(d, str) else None) for d in datas] == [
        (rid, True),
        (rid, False),
    ]
    assert all(len(str(d).encode()) <= 64 for d in datas)
    assert [b.callback_data for b in processing_keyboard().inline_keyboard[0]] == ["noop"]


def test_a_decided_message_has_the_decision_line_and_no_keyboard() -> None:
    message = build_message(
        domain.incident(), runs=[domain.run()], approvals=[domain.request("r1", state=ApprovalState.APPROVED)]
    )
    assert keyboard(message) is None
    assert "<b>Decision</b>: restart: approved by alice at 2026-12-03 15:01:00Z — looks right" in render_text(
        message
    )


def test_a_resolved_incident_says_so() -> None:
    message = build_message(domain.incident())
    header = message.header.model_copy(
        update={
            "status": "resolved",
            "resolved_at": datetime(2026, 12, 3, 16, tzinfo=UTC),
            "resolution": "healthy",
        }
    )
    text = render_text(message.model_copy(update={"header": header}))
    assert "<b>resolved</b> 2026-12-03 16:00:00Z: healthy" in text


def test_a_long_plan_is_cut_to_fit_with_a_pointer_to_the_cli() -> None:
    rid = request_id()
    message = pending_message(rid)
    assert message.pending is not None
    plan = tuple(f"+ /spec/containers/{i}/env: {'x' * 60}" for i in range(200))
    message = message.model_copy(update={"pending": message.pending.model_copy(update={"plan": plan})})
    text = render_text(message)
    assert len(text) <= MAX_TEXT_CHARS
    assert "+ /spec/containers/0/env" in text and "+ /spec/containers/199/env" not in text
    assert f"more plan lines: aiops approvals show {rid}</i>" in text
    assert text.count("<pre>") == text.count("</pre>") == 1


def test_many_steps_drop_the_oldest_first() -> None:
    steps = tuple(
        Step(run_id="r", index=i, name=f"s{i}", action="a", risk="low", state="succeeded", result="y" * 190)
        for i in range(60)
    )
    message = build_message(domain.incident()).model_copy(
        update={"steps": steps, "decision": Decision(verdict="approved", step="s59", by="alice")}
    )
    text = render_text(message)
    assert len(text) <= MAX_TEXT_CHARS
    assert "<b>s59</b>" in text and "<b>s0</b>" not in text and "earlier steps not shown" in text
    assert "<b>Decision</b>" in text
