"""User-group membership (usergroups.users.list, kept 60 s, failing closed) and reading a click
out of a block_actions payload."""

from __future__ import annotations

import asyncio

from aiops.chat.slack import web_client
from aiops.chat.slack.groups import GroupMembership, group_ids
from aiops.chat.slack.interactions import parse_click
from tests.chat.slack.support import block_actions, settings
from tests.support.slack_mock import serve_slack_mock


def test_group_ids_takes_only_user_groups() -> None:
    approvers = ["slack-group:S01", "slack:T1/U1", "alice", "telegram:42", "S02", "slack-group:"]
    assert group_ids(approvers) == {"S01", "S02"}


async def test_members_are_cached_for_the_ttl_and_an_unreadable_group_grants_nothing() -> None:
    now = [100.0]
    async with serve_slack_mock() as slack, asyncio.timeout(5):
        slack.groups = {"S01": ["U1", "U2"], "S02": ["U2"]}
        groups = GroupMembership(
            web_client(settings(slack.api_url)),
            {"slack-group:S01", "slack-group:S02"},
            monotonic=lambda: now[0],
        )
        assert await groups.of("U2") == ("S01", "S02")
        assert await groups.of("U1") == ("S01",)
        assert len(slack.bodies("usergroups.users.list")) == 2
        slack.groups = {"S01": [], "S02": []}
        now[0] += 59
        assert await groups.of("U1") == ("S01",)
        now[0] += 2
        slack.fail_next("usergroups.users.list", error="missing_scope")
        assert await groups.of("U1") == ()
        slack.groups = {"S01": ["U1"]}
        assert await groups.of("U1") == ("S01",)
        assert [b["usergroup"] for b in slack.bodies("usergroups.users.list")] == [
            "S01",
            "S02",
            "S01",
            "S02",
            "S01",
        ]


def test_a_retried_delivery_of_a_click_carries_the_same_delivery_id() -> None:
    payload = block_actions()
    first, again = parse_click(payload), parse_click(payload)
    other = parse_click(block_actions())
    assert first is not None and again is not None and other is not None
    assert first.click.delivery_id == again.click.delivery_id
    assert first.click.delivery_id != other.click.delivery_id
    assert parse_click({"type": "block_actions", "actions": [{"action_id": "something_else"}]}) is None


def test_a_malformed_payload_is_no_click() -> None:
    for body in ({}, {"actions": "x", "user": 3}, {"actions": [1, None], "message": []}):
        assert parse_click(body) is None
    payload = block_actions()
    payload["message"]["blocks"] = "not a list"
    parsed = parse_click(payload)
    assert parsed is not None and parsed.blocks == []
