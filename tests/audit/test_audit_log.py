"""The audit log keeps every cluster write, newest first, across restarts, within its cap.

Covers: an AuditEntry with its ApiCall list round-trips exactly; a new AuditLog on the same store
(a restart) reads what the old one wrote; the list is newest first and limited; the stream is
trimmed to about max_entries; values that are not JSON are stored as text instead of failing.
Runs against the real Redis and the in-memory store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops.actions.base import ApiCall, AuditEntry
from aiops.audit import AuditLog
from aiops.store import Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


def entry(n: int = 0, **changes: object) -> AuditEntry:
    fields: dict[str, object] = {
        "action": "rollout_restart",
        "target": "Deployment/shop/web",
        "params": {"grace_seconds": 30, "labels": ["a", "b"]},
        "actor": "alice",
        "run_id": f"run-{n}",
        "request_id": "req-1",
        "ok": True,
        "summary": "restarted",
        "api_calls": [
            ApiCall(
                method="PATCH",
                path="/apis/apps/v1/namespaces/shop/deployments/web",
                status=200,
                body={"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}},
                response={"code": 200},
            ),
            ApiCall(method="GET", path="/api/v1/namespaces/shop/pods", status=429),
        ],
        "at": T0 + timedelta(seconds=n),
    }
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


async def test_entries_round_trip_newest_first(any_store: Store) -> None:
    log = AuditLog(any_store)
    assert await log.list() == []
    for n in range(3):
        await log.record(entry(n))
    restarted = AuditLog(any_store)
    entries = await restarted.list()
    assert entries == [entry(2), entry(1), entry(0)]
    assert isinstance(entries[0].api_calls[0], ApiCall)
    assert entries[0].at.tzinfo is not None
    assert await restarted.list(limit=1) == [entry(2)]


async def test_entries_without_approval_round_trip(any_store: Store) -> None:
    log = AuditLog(any_store)
    bare = entry(actor=None, run_id=None, request_id=None, ok=False, api_calls=[])
    await log.record(bare)
    assert await log.list() == [bare]


async def test_the_log_is_capped(any_store: Store) -> None:
    log = AuditLog(any_store, max_entries=10)
    for n in range(300):
        await log.record(entry(n))
    kept = await log.list(limit=1000)
    assert kept[0] == entry(299)
    assert 10 <= len(kept) < 300  # MAXLEN ~ trims whole nodes: about max_entries, never fewer


async def test_values_that_are_not_json_are_kept_as_text(any_store: Store) -> None:
    log = AuditLog(any_store)
    await log.record(entry(params={"when": T0, "odd": Opaque()}))
    (stored,) = await log.list()
    assert stored.params == {"when": "2025-01-01T12:00:00Z", "odd": "<opaque>"}  # pydantic JSON
