"""The verifier against the cluster emulator over real HTTP: each check, settling, timeouts, API errors.

The emulator runs no controllers, so the tests play them: they put objects with the status a
controller would write, sometimes from a background task while verification runs. Timing values
are small (poll 0.02-0.05 s, settle up to 0.3 s, timeouts up to 3 s); no test asserts wall-clock
durations. Where exact timing matters (the settle timer restarting), a fake clock is injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from aiops import kube as kube_mod
from aiops.actions.plan import Expectation, ExpectationCheck
from aiops.emulator import ClusterEmulator
from aiops.safety.verify import CheckOutcome, VerificationResult, Verifier
from tests.support.kube_fixtures import deployment, node, pod

POLL = 0.02


def expect(
    check: ExpectationCheck,
    kind: str,
    name: str,
    namespace: str | None = "shop",
    *,
    api_version: str = "apps/v1",
    settle: float = 0.0,
    timeout: float = 1.0,
    **values: Any,
) -> Expectation:
    return Expectation(
        check=check,
        api_version=api_version,
        kind=kind,
        namespace=namespace,
        name=name,
        values=values,
        settle_seconds=settle,
        timeout_seconds=timeout,
    )


def writes(emulator: ClusterEmulator) -> list[str]:
    return [f"{c.method} {c.path}" for c in emulator.calls if c.method != "GET"]


async def wait_for_polls(emulator: ClusterEmulator, path_part: str, count: int) -> None:
    """Wait (bounded) until the verifier has read ``path_part`` ``count`` times in all."""
    for _ in range(1000):
        if len(emulator.calls_matching("GET", path_part)) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the verifier never read {path_part} {count} times")


# --- pod_replaced ---------------------------------------------------------------------------------


def _replicaset(emulator: ClusterEmulator) -> dict[str, Any]:
    return emulator.put_object(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-abc", "namespace": "shop"},
            "spec": {"replicas": 1},
        }
    )


def _replica(
    rs: dict[str, Any], name: str, *, ready: bool = True, restarts: int = 0, waiting: str | None = None
) -> dict[str, Any]:
    body = pod(name, "shop", owner=rs, ready=ready)
    state: dict[str, Any] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    body["status"]["containerStatuses"] = [
        {"name": "app", "ready": ready, "restartCount": restarts, "state": state}
    ]
    return body


def _replaced(rs: dict[str, Any], old_uid: str, *, settle: float = 0.0, timeout: float = 1.0) -> Expectation:
    return expect(
        "pod_replaced",
        "Pod",
        "web-abc-old",
        api_version="v1",
        settle=settle,
        timeout=timeout,
        old_uid=old_uid,
        controller_uid=rs["metadata"]["uid"],
        controller="ReplicaSet/web-abc",
    )


async def test_pod_replaced_verified(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """The old pod is gone (or terminating), the new pod of the ReplicaSet is Ready and does not restart."""
    rs = _replicaset(emulator)
    old = emulator.put_object(_replica(rs, "web-abc-old"))
    old["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    emulator.put_object(old)  # terminating: counts as gone
    emulator.put_object(_replica(rs, "web-abc-new", restarts=1))
    emulator.put_object(pod("other", "shop"))  # not the controller's: ignored

    result = await Verifier(kube, poll_seconds=POLL).verify(
        [_replaced(rs, old["metadata"]["uid"], settle=0.1)]
    )

    assert result.verified, result.detail
    assert re.fullmatch(
        r"1/1 pods of ReplicaSet web-abc Ready, none in CrashLoopBackOff, no restarts for 0\.\d s",
        result.outcomes[0].detail,
    )
    assert writes(emulator) == []


async def test_pod_replaced_waits_for_the_old_pod_and_a_ready_replacement(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """Old pod still there, then a not-Ready replacement: not holding; observe() says which."""
    rs = _replicaset(emulator)
    old = emulator.put_object(_replica(rs, "web-abc-old"))
    verifier = Verifier(kube, poll_seconds=POLL)
    expectation = _replaced(rs, old["metadata"]["uid"])

    held, detail = await verifier.observe(expectation)
    assert not held
    assert detail == f"old pod shop/web-abc-old (uid {old['metadata']['uid']}) still exists"

    emulator.delete_object("v1", "Pod", "shop", "web-abc-old")
    assert await verifier.observe(expectation) == (False, "no pod of ReplicaSet web-abc exists yet")

    emulator.put_object(_replica(rs, "web-abc-new", ready=False, waiting="ContainerCreating"))
    assert await verifier.observe(expectation) == (
        False,
        "0/1 pods of ReplicaSet web-abc Ready; pod shop/web-abc-new is not Ready "
        "(container app waiting: ContainerCreating)",
    )


async def test_pod_replaced_in_crash_loop_is_not_verified(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """A replacement waiting in CrashLoopBackOff never holds; the detail names the pod and its restarts."""
    rs = _replicaset(emulator)
    emulator.put_object(_replica(rs, "web-abc-x2", ready=False, restarts=3, waiting="CrashLoopBackOff"))

    result = await Verifier(kube, poll_seconds=POLL).verify([_replaced(rs, "gone-uid", timeout=0.2)])

    assert not result.verified
    assert result.outcomes[0].detail.startswith(
        "pod shop/web-abc-x2 is in CrashLoopBackOff (container app, restarts 3) (gave up after 0."
    )
    assert result.as_dict()["state"] == "not_verified"


async def test_pod_replaced_that_keeps_restarting_is_not_verified(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """Ready at every poll, but restartCount goes up between polls: the settle period never completes."""
    rs = _replicaset(emulator)
    restarts = [2]

    def crash() -> None:  # the kubelet restarting the container between two of our reads
        restarts[0] += 1
        emulator.put_object(_replica(rs, "web-abc-x2", restarts=restarts[0]))

    async def kubelet() -> None:
        for polls in range(1, 1000):
            await wait_for_polls(emulator, "/pods", polls)
            crash()

    crash()
    task = asyncio.create_task(kubelet())
    try:
        verifier = Verifier(kube, poll_seconds=POLL)
        result = await verifier.verify([_replaced(rs, "gone-uid", settle=0.1, timeout=0.4)])
    finally:
        task.cancel()

    assert not result.verified
    detail = result.outcomes[0].detail
    assert re.fullmatch(
        r"pod shop/web-abc-x2 container app restarted \(restarts (\d+) → (\d+)\) \(gave up after 0\.\d s\)",
        detail,
    ), detail
    assert len(emulator.calls_matching("GET", "/pods")) >= 3


async def test_pod_replaced_with_one_restart_during_settle_settles_afterwards(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """One restart during the settle period interrupts it; once stable again it settles, and says so."""
    rs = _replicaset(emulator)
    emulator.put_object(_replica(rs, "web-abc-x2"))
    verifier = Verifier(kube, poll_seconds=POLL)

    async def restart_once() -> None:
        await wait_for_polls(emulator, "/pods", 2)
        emulator.put_object(_replica(rs, "web-abc-x2", restarts=1))

    task = asyncio.create_task(restart_once())
    result = await verifier.verify([_replaced(rs, "gone-uid", settle=0.2, timeout=3)])
    await task

    assert result.verified, result.detail
    assert "(interrupted 1 time, last: pod shop/web-abc-x2 container app restarted (restarts 0 → 1))" in (
        result.outcomes[0].detail
    )


# --- rollout_complete -----------------------------------------------------------------------------


def _rolled(
    replicas: int = 3, *, updated: int = 3, available: int = 3, total: int | None = None
) -> dict[str, Any]:
    body = deployment("web", "shop", replicas=replicas)
    body["metadata"]["generation"] = 2
    body["status"] = {
        "observedGeneration": 2,
        "replicas": replicas if total is None else total,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "readyReplicas": available,
    }
    return body


async def test_rollout_complete_deployment(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    emulator.put_object(_rolled())
    result = await Verifier(kube, poll_seconds=POLL).verify(
        [expect("rollout_complete", "Deployment", "web", min_generation=2)]
    )
    assert result.verified
    assert result.detail == (
        "rollout_complete Deployment/shop/web: Deployment shop/web successfully rolled out "
        "(3/3 updated replicas available)"
    )


@pytest.mark.parametrize(
    ("body", "min_generation", "detail"),
    [
        (_rolled(updated=1, available=1), 2, "1 out of 3 new replicas have been updated"),
        (_rolled(total=4), 2, "1 old replicas are pending termination"),
        (_rolled(available=2), 2, "2 of 3 updated replicas are available"),
        (
            _rolled(),
            3,
            "waiting for Deployment shop/web spec update to be observed (observedGeneration 2 < 3)",
        ),
    ],
)
async def test_rollout_that_never_completes_times_out(
    kube: kube_mod.Kube, emulator: ClusterEmulator, body: dict[str, Any], min_generation: int, detail: str
) -> None:
    emulator.put_object(body)
    expectation = expect("rollout_complete", "Deployment", "web", timeout=0.15, min_generation=min_generation)
    result = await Verifier(kube, poll_seconds=POLL).verify([expectation])
    assert not result.verified
    assert detail in result.outcomes[0].detail
    assert "(gave up after 0." in result.outcomes[0].detail
    assert len(emulator.calls_matching("GET", "/deployments/web")) >= 2


async def test_rollout_progress_deadline_exceeded(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    body = _rolled()
    body["status"]["conditions"] = [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    ]
    emulator.put_object(body)
    held, detail = await Verifier(kube).observe(
        expect("rollout_complete", "Deployment", "web", min_generation=1)
    )
    assert (held, detail) == (False, "Deployment shop/web exceeded its progress deadline")


async def test_rollout_that_completes_after_a_while_is_verified(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """The "controller" (a background task) finishes the rollout after a few polls."""
    emulator.put_object(_rolled(updated=1, available=1))

    async def controller() -> None:
        await wait_for_polls(emulator, "/deployments/web", 3)
        emulator.put_object(_rolled())

    task = asyncio.create_task(controller())
    result = await Verifier(kube, poll_seconds=POLL).verify(
        [expect("rollout_complete", "Deployment", "web", settle=0.05, timeout=3, min_generation=2)]
    )
    await task
    assert result.verified, result.detail
    assert re.fullmatch(
        r"Deployment shop/web successfully rolled out \(3/3 updated replicas available\), held for 0\.\d s",
        result.outcomes[0].detail,
    )
    assert "interrupted" not in result.outcomes[0].detail  # it never held before: nothing was interrupted


def _statefulset(*, ready: int, updated: int, current: str, update: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "generation": 1},
        "spec": {
            "replicas": 2,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
        "status": {
            "observedGeneration": 1,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "currentRevision": current,
            "updateRevision": update,
        },
    }


async def test_rollout_complete_statefulset(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    verifier = Verifier(kube, poll_seconds=POLL)
    expectation = expect("rollout_complete", "StatefulSet", "db", min_generation=1)
    emulator.put_object(_statefulset(ready=1, updated=1, current="db-1", update="db-2"))
    assert await verifier.observe(expectation) == (
        False,
        "waiting for 1 pods of StatefulSet shop/db to be ready",
    )
    emulator.put_object(_statefulset(ready=2, updated=2, current="db-1", update="db-2"))
    assert await verifier.observe(expectation) == (
        False,
        "waiting for StatefulSet shop/db rolling update to complete: 2 pods at revision db-2",
    )
    emulator.put_object(_statefulset(ready=2, updated=2, current="db-2", update="db-2"))
    result = await verifier.verify([expectation])
    assert result.verified
    assert (
        result.outcomes[0].detail == "StatefulSet shop/db rolling update complete: 2/2 pods updated and ready"
    )


async def test_rollout_complete_daemonset(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "shop", "generation": 4},
        "spec": {},
        "status": {
            "observedGeneration": 4,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 2,
            "numberAvailable": 3,
        },
    }
    emulator.put_object(body)
    verifier = Verifier(kube, poll_seconds=POLL)
    expectation = expect("rollout_complete", "DaemonSet", "agent", min_generation=4)
    assert await verifier.observe(expectation) == (
        False,
        "waiting for DaemonSet shop/agent rollout to finish: 2 out of 3 new pods have been updated",
    )
    body["status"]["updatedNumberScheduled"] = 3
    emulator.put_object(body)
    result = await verifier.verify([expectation])
    assert result.verified
    assert result.outcomes[0].detail == "DaemonSet shop/agent successfully rolled out (3/3 pods available)"


# --- replicas_ready, autoscaler_ceiling, nodes ------------------------------------------------------


async def test_replicas_ready(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    verifier = Verifier(kube, poll_seconds=POLL)
    body = deployment("web", "shop", replicas=4)
    body["status"] = {"replicas": 4, "readyReplicas": 2}
    emulator.put_object(body)
    expectation = expect("replicas_ready", "Deployment", "web", replicas=4)
    assert await verifier.observe(expectation) == (False, "2/4 replicas of Deployment shop/web ready")
    assert await verifier.observe(expect("replicas_ready", "Deployment", "web", replicas=5)) == (
        False,
        "Deployment shop/web wants 4 replicas, not 5",
    )
    body["status"]["readyReplicas"] = 4
    emulator.put_object(body)
    result = await verifier.verify([expectation])
    assert result.verified and result.outcomes[0].detail == "4/4 replicas of Deployment shop/web ready"


async def test_replicas_ready_zero(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    verifier = Verifier(kube, poll_seconds=POLL)
    body = deployment("web", "shop", replicas=0)
    body["status"] = {"replicas": 1}
    emulator.put_object(body)
    expectation = expect("replicas_ready", "Deployment", "web", replicas=0)
    assert await verifier.observe(expectation) == (False, "Deployment shop/web scaled to 0 but 1 pods remain")
    body["status"] = {}
    emulator.put_object(body)
    assert await verifier.observe(expectation) == (True, "Deployment shop/web scaled to 0, no pods remain")


async def test_autoscaler_ceiling(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    emulator.put_object(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"maxReplicas": 10, "scaleTargetRef": {"kind": "Deployment", "name": "web"}},
        }
    )
    verifier = Verifier(kube, poll_seconds=POLL)

    def ceiling(value: int) -> Expectation:
        hpa = "HorizontalPodAutoscaler"
        return expect("autoscaler_ceiling", hpa, "web", api_version="autoscaling/v2", max_replicas=value)

    result = await verifier.verify([ceiling(10)])
    assert result.verified
    assert result.outcomes[0].detail == "HorizontalPodAutoscaler shop/web maxReplicas is 10 (expected 10)"
    assert await verifier.observe(ceiling(12)) == (
        False,
        "HorizontalPodAutoscaler shop/web maxReplicas is 10 (expected 12)",
    )


async def test_node_cordon_checks(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    emulator.put_object(node("n1", unschedulable=True))
    emulator.put_object(node("n2"))
    verifier = Verifier(kube, poll_seconds=POLL)

    def on(check: ExpectationCheck, name: str) -> Expectation:
        return expect(check, "Node", name, None, api_version="v1", timeout=0.1)

    result = await verifier.verify([on("node_unschedulable", "n1"), on("node_schedulable", "n2")])
    assert result.verified
    assert [o.detail for o in result.outcomes] == ["node n1 is unschedulable", "node n2 is schedulable"]
    failed = await verifier.verify([on("node_schedulable", "n1"), on("node_schedulable", "n2")])
    assert not failed.verified
    assert failed.detail.startswith("node_schedulable Node/-/n1: node n1 is unschedulable (gave up after 0.")


def _daemonset(emulator: ClusterEmulator) -> dict[str, Any]:
    return emulator.put_object(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"},
        }
    )


async def test_node_drained_ignores_daemonset_mirror_finished_and_terminating_pods(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    emulator.put_object(node("n1", unschedulable=True))
    emulator.put_object(pod("agent-x", "kube-system", node="n1", owner=_daemonset(emulator)))
    emulator.put_object(
        pod("etcd-n1", "kube-system", node="n1", annotations={"kubernetes.io/config.mirror": "h"})
    )
    emulator.put_object(pod("job-1", "shop", node="n1", phase="Succeeded", ready=False))
    leaving = pod("web-1", "shop", node="n1")
    leaving["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    emulator.put_object(leaving)
    emulator.put_object(pod("web-2", "shop", node="n2"))  # another node

    result = await Verifier(kube, poll_seconds=POLL).verify(
        [expect("node_drained", "Node", "n1", None, api_version="v1")]
    )

    assert result.verified, result.detail
    assert result.outcomes[0].detail == (
        "node n1 is cordoned and drained (4 DaemonSet, mirror, finished or terminating pod(s) left)"
    )
    assert writes(emulator) == []


async def test_node_with_a_remaining_pod_is_not_drained(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    emulator.put_object(node("n1", unschedulable=True))
    emulator.put_object(pod("agent-x", "kube-system", node="n1", owner=_daemonset(emulator)))
    rs = _replicaset(emulator)
    emulator.put_object(pod("web-1", "shop", node="n1", owner=rs))  # a ReplicaSet pod: drain evicts it

    result = await Verifier(kube, poll_seconds=POLL).verify(
        [expect("node_drained", "Node", "n1", None, api_version="v1", timeout=0.1)]
    )
    assert not result.verified
    assert result.outcomes[0].detail.startswith("node n1 still runs 1 pod(s): shop/web-1 (gave up after 0.")


async def test_uncordoned_node_is_not_drained(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    emulator.put_object(node("n1"))
    held = await Verifier(kube).observe(expect("node_drained", "Node", "n1", None, api_version="v1"))
    assert held == (False, "node n1 is schedulable (not cordoned)")


# --- settling, errors, the result --------------------------------------------------------------------


class FakeTime:
    """A monotonic clock that only moves when the verifier sleeps; ``at`` schedules cluster changes."""

    def __init__(self) -> None:
        self.now = 0.0
        self.plan: list[tuple[float, Callable[[], object]]] = []

    def clock(self) -> float:
        return self.now

    def at(self, moment: float, change: Callable[[], object]) -> None:
        self.plan.append((moment, change))

    async def sleep(self, seconds: float) -> None:
        self.now = round(self.now + seconds, 6)
        for moment, change in [p for p in self.plan if p[0] <= self.now]:
            self.plan.remove((moment, change))
            change()
        await asyncio.sleep(0)


async def test_interruption_during_settle_restarts_the_timer(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """Holds from t=0, flips back at t=0.15, holds again from t=0.2: settles at 0.5, not at 0.3."""
    emulator.put_object(node("n1", unschedulable=True))
    fake = FakeTime()
    fake.at(0.15, lambda: emulator.put_object(node("n1")))
    fake.at(0.2, lambda: emulator.put_object(node("n1", unschedulable=True)))
    verifier = Verifier(kube, poll_seconds=0.05, clock=fake.clock, sleep=fake.sleep)
    expectation = expect("node_unschedulable", "Node", "n1", None, api_version="v1", settle=0.3, timeout=3)

    result = await verifier.verify([expectation])

    assert result.verified
    assert fake.now == pytest.approx(0.5)
    assert result.outcomes[0].detail == (
        "node n1 is unschedulable, held for 0.3 s (interrupted 1 time, last: node n1 is schedulable)"
    )
    assert len(emulator.calls_matching("GET", "/nodes/n1")) == 11  # t = 0, 0.05, ..., 0.5


async def test_interruption_during_settle_real_time(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """settle 0.3, timeout 3, poll 0.05; the status flips back once mid-settle: verified, and it says so."""
    emulator.put_object(node("n1", unschedulable=True))

    async def flip_once() -> None:
        await wait_for_polls(emulator, "/nodes/n1", 2)
        emulator.put_object(node("n1"))
        await wait_for_polls(emulator, "/nodes/n1", 3)
        emulator.put_object(node("n1", unschedulable=True))

    task = asyncio.create_task(flip_once())
    result = await Verifier(kube, poll_seconds=0.05).verify(
        [expect("node_unschedulable", "Node", "n1", None, api_version="v1", settle=0.3, timeout=3)]
    )
    await task
    assert result.verified, result.detail
    assert "(interrupted 1 time, last: node n1 is schedulable)" in result.outcomes[0].detail
    assert len(emulator.calls_matching("GET", "/nodes/n1")) >= 3 + 6  # the settle period restarted


async def test_timeout_while_still_settling_says_how_long_it_held(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    emulator.put_object(node("n1", unschedulable=True))
    fake = FakeTime()
    verifier = Verifier(kube, poll_seconds=0.1, clock=fake.clock, sleep=fake.sleep)
    result = await verifier.verify(
        [expect("node_unschedulable", "Node", "n1", None, api_version="v1", settle=5, timeout=0.3)]
    )
    assert not result.verified
    assert (
        result.outcomes[0].detail == "node n1 is unschedulable, but held only 0.3 s of the 5 s settle period"
    )


async def test_transient_server_errors_count_as_not_holding(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """503s for a while: each is a poll that does not hold (with the error), then it verifies."""
    emulator.put_object(node("n1", unschedulable=True))
    down = [True]
    (
        emulator["get /api/v1/nodes/n1"][lambda _request: down[0]]
        << 503
        << {"kind": "Status", "reason": "ServiceUnavailable", "message": "etcd is down"}
    )
    verifier = Verifier(kube, poll_seconds=POLL)
    expectation = expect("node_unschedulable", "Node", "n1", None, api_version="v1", timeout=3)
    assert await verifier.observe(expectation) == (
        False,
        "cannot read Node n1: 503 ServiceUnavailable: etcd is down",
    )

    async def recover() -> None:
        await wait_for_polls(emulator, "/nodes/n1", 4)
        down[0] = False

    task = asyncio.create_task(recover())
    with kube.recording() as calls:
        result = await verifier.verify([expectation])
    await task
    assert result.verified, result.detail
    statuses = [c.status for c in calls]
    assert statuses[:3] == [503, 503, 503] and statuses[-1] == 200  # errors did not end verification
    assert result.outcomes[0].detail == "node n1 is unschedulable"


@contextlib.asynccontextmanager
async def flaky_proxy(target_url: str) -> AsyncIterator[tuple[str, list[bool]]]:
    """A TCP proxy to ``target_url``; while ``down[0]`` it drops every connection (no HTTP answer)."""
    target = urlsplit(target_url)
    down = [False]
    open_writers: set[asyncio.StreamWriter] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if down[0]:
                    break
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if down[0]:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        open_writers.update((writer, up_writer))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", down
    finally:
        server.close()
        for writer in open_writers:
            writer.close()


async def test_unreachable_api_transiently_counts_as_not_holding(emulator: ClusterEmulator) -> None:
    """No HTTP answer for a while (connections dropped): not holding with the error, then verified."""
    emulator.put_object(node("n1", unschedulable=True))
    async with flaky_proxy(emulator.url) as (url, down):
        kube = kube_mod.Kube.for_server(url)
        try:
            verifier = Verifier(kube, poll_seconds=POLL)
            expectation = expect("node_unschedulable", "Node", "n1", None, api_version="v1", timeout=3)
            down[0] = True
            held, detail = await verifier.observe(expectation)
            assert not held
            assert detail.startswith("cannot read Node n1: Unreachable: GET /api/v1/nodes/n1")

            with kube.recording() as calls:
                task = asyncio.create_task(verifier.verify([expectation]))
                await asyncio.sleep(0.1)  # a few polls fail while the API is unreachable
                assert not task.done()
                down[0] = False
                result = await task
        finally:
            await kube.close()
    assert result.verified, result.detail
    assert result.outcomes[0].detail == "node n1 is unschedulable"
    assert calls[0].status == 0 and calls[-1].status == 200


async def test_not_found_does_not_hold(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    verifier = Verifier(kube, poll_seconds=POLL)
    assert await verifier.observe(expect("replicas_ready", "Deployment", "nope", replicas=1)) == (
        False,
        "Deployment shop/nope not found",
    )
    assert await verifier.observe(expect("node_drained", "Node", "gone", None, api_version="v1")) == (
        False,
        "Node gone not found",
    )


async def test_several_expectations_and_the_result_record(
    kube: kube_mod.Kube, emulator: ClusterEmulator
) -> None:
    """Checked concurrently; verified only when all held; as_dict is the step record's shape."""
    emulator.put_object(node("n1", unschedulable=True))
    emulator.put_object(_rolled(updated=1, available=1))
    result = await Verifier(kube, poll_seconds=POLL).verify(
        [
            expect("node_unschedulable", "Node", "n1", None, api_version="v1"),
            expect("rollout_complete", "Deployment", "web", timeout=0.1, min_generation=1),
        ]
    )
    assert not result.verified
    assert [o.held for o in result.outcomes] == [True, False]
    record = result.as_dict()
    assert record["state"] == "not_verified"
    assert record["detail"] == result.detail
    assert result.detail.startswith(
        "rollout_complete Deployment/shop/web: waiting for Deployment shop/web rollout to finish: "
        "1 out of 3 new replicas have been updated (gave up after 0."
    )
    assert record["checks"][0] == {
        "check": "node_unschedulable",
        "object": "Node/-/n1",
        "held": True,
        "detail": "node n1 is unschedulable",
    }
    assert record["checks"][1]["object"] == "Deployment/shop/web" and record["checks"][1]["held"] is False
    assert writes(emulator) == []


async def test_nothing_to_verify(kube: kube_mod.Kube) -> None:
    result = await Verifier(kube).verify([])
    assert result == VerificationResult(verified=True, outcomes=[])
    assert result.as_dict() == {"state": "verified", "detail": "nothing to verify", "checks": []}


def test_outcome_is_frozen() -> None:
    outcome = CheckOutcome(expect("node_schedulable", "Node", "n1", None, api_version="v1"), True, "ok")
    with pytest.raises(AttributeError):
        outcome.held = False  # type: ignore[misc]
