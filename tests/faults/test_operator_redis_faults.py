"""``aiops run`` through Redis faults: keeps running, answers 503 (never 500), loses no alert.

The runtime with the Alertmanager receiver on, against the emulated cluster and a private
``redis-server`` the test kills, flushes, fills or demotes (tests/support/redis_process.py): for
out-of-memory as a real ``aiops run`` child process (tests/support/operator_process.py), whose
exit is the point; for the others in this process (``runtime.build`` and ``runtime.serve`` as
``aiops run`` calls them: real kopf, real uvicorn), which starts in a fraction of the time. For
each fault:

* while Redis does not answer or refuses writes, the webhook and the API's writes answer 503 with
  the cause (Alertmanager retries 5xx), never 500;
* the process keeps running (before the fix, a NOGROUP or OOM error ended the alert intake and the
  process exited 0);
* once Redis is back, alerts flow again: every alert acknowledged (200) whose data Redis kept
  opens its incident, and none is ever moved to the dead-letter stream because Redis was full.

Every wait is bounded and fails with the operator's log; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from aiops.actions.catalog import Risk
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.policy import ApprovalPolicy
from aiops.emulator import ClusterEmulator
from aiops.sources.alertmanager import intake as intake_mod
from aiops.sources.alertmanager import parse_payload
from aiops.store import Store
from aiops.store.alerts import AlertStream
from tests.alertmanager.payloads import alert, payload
from tests.support.operator_fixtures import ALERTMANAGER_TOKEN, TOKENS, Harness, make_settings
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.ports import free_port
from tests.support.redis_process import RedisProcess

PREFIX = "aiops-faults:"
BOUND = 20.0
WEBHOOK = "/api/webhook/alertmanager"


class Scenario:
    """The operator (a child process or the in-process runtime), its private Redis, and HTTP
    helpers for the webhook and the API."""

    def __init__(
        self, base_url: str, redis: RedisProcess, *, running: Callable[[], bool], log: Callable[[], str]
    ) -> None:
        self.redis = redis
        self.running = running
        self.log = log
        self.sent = 0
        self.api = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {TOKENS['alice']}"},
            timeout=30,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def post_alerts(self, count: int) -> list[httpx.Response]:
        """POST ``count`` payloads of one alert each, about distinct pods; the answers."""
        answers = []
        for _ in range(count):
            self.sent += 1
            body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": f"pod-{self.sent:04d}"}))
            answers.append(
                await self.api.post(
                    WEBHOOK, content=body, headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
                )
            )
        return answers

    async def readiness(self) -> tuple[int, str]:
        """``/readyz``'s status code and what it says of Redis."""
        answer = await self.api.get("/readyz")
        return answer.status_code, str(answer.json().get("redis"))

    async def until(self, what: str, predicate: Callable[[], Awaitable[bool]]) -> None:
        """Await ``predicate`` (bounded); fail with the operator's log, or at once if it exited."""
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            assert self.running(), f"the operator ended:\n{self.log()}"
            try:
                if await predicate():
                    return
            except httpx.TransportError:
                assert self.running(), f"the operator ended:\n{self.log()}"
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {BOUND} s waiting for {what}:\n{self.log()}")

    async def alert_incidents(self) -> int | None:
        """How many alert incidents the API lists (None while it answers 503)."""
        response = await self.api.get("/api/incidents", params={"limit": 1000})
        if response.status_code == 503:
            return None
        assert response.status_code == 200, response.text
        return sum(1 for i in response.json() if i["type"] == "alert")

    async def incidents_reach(self, count: int) -> None:
        async def reached() -> bool:
            return await self.alert_incidents() == count

        await self.until(f"{count} alert incidents", reached)

    async def metric(self, name: str, **labels: str) -> float:
        text = (await self.api.get("/metrics")).text
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        series = f"{name}{{{wanted}}} " if labels else f"{name} "
        for line in text.splitlines():
            if line.startswith(series):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


#: Starts the operator on a private Redis (fixtures ``child`` and ``in_process``).
Starter = Callable[[RedisProcess], Awaitable[Scenario]]


def _refused(answers: list[httpx.Response], cause: str) -> None:
    """Every answer is a 503 whose detail names ``cause``."""
    assert [a.status_code for a in answers] == [503] * len(answers), [a.text for a in answers]
    assert all(cause in a.json()["detail"] for a in answers), [a.text for a in answers]


def _accepted(answers: list[httpx.Response]) -> None:
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]


@pytest.fixture
async def child(emulator: ClusterEmulator, tmp_path: Path) -> AsyncIterator[Starter]:
    """Starts ``aiops run`` as a child process on the emulator and a given private Redis."""
    started: list[tuple[Scenario, OperatorProcess]] = []

    async def run(redis: RedisProcess) -> Scenario:
        port = free_port()
        env = operator_env(
            kube_server=emulator.url,
            redis_url=redis.url,
            redis_prefix=PREFIX,
            api_port=port,
            tokens=TOKENS,
            extra={
                "AIOPS_ALERTMANAGER__ENABLED": "true",
                "AIOPS_ALERTMANAGER__TOKEN": ALERTMANAGER_TOKEN,
                "AIOPS_APPROVALS__SWEEP_INTERVAL_SECONDS": "0.5",
            },
        )
        op = OperatorProcess(env, port=port, log_path=tmp_path / "aiops-run.log")
        scenario = Scenario(
            op.base_url,
            redis,
            running=lambda: op.running,
            log=lambda: f"aiops run exit status {op.returncode()}; its log:\n{op.log_tail()}",
        )
        started.append((scenario, op))
        await op.start()
        return scenario

    try:
        yield run
    finally:
        for scenario, op in started:
            await scenario.api.aclose()
            await op.stop()


@pytest.fixture
async def in_process(emulator: ClusterEmulator) -> AsyncIterator[Starter]:
    """Starts the runtime in this process on the emulator and a given private Redis."""
    started: list[tuple[Scenario, Harness, Store]] = []

    async def run(redis: RedisProcess) -> Scenario:
        store = Store.connect(redis.url, prefix=PREFIX, timeout_seconds=2)
        harness = Harness(emulator, store, make_settings(emulator))
        await harness.start()
        scenario = Scenario(harness.base_url, redis, running=lambda: harness.serving, log=lambda: "")
        started.append((scenario, harness, store))
        return scenario

    try:
        yield run
    finally:
        for scenario, harness, store in started:
            await scenario.api.aclose()
            await harness.stop()
            await store.close()


async def _open_request(store: Store) -> str:
    """A pending approval request, opened as another replica's executor would (the API's writes
    under test are decisions)."""
    gate = ApprovalGate(store, ApprovalPolicy())
    request = await gate.request(
        run_id="run-elsewhere",
        incident_id="incident-elsewhere",
        playbook_id="crash_loop_remediation",
        step_index=2,
        step_name="delete pod",
        action="delete_pod",
        risk=Risk.MEDIUM,
        target=None,
        params={"namespace": "shop", "pod": "web-1"},
    )
    return request.id


async def test_out_of_memory_answers_503_keeps_running_and_dead_letters_nothing(
    child: Starter, redis_process: RedisProcess
) -> None:
    store = Store.connect(redis_process.url, prefix=PREFIX)
    try:
        # 20 alerts acknowledged to Alertmanager (recorded by the receiver's own code) and one
        # pending approval, then Redis fills up before the operator consumes any of them.
        recorder = intake_mod.Intake(AlertStream(store), consumer="receiver")
        for i in range(20):
            body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": f"early-{i:02d}"}))
            await recorder.record(parse_payload(body), body)
        request_id = await _open_request(store)
        await redis_process.fill_memory()
        scenario = await child(redis_process)

        async def consumer_met_oom_twice() -> bool:
            return await scenario.metric("aiops_pipeline_errors_total", stage="alert-intake") >= 2

        await scenario.until("the intake to meet OOM, pause and retry", consumer_met_oom_twice)
        _refused(await scenario.post_alerts(3), "out of memory (OOM")
        approve = await scenario.api.post(f"/api/approvals/{request_id}/approve")
        _refused([approve], "out of memory (OOM")
        assert await scenario.alert_incidents() == 0
        status, redis_said = await scenario.readiness()  # PING still answers: not ready all the same
        assert status == 503 and redis_said.startswith("refuses writes") and "OOM" in redis_said

        await redis_process.free_memory()
        assert await scenario.readiness() == (200, "ok")
        await scenario.incidents_reach(20)
        _accepted(await scenario.post_alerts(3))
        await scenario.incidents_reach(23)
        assert (await scenario.api.post(f"/api/approvals/{request_id}/approve")).status_code == 200
        assert await AlertStream(store).dead_letters() == []
        assert scenario.running()
    finally:
        await store.close()


@pytest.mark.parametrize("fault", ["sigkill, append-only file", "sigkill, no persistence", "flushall"])
async def test_redis_killed_or_flushed_answers_503_and_alerts_flow_again(
    in_process: Starter,
    redis_servers: Callable[..., Awaitable[RedisProcess]],
    fault: str,
) -> None:
    redis = await redis_servers(appendonly=fault == "sigkill, append-only file")
    scenario = await in_process(redis)
    assert await scenario.metric("aiops_redis_ready") == 1.0
    _accepted(await scenario.post_alerts(10))
    if fault == "flushall":
        await scenario.incidents_reach(10)
        await redis.flushall()
        kept = 0
    else:
        await redis.kill()  # alerts just acknowledged may not be consumed yet
        _refused(await scenario.post_alerts(2), "Redis did not answer")
        answer = await scenario.api.post("/api/approvals/0123abcd/approve")
        _refused([answer], "Redis did not answer")
        status, redis_said = await scenario.readiness()
        assert status == 503 and redis_said.startswith("unreachable"), redis_said
        assert await scenario.metric("aiops_redis_ready") == 0.0  # the AiopsRedisUnavailable alert
        await asyncio.sleep(1.0)  # the intake and the sweeper meet the dead Redis meanwhile
        assert scenario.running()
        await redis.start()
        assert await scenario.metric("aiops_redis_ready") == 1.0
        kept = 10 if redis.appendonly else 0  # without persistence Redis came back empty
    _accepted(await scenario.post_alerts(5))
    await scenario.incidents_reach(kept + 5)
    store = Store.connect(redis.url, prefix=PREFIX)
    try:
        assert await AlertStream(store).dead_letters() == []
    finally:
        await store.close()
    assert scenario.running()


async def test_a_demoted_primary_answers_503_until_it_is_primary_again(
    in_process: Starter,
    redis_servers: Callable[..., Awaitable[RedisProcess]],
) -> None:
    primary = await redis_servers(appendonly=True)
    other = await redis_servers(appendonly=True)
    scenario = await in_process(primary)
    _accepted(await scenario.post_alerts(5))
    await scenario.incidents_reach(5)
    store = Store.connect(primary.url, prefix=PREFIX)
    try:
        request_id = await _open_request(store)
        # Failover: the other server is promoted, ours demoted to its replica (READONLY).
        await other.replicate(primary)
        await other.promote()
        await primary.replicate(other)
        _refused(await scenario.post_alerts(2), "read-only replica (READONLY")
        approve = await scenario.api.post(f"/api/approvals/{request_id}/approve")
        _refused([approve], "read-only replica (READONLY")
        assert await scenario.alert_incidents() == 5  # reads still answer
        status, redis_said = await scenario.readiness()  # and PING: not ready all the same
        assert status == 503 and redis_said.startswith("refuses writes") and "READONLY" in redis_said
        assert await scenario.metric("aiops_redis_ready") == 0.0

        async def intake_paused() -> bool:
            return await scenario.metric("aiops_pipeline_errors_total", stage="alert-intake") >= 1

        await scenario.until("the intake to pause on READONLY", intake_paused)
        await primary.promote()
        assert await scenario.readiness() == (200, "ok")
        assert await scenario.metric("aiops_redis_ready") == 1.0
        _accepted(await scenario.post_alerts(3))
        await scenario.incidents_reach(8)
        assert (await scenario.api.post(f"/api/approvals/{request_id}/approve")).status_code == 200
        assert await AlertStream(store).dead_letters() == []
        assert scenario.running()
    finally:
        await store.close()
