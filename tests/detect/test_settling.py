"""Settling: a crash-looping container's brief ``running`` phase is not a recovery, and time-bound
answers (back-off reset after 10 minutes, the OOM window) tell the pipeline when to look again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiops.events.model import EventType
from aiops.sources.kubewatch import settling
from aiops.sources.kubewatch.settling import BACKOFF_RESET_SECONDS

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(state: dict[str, Any], last: dict[str, Any] | None, restarts: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop"},
        "status": {
            "containerStatuses": [
                {"name": "app", "restartCount": restarts, "state": state, "lastState": last or {}}
            ]
        },
    }


def test_running_between_crashes_is_still_crash_loop_until_backoff_resets() -> None:
    started = NOW - timedelta(seconds=30)
    body = _pod(
        {"running": {"startedAt": _iso(started)}},
        {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": _iso(started)}},
        restarts=7,
    )
    result = settling(body, now=NOW)
    assert result.types == {EventType.CRASH_LOOP}
    assert result.recheck_at == started + timedelta(seconds=BACKOFF_RESET_SECONDS)


def test_running_ten_minutes_after_the_last_crash_has_settled() -> None:
    started = NOW - timedelta(seconds=BACKOFF_RESET_SECONDS + 5)
    body = _pod(
        {"running": {"startedAt": _iso(started)}},
        {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": _iso(started)}},
        restarts=7,
    )
    assert settling(body, now=NOW).types == frozenset()
    assert settling(body, now=NOW).recheck_at is None


def test_just_exited_again_is_still_crash_loop() -> None:
    body = _pod({"terminated": {"reason": "Error", "exitCode": 1}}, {"terminated": {"reason": "Error"}}, 3)
    assert settling(body, now=NOW).types == {EventType.CRASH_LOOP}


@pytest.mark.parametrize("last", [None, {"terminated": {"reason": "Completed", "exitCode": 0}}])
def test_clean_containers_do_not_settle(last: dict[str, Any] | None) -> None:
    body = _pod({"running": {"startedAt": _iso(NOW - timedelta(seconds=5))}}, last, restarts=1 if last else 0)
    assert settling(body, now=NOW).types == frozenset()


def test_recent_oom_asks_for_a_recheck_when_its_window_ends() -> None:
    finished = NOW - timedelta(seconds=60)
    body = _pod(
        {"running": {"startedAt": _iso(finished)}},
        {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": _iso(finished)}},
        restarts=1,
    )
    result = settling(body, now=NOW)
    assert result.recheck_at is not None and result.recheck_at > NOW


@pytest.mark.parametrize(
    "body",
    [{"kind": "Pod"}, {"kind": "Pod", "status": {"containerStatuses": "nope"}}, {"kind": "Node"}, {}],
)
def test_malformed_or_other_kinds_settle_nothing(body: dict[str, Any]) -> None:
    assert settling(body, now=NOW).types == frozenset()
