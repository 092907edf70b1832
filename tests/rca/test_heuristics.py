"""The heuristic RCA names the right root cause, with bounded confidence, cited evidence and a playbook.

One realistic scenario per rule, built from ``kubectl get -o json`` shapes (``tests/rca/builders``)
and run through the evidence builder: OOM kill with a Java heap log, a Python traceback to
PostgreSQL, a Go panic, missing env, read-only file system, exit 127, image pull, config error,
bad rollout (pod and Deployment), node NotReady and pressure, probe failures, scheduling, storage,
HPA at its ceiling, quota, logs without a crash; healthy objects give ``unknown`` with low
confidence; the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from aiops.enrichment.rca import evidence, heuristics
from aiops.enrichment.rca.model import Evidence, RcaResult, RootCause
from tests.rca import builders as b

PLAYBOOKS = {
    "crash_loop_remediation",
    "oom_kill_remediation",
    "deployment_rollback",
    "node_not_ready_remediation",
    "scale_up_on_load",
}


def rca(
    obj: Mapping[str, Any],
    *,
    events: Sequence[Mapping[str, Any]] = (),
    logs: Sequence[str] = (),
    previous_logs: Sequence[str] = (),
    related: Sequence[Mapping[str, Any]] = (),
) -> RcaResult:
    ev = evidence.from_objects(obj, events=events, logs=logs, previous_logs=previous_logs, related=related)
    result = heuristics.analyze(ev)
    assert result.source == "heuristic"
    assert result.recommended_playbook is None or result.recommended_playbook in PLAYBOOKS
    return result


def crashing(
    exit_code: int, *, restarts: int = 7, reason: str = "Error", bare: bool = True
) -> dict[str, Any]:
    """A pod whose container is in CrashLoopBackOff after exiting with ``exit_code``."""
    return b.pod(
        name="orders-0" if bare else f"{b.NEW_RS}-m2n4b",
        rs=None if bare else b.NEW_RS,
        state=b.CRASH_LOOP_STATE,
        last_state=b.terminated(exit_code, reason),
        restarts=restarts,
        ready=False,
    )


def test_oom_killed_names_the_limit_restarts_and_the_log_tail_and_recommends_the_oom_playbook() -> None:
    pod = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(137, "OOMKilled"), restarts=3, ready=False)
    result = rca(pod, previous_logs=b.JAVA_OOM)
    assert result.category is RootCause.OUT_OF_MEMORY
    assert result.confidence >= 0.9
    assert result.recommended_playbook == "oom_kill_remediation"
    assert result.summary.startswith(
        "OOMKilled: container cart hit its 256Mi memory limit (exit 137), 3 restarts"
    )
    assert "java.lang.OutOfMemoryError" in result.summary
    assert "heap usage 243Mi of 256Mi" in result.summary
    assert {"status:OOMKilled", "restarts:cart 3", "limit:cart memory 256Mi", "log:oom_java line 3"} <= set(
        result.evidence
    )


def test_exit_137_with_a_memory_limit_but_no_oom_reason_is_out_of_memory_with_less_confidence() -> None:
    pod = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(137, "Error"), restarts=2, ready=False)
    result = rca(pod)
    assert result.category is RootCause.OUT_OF_MEMORY
    assert 0.7 <= result.confidence < 0.9
    assert "status:exit 137" in result.evidence


def test_python_traceback_to_postgresql_is_a_dependency_and_quotes_the_failing_line() -> None:
    result = rca(crashing(1), previous_logs=b.PYTHON_TO_POSTGRES)
    assert result.category is RootCause.DEPENDENCY_UNAVAILABLE
    assert 0.7 <= result.confidence <= 0.8
    assert result.recommended_playbook is None
    assert "postgres.shop.svc" in result.summary
    assert "exit code 1" in result.summary and "7 restarts" in result.summary
    assert {"status:CrashLoopBackOff", "exit:1", "log:postgres line 5"} <= set(result.evidence)


def test_rejected_database_password_is_a_configuration_error() -> None:
    logs = [
        *b.PYTHON_TO_POSTGRES[:-2],
        'psycopg2.OperationalError: FATAL:  password authentication failed for user "orders"',
    ]
    result = rca(crashing(1), previous_logs=logs)
    assert result.category is RootCause.CONFIGURATION_ERROR
    assert any(ref.startswith("log:auth") for ref in result.evidence)


def test_go_panic_is_an_application_crash_and_recommends_the_crash_loop_playbook() -> None:
    result = rca(crashing(2, restarts=4), previous_logs=b.GO_PANIC)
    assert result.category is RootCause.APPLICATION_CRASH
    assert 0.6 <= result.confidence <= 0.8
    assert result.recommended_playbook == "crash_loop_remediation"
    assert "nil pointer dereference" in result.summary
    assert "log:go_panic line 2" in result.evidence


@pytest.mark.parametrize(
    ("logs", "category", "ref"),
    [
        (b.MISSING_ENV, RootCause.CONFIGURATION_ERROR, "log:missing_config line 2"),
        (b.READ_ONLY, RootCause.PERMISSIONS, "log:read_only_fs line 2"),
    ],
)
def test_crash_log_findings_map_to_their_root_cause(logs: list[str], category: RootCause, ref: str) -> None:
    result = rca(crashing(1), previous_logs=logs)
    assert result.category is category
    assert result.confidence >= 0.7
    assert ref in result.evidence
    assert logs[-1].split("Z ", 1)[1] in result.summary


@pytest.mark.parametrize(
    ("code", "category", "words"),
    [
        (127, RootCause.CONFIGURATION_ERROR, "command not found"),
        (126, RootCause.PERMISSIONS, "not executable"),
        (139, RootCause.APPLICATION_CRASH, "SIGSEGV"),
        (1, RootCause.APPLICATION_CRASH, "generic error"),
    ],
)
def test_a_crash_without_a_telling_log_is_read_from_its_exit_code(
    code: int, category: RootCause, words: str
) -> None:
    result = rca(
        crashing(code, reason="ContainerCannotRun" if code in (126, 127) else "Error"), logs=b.HEALTHY_LOG
    )
    assert result.category is category
    assert 0.3 <= result.confidence <= 0.6
    assert words in result.summary
    assert f"exit:{code}" in result.evidence


def test_image_pull_backoff_is_an_image_problem_quoting_the_kubelet() -> None:
    pod = b.pod(
        image="registry.example.com/shop/cart:3.8.2-rc",
        state={"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
        ready=False,
    )
    failed = b.event(
        "Failed",
        'Failed to pull image "registry.example.com/shop/cart:3.8.2-rc": not found: manifest unknown',
        count=4,
    )
    result = rca(pod, events=[failed])
    assert result.category is RootCause.IMAGE_PROBLEM
    assert result.confidence >= 0.85
    assert "cart:3.8.2-rc" in result.summary and "manifest unknown" in result.summary
    assert {"status:ImagePullBackOff", "event:Failed x4"} <= set(result.evidence)


def test_create_container_config_error_names_the_missing_secret() -> None:
    waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "cart-db" not found'}}
    result = rca(b.pod(state=waiting, ready=False))
    assert result.category is RootCause.CONFIGURATION_ERROR
    assert result.confidence >= 0.85
    assert 'secret "cart-db" not found' in result.summary
    assert result.evidence == ["status:CreateContainerConfigError"]


def test_a_crash_that_began_after_the_newest_revision_is_a_bad_rollout_naming_the_revision_to_restore() -> (
    None
):
    backoff = b.event(
        "BackOff",
        "Back-off restarting failed container cart in pod x",
        count=14,
        first="2025-03-14T10:03:10Z",
    )
    pod = crashing(1, restarts=6, bare=False)
    result = rca(pod, events=[backoff], related=b.rollout(), previous_logs=b.MISSING_ENV)
    assert result.category is RootCause.BAD_ROLLOUT
    assert 0.75 <= result.confidence <= 0.85
    assert result.recommended_playbook == "deployment_rollback"
    assert "revision 15" in result.summary and "Roll back to revision 14" in result.summary
    assert "cart:3.8.0" in result.summary and "since 2025-03-14T10:03:10Z" in result.summary
    assert f"rollout:revision 15 {b.NEW_RS} created {b.ROLLOUT_AT}" in result.evidence


def test_a_crash_that_began_before_the_rollout_is_not_blamed_on_it() -> None:
    backoff = b.event("BackOff", "Back-off restarting failed container cart", first="2025-03-14T09:00:00Z")
    pod = b.pod(
        name=f"{b.OLD_RS}-q9w4z",
        rs=b.OLD_RS,
        state=b.CRASH_LOOP_STATE,
        last_state=b.terminated(1, started="2025-03-14T09:00:00Z"),
        restarts=9,
        ready=False,
    )
    ev = evidence.from_objects(pod, events=[backoff], related=b.rollout(), previous_logs=b.PYTHON_TO_POSTGRES)
    assert [h["revision"] for h in ev.rollout_history] == [14, 15]
    result = heuristics.analyze(ev)
    assert result.category is RootCause.DEPENDENCY_UNAVAILABLE


def test_a_deployment_past_its_progress_deadline_after_a_new_revision_is_a_bad_rollout() -> None:
    result = rca(b.deployment(stuck=True), related=b.rollout())
    assert result.category is RootCause.BAD_ROLLOUT
    assert 0.7 <= result.confidence <= 0.85
    assert result.recommended_playbook == "deployment_rollback"
    assert "progress deadline" in result.summary and "revision 14" in result.summary
    assert "condition:Progressing ProgressDeadlineExceeded" in result.evidence


def test_node_not_ready_is_a_node_failure_with_the_node_playbook() -> None:
    result = rca(b.node(ready="Unknown"))
    assert result.category is RootCause.NODE_FAILURE
    assert result.confidence >= 0.8
    assert result.recommended_playbook == "node_not_ready_remediation"
    assert "worker-3" in result.summary and "PLEG is not healthy" in result.summary
    assert result.evidence == ["node:worker-3 Ready=Unknown"]


def test_a_pod_on_a_not_ready_node_is_blamed_on_the_node() -> None:
    pod = crashing(1, bare=True)
    result = rca(pod, related=[b.node(ready="False")], previous_logs=b.PYTHON_TO_POSTGRES)
    assert result.category is RootCause.NODE_FAILURE
    assert "Node worker-3" in result.summary


def test_node_memory_pressure_is_resource_exhaustion() -> None:
    result = rca(b.node(pressure=("MemoryPressure", "DiskPressure")))
    assert result.category is RootCause.RESOURCE_EXHAUSTION
    assert 0.7 <= result.confidence <= 0.8
    assert result.recommended_playbook == "node_not_ready_remediation"
    assert "MemoryPressure, DiskPressure" in result.summary
    assert {"node:worker-3 MemoryPressure=True", "node:worker-3 DiskPressure=True"} <= set(result.evidence)


def test_probe_failures_while_the_app_logs_no_error_are_a_misconfigured_probe() -> None:
    message = (
        'Liveness probe failed: Get "http://10.244.3.18:7070/healthz": '
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    )
    unhealthy = b.event("Unhealthy", message, count=9)
    pod = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(143), restarts=3, ready=False)
    result = rca(pod, events=[unhealthy], previous_logs=b.HEALTHY_LOG)
    assert result.category is RootCause.PROBE_MISCONFIGURED
    assert 0.6 <= result.confidence <= 0.75
    assert "Liveness probe failed 9 times" in result.summary and "SIGTERM" in result.summary
    assert {"event:Unhealthy x9", "exit:143"} <= set(result.evidence)


def test_readiness_failures_alone_are_a_probe_problem_with_less_confidence() -> None:
    unhealthy = b.event(
        "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=14
    )
    result = rca(b.pod(ready=False), events=[unhealthy], logs=b.HEALTHY_LOG)
    assert result.category is RootCause.PROBE_MISCONFIGURED
    assert result.confidence == pytest.approx(0.6)


def test_failed_scheduling_is_a_scheduling_problem_quoting_the_scheduler() -> None:
    message = "0/5 nodes are available: 5 Insufficient memory. preemption: 0/5 nodes are available."
    scheduled = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    result = rca(
        b.pod(scheduled=scheduled, ready=False), events=[b.event("FailedScheduling", message, count=6)]
    )
    assert result.category is RootCause.SCHEDULING
    assert result.confidence >= 0.8
    assert "Insufficient memory" in result.summary
    assert {"event:FailedScheduling x6", "condition:PodScheduled Unschedulable"} <= set(result.evidence)


def test_failed_mount_is_a_storage_problem() -> None:
    mount = b.event(
        "FailedMount",
        'MountVolume.SetUp failed for volume "cart-data" : rpc error: code = Internal desc = attach failed',
        count=5,
    )
    pod = b.pod(state={"waiting": {"reason": "ContainerCreating"}}, ready=False)
    result = rca(pod, events=[mount])
    assert result.category is RootCause.STORAGE
    assert result.confidence >= 0.75
    assert "cart-data" in result.summary
    assert result.evidence == ["event:FailedMount x5"]


def test_a_pending_claim_is_a_storage_problem() -> None:
    result = rca(b.pvc())
    assert result.category is RootCause.STORAGE
    assert "fast-ssd" in result.summary


def test_an_autoscaler_at_its_ceiling_is_resource_exhaustion_and_recommends_scaling_up() -> None:
    result = rca(b.hpa())
    assert result.category is RootCause.RESOURCE_EXHAUSTION
    assert result.recommended_playbook == "scale_up_on_load"
    assert "10 of maxReplicas 10" in result.summary and "desired 14" in result.summary


def test_replica_creation_blocked_by_quota_is_resource_exhaustion() -> None:
    failed = b.event(
        "FailedCreate",
        f'Error creating: pods "{b.NEW_RS}-x" is forbidden: exceeded quota: shop-quota, '
        "requested: limits.memory=256Mi, used: limits.memory=4Gi, limited: limits.memory=4Gi",
        kind="ReplicaSet",
        name=b.NEW_RS,
        count=12,
    )
    result = rca(
        b.replicaset(b.NEW_RS, revision=15, image="x", created=b.ROLLOUT_AT, available=0), events=[failed]
    )
    assert result.category is RootCause.RESOURCE_EXHAUSTION
    assert "exceeded quota" in result.summary


def test_log_findings_without_a_crash_count_for_less() -> None:
    result = rca(b.pod(), logs=b.PYTHON_TO_POSTGRES)
    assert result.category is RootCause.DEPENDENCY_UNAVAILABLE
    assert result.confidence <= 0.55
    assert "no crash seen" in result.summary


@pytest.mark.parametrize(
    "obj",
    [b.pod(), b.node(), b.deployment(stuck=False, available=3), b.replicaset("cart-1", revision=1, image="x",
     created=b.ROLLOUT_AT, available=3)],
    ids=["pod", "node", "deployment", "replicaset"],
)  # fmt: skip
def test_healthy_objects_give_unknown_with_low_confidence(obj: dict[str, Any]) -> None:
    result = rca(obj, logs=b.HEALTHY_LOG)
    assert result.category is RootCause.UNKNOWN
    assert result.confidence <= 0.2
    assert result.recommended_playbook is None
    assert result.summary.startswith("No problem found")


def test_an_incident_nothing_explains_is_unknown_citing_the_incident() -> None:
    pod = b.pod(state={"waiting": {"reason": "ContainerCreating"}}, ready=False)
    result = rca(pod, events=[b.event("Evicted", "The node had condition: [DiskPressure].")])
    assert result.category is RootCause.UNKNOWN
    assert result.confidence == pytest.approx(0.2)
    assert "event:Evicted x1" in result.evidence


def test_the_same_evidence_gives_the_same_result() -> None:
    ev = evidence.from_objects(
        crashing(1, bare=False),
        related=b.rollout(),
        previous_logs=b.MISSING_ENV,
        events=[b.event("BackOff", "x")],
    )
    copy = Evidence.model_validate_json(ev.model_dump_json())
    first = heuristics.analyze(ev)
    assert all(heuristics.analyze(copy) == first for _ in range(3))
    assert first.model_dump_json() == heuristics.analyze(ev).model_dump_json()


def test_a_result_never_exceeds_the_schema_limits_even_with_many_events() -> None:
    events = [b.event("Unhealthy", f"Readiness probe failed: attempt {i}", count=i) for i in range(1, 40)]
    result = rca(b.pod(ready=False), events=events)
    assert len(result.evidence) <= 20
    RcaResult.model_validate(result.model_dump())


def test_a_deployment_with_none_available_and_crashing_new_pods_is_a_bad_rollout() -> None:
    crashing_pod = crashing(1, restarts=5, bare=False)
    result = rca(b.deployment(stuck=False, available=0), related=[*b.rollout(), crashing_pod])
    assert result.category is RootCause.BAD_ROLLOUT
    assert result.confidence == pytest.approx(0.8)
    assert "0 available replicas" in result.summary and "container cart crashes" in result.summary
    assert "status:0 available" in result.evidence


def test_a_deployment_scaled_to_zero_is_not_a_bad_rollout() -> None:
    deployment = b.deployment(stuck=False, available=0)
    deployment["spec"]["replicas"] = 0
    deployment["status"] |= {"replicas": 0, "updatedReplicas": 0}
    result = rca(deployment, related=b.rollout())
    assert result.category is RootCause.UNKNOWN


def test_an_oom_kill_after_a_rollout_says_since_which_revision() -> None:
    pod = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(137, "OOMKilled"), restarts=14, ready=False)
    result = rca(pod, related=b.rollout(), previous_logs=b.JAVA_OOM)
    assert result.category is RootCause.OUT_OF_MEMORY
    assert f"14 restarts since revision 15 rolled out at {b.ROLLOUT_AT}" in result.summary
