"""aiops on a Redis Cluster: cluster mode from the URL, one slot per key family, and failures.

Runs against the session's private 3-master cluster (``redis_cluster_url``,
``tests/support/redis_cluster.py``). The store's contract tests run on it too (``any_store``'s
``cluster`` run in tests/store, tests/dedup, tests/approvals, tests/audit and the guards'
reservations); this module covers what only a cluster shows: every key of a family that has
multi-key scripts hashes to that family's slot (else Redis answers CROSSSLOT), the generic keys
spread over the masters, the alert intake's scripts and stream commands work there, the cleanup
reaches every master, a cluster no node of which answers is StoreUnavailable, and
``aiops config check`` accepts the ``redis+cluster://`` URL.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from typer.testing import CliRunner

from aiops import cli, errors
from aiops.settings import Settings
from aiops.store import Store, failures
from aiops.store.alerts import AlertStream
from aiops.store.sweep import delete_prefix

#: The families whose atomic operations touch several keys, each under one hash tag.
TAGS = ("incidents", "approvals", "guards", "alerts")


async def _keys(store: Store) -> list[str]:
    return [str(k) async for k in store._r.scan_iter(match=store.prefix.replace("[", "\\[") + "*", count=500)]


async def _fill(store: Store) -> None:
    """One operation of every family, and 60 documents."""
    await store.incidents.observe(
        "crashloop:Deployment/shop/web",
        new_id="inc-1",
        opening={"status": "open"},
        update={"last": "now"},
        member="Pod/shop/web-1",
        severity="critical",
        score=1.0,
    )
    await store.incidents.touch(
        "crashloop:Deployment/shop/web", update={"last": "later"}, member="Pod/shop/web-2", severity="warning"
    )
    await store.approvals.create("run-1", 0, new_id="apr-1", request_json="{}", created=1.0, expires=2.0)
    await store.approvals.decide(
        "apr-1", '{"approved": true}', run_id="run-1", step_index=0, retention_seconds=60
    )
    got = await store.reservations.reserve(
        "run-1:0",
        windows=[("budget:ns:shop", 5), ("budget:cluster", 20)],
        now_seconds=100.0,
        window_seconds=3600,
        claims=[("rate:pb:Pod/shop/web-1", 60, "run-1"), ("lease:workload:Deployment/shop/web", 60, None)],
    )
    assert got.ok, got
    await AlertStream(store).record("payload-1", b"{}", [("seen-a", 0), ("seen-b", 1)])
    await store.audit.append("{}", max_entries=10)
    for i in range(60):
        await store.put_doc("run", f"r{i}", "{}")


async def test_each_family_lives_in_its_tags_slot_and_the_rest_spreads(cluster_store: Store) -> None:
    assert cluster_store.cluster is True
    assert cluster_store.describe().startswith("redis+cluster://127.0.0.1:")
    await _fill(cluster_store)
    client = cluster_store._r
    assert isinstance(client, RedisCluster)

    keys = await _keys(cluster_store)
    by_tag: dict[str, set[int]] = {tag: set() for tag in TAGS}
    untagged_nodes: set[str] = set()
    for key in keys:
        slot = client.keyslot(key)
        tag = next((t for t in TAGS if "{" + t + "}" in key), None)
        if tag is None:
            untagged_nodes.add(client.get_node_from_key(key).name)
        else:
            by_tag[tag].add(slot)
    for tag in TAGS:
        assert by_tag[tag] == {client.keyslot("{" + tag + "}")}, (tag, by_tag[tag])
    assert len(untagged_nodes) == 3, "the generic keys spread over every master"
    assert await cluster_store.incidents.open_count() == 1
    record = await cluster_store.incidents.fetch("inc-1")
    assert record is not None and record.event_count == 2
    assert record.members == {"Pod/shop/web-1", "Pod/shop/web-2"}
    assert await cluster_store.reservations.owner("lease:workload:Deployment/shop/web") == "run-1:0"


async def test_a_burst_of_first_commands_on_a_fresh_client(redis_cluster_url: str) -> None:
    # Before: redis-py 8.1's cluster client resolved commands before its lazy discovery, and a burst
    # of first commands on a fresh client failed with AttributeError or "Connection closed by server".
    for attempt in range(5):
        store = Store.connect(redis_cluster_url, prefix=f"aiops-test:cluster-burst-{attempt}:")
        try:
            counts = await asyncio.gather(
                *(store.increment(f"burst-{i}") for i in range(48)),
                *(store.claim(f"burst-{i}", "me") for i in range(48)),
            )
            assert counts == [1] * 48 + [True] * 48
        finally:
            await delete_prefix(store)
            await store.close()


async def test_the_alert_intake_works_on_a_cluster(cluster_store: Store) -> None:
    stream = AlertStream(cluster_store)
    assert await stream.record("p1", b'{"alerts": []}', [("k1", 0), ("k2", 1)]) == [True, True]
    assert await stream.record("p2", b"{}", [("k1", 0)]) == [False]
    await stream.ensure_group()
    entries = await stream.read("c1", count=10, block_ms=100)
    assert [(e.kind, e.payload, e.index) for e in entries] == [
        ("first", "p1", 0),
        ("first", "p1", 1),
        ("duplicate", "p2", 0),
    ]
    assert await stream.payload_body("p1") == '{"alerts": []}'
    await stream.ack(entries[0].id)
    await stream.dead_letter(entries[1], "boom", alert="{}")
    assert [d["error"] for d in await stream.dead_letters()] == ["boom"]
    assert await stream.backlog() == 1
    await stream.trim_acknowledged()


async def test_cleanup_reaches_every_master(redis_cluster_url: str) -> None:
    mine = Store.connect(redis_cluster_url, prefix="aiops-test:cluster-cleanup-mine:")
    theirs = Store.connect(redis_cluster_url, prefix="aiops-test:cluster-cleanup-theirs:")
    try:
        await _fill(mine)
        await theirs.claim("a", "y")
        written = len(await _keys(mine))
        assert written > 60
        assert await delete_prefix(mine) == written
        assert await _keys(mine) == []
        assert await theirs.claim_owner("a") == "y"
    finally:
        await delete_prefix(mine)
        await delete_prefix(theirs)
        await mine.close()
        await theirs.close()


async def test_a_cluster_that_does_not_answer_is_store_unavailable() -> None:
    dead = Store.connect("redis+cluster://127.0.0.1:1/0", timeout_seconds=1)
    try:
        assert dead.describe() == "redis+cluster://127.0.0.1:1"
        assert await dead.ping() is False
        assert "cannot be connected" in (await dead.ping_error() or "")
        with pytest.raises(errors.StoreUnavailable):
            await dead.claim("x", "me")
        with pytest.raises(errors.StoreUnavailable):
            await dead.incidents.observe(
                "k", new_id="i", opening={}, update={}, member="m", severity="warning", score=0
            )
    finally:
        await dead.close()


async def test_a_script_over_untagged_keys_is_refused_as_a_bug(cluster_store: Store) -> None:
    # Why the tags: the same two keys without a common tag cannot be in one script on a cluster,
    # and that is a bug (it passes unchanged), never "Redis is unavailable".
    untagged = [cluster_store._k("incidents", "open"), cluster_store._k("incidents", "all")]
    tagged = [cluster_store._tagged("incidents", "open"), cluster_store._tagged("incidents", "all")]
    with pytest.raises(RedisClusterException, match="same key slot") as refused:
        await cluster_store._eval("return #KEYS", untagged, [])
    assert not failures.unreachable(refused.value)
    assert await cluster_store._eval("return #KEYS", tagged, []) == 2


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("redis+cluster://redis-0.redis:6379/0", True),
        ("rediss+cluster://user:secret@clustercfg.example.cache.amazonaws.com:6379", True),
        ("redis+cluster://redis:6379/3", False),
    ],
)
def test_settings_accept_cluster_urls(url: str, ok: bool) -> None:
    if ok:
        assert Settings(redis_url=url).redis_url == url
    else:
        with pytest.raises(ValueError, match="only database 0"):
            Settings(redis_url=url)


def test_config_check_accepts_a_cluster_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.upper().startswith(("AIOPS_", "REDIS_URL"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("REDIS_URL", "redis+cluster://127.0.0.1:1/0")
    monkeypatch.setenv("AIOPS_KUBE__SERVER", "http://127.0.0.1:1")
    monkeypatch.setenv("AIOPS_STARTUP_WAIT_SECONDS", "0")
    result = CliRunner().invoke(cli.app, ["config", "check"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "ok: aiops run would start" in result.stdout
    assert "redis+cluster://127.0.0.1:1" in result.stdout
