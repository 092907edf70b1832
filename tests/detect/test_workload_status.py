"""Workload detectors: Deployment, ReplicaSet, HorizontalPodAutoscaler, Job and PVC status rules.

DeploymentCondition Progressing/Available/ReplicaFailure, ReplicaSetCondition ReplicaFailure,
HPA v2 ScalingLimited, JobCondition Failed and PVC phase Pending, each with its healthy and
borderline cases and the severity chosen from how much of the workload still serves.
"""

from __future__ import annotations

import pytest

from aiops.events.model import EventType, Severity
from aiops.sources import kubewatch
from tests.detect.helpers import CHECKOUT, NIGHTLY_CRON, NOW, condition, load, ref

CHECKOUT_WITH_UID = ref("apps/v1", "Deployment", "shop", "checkout", "9a1c2f3e-4b5d-4e6f-8a7b-9c0d1e2f3a4b")
PAYMENTS_WITH_UID = ref("apps/v1", "Deployment", "shop", "payments", "1d3f5a7c-9e1b-4d3f-8a7c-9e1b3d5f7a9c")


class TestDeployment:
    def test_a_rollout_past_its_deadline_is_stuck_but_warning_while_old_replicas_serve(self) -> None:
        [event] = kubewatch.detect(load("deployment/rollout_stuck"), now=NOW)

        assert event.type is EventType.ROLLOUT_STUCK
        assert event.severity is Severity.WARNING
        assert event.resource == CHECKOUT_WITH_UID
        assert event.owner is None
        assert event.dedup_key == "rollout_stuck:Deployment/shop/checkout"
        assert event.reason == "ProgressDeadlineExceeded"
        assert event.message == 'ReplicaSet "checkout-7f9b6c5d8" has timed out progressing.'
        assert event.details == {
            "condition": "Progressing",
            "desired_replicas": 3,
            "available_replicas": 2,
            "updated_replicas": 1,
            "unavailable_replicas": 2,
        }

    def test_a_stuck_rollout_with_nothing_available_is_critical_and_a_replication_failure(self) -> None:
        body = load("deployment/rollout_stuck")
        del body["status"]["availableReplicas"]
        condition(body, "Available").update(status="False", reason="MinimumReplicasUnavailable")

        events = kubewatch.detect(body, now=NOW)

        assert [(e.type, e.severity) for e in events] == [
            (EventType.ROLLOUT_STUCK, Severity.CRITICAL),
            (EventType.REPLICATION_FAILURE, Severity.CRITICAL),
        ]

    def test_a_paused_deployment_is_not_stuck(self) -> None:
        body = load("deployment/rollout_stuck")
        body["spec"]["paused"] = True

        assert kubewatch.detect(body, now=NOW) == []

    def test_zero_available_replicas_is_a_critical_replication_failure_with_its_cause(self) -> None:
        [event] = kubewatch.detect(load("deployment/replication_failure"), now=NOW)

        assert event.type is EventType.REPLICATION_FAILURE
        assert event.severity is Severity.CRITICAL
        assert event.resource == PAYMENTS_WITH_UID
        assert event.dedup_key == "replication_failure:Deployment/shop/payments"
        assert event.reason == "FailedCreate"
        assert "exceeded quota: compute-resources" in event.message
        assert event.details == {
            "condition": "ReplicaFailure",
            "desired_replicas": 2,
            "available_replicas": 0,
            "updated_replicas": 0,
            "unavailable_replicas": 2,
        }

    def test_without_a_replica_failure_condition_the_available_condition_explains(self) -> None:
        body = load("deployment/replication_failure")
        body["status"]["conditions"] = [
            c for c in body["status"]["conditions"] if c["type"] != "ReplicaFailure"
        ]
        del body["spec"]["replicas"]  # the API default is 1

        [event] = kubewatch.detect(body, now=NOW)

        assert event.reason == "MinimumReplicasUnavailable"
        assert event.message == "Deployment does not have minimum availability."
        assert event.details["condition"] == "Available"
        assert event.details["desired_replicas"] == 1

    def test_below_minimum_availability_with_some_replicas_up_is_not_a_replication_failure(self) -> None:
        body = load("deployment/healthy")
        body["status"].update(availableReplicas=1, unavailableReplicas=2)
        condition(body, "Available").update(status="False", reason="MinimumReplicasUnavailable")

        assert kubewatch.detect(body, now=NOW) == []

    @pytest.mark.parametrize("name", ["deployment/healthy", "deployment/scaled_to_zero"])
    def test_healthy_deployments(self, name: str) -> None:
        assert kubewatch.detect(load(name), now=NOW) == []


class TestReplicaSet:
    def test_a_replica_failure_is_reported_on_the_replicaset_and_folds_onto_the_deployment(self) -> None:
        [event] = kubewatch.detect(load("replicaset/replica_failure"), now=NOW)

        assert event.type is EventType.REPLICATION_FAILURE
        assert event.severity is Severity.CRITICAL
        assert event.resource == ref(
            "apps/v1", "ReplicaSet", "shop", "payments-5f7d8c9b4", "e6b8d0f2-a4c6-4e8b-9d2f-4a6c8e0b2d4f"
        )
        assert event.owner == PAYMENTS_WITH_UID
        assert event.dedup_key == "replication_failure:Deployment/shop/payments"
        assert event.reason == "FailedCreate"
        assert event.details == {
            "condition": "ReplicaFailure",
            "desired_replicas": 2,
            "available_replicas": 0,
            "ready_replicas": 0,
        }

    def test_with_some_replicas_available_it_is_a_warning(self) -> None:
        body = load("replicaset/replica_failure")
        body["status"].update(replicas=1, availableReplicas=1, readyReplicas=1)

        [event] = kubewatch.detect(body, now=NOW)

        assert event.severity is Severity.WARNING

    def test_a_healthy_replicaset(self) -> None:
        assert kubewatch.detect(load("replicaset/healthy"), now=NOW) == []


class TestHorizontalPodAutoscaler:
    def test_an_hpa_pinned_at_max_is_keyed_on_its_scale_target(self) -> None:
        [event] = kubewatch.detect(load("hpa/maxed"), now=NOW)

        assert event.type is EventType.HPA_MAXED
        assert event.severity is Severity.WARNING
        assert event.resource == ref(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "shop",
            "checkout",
            "b0d2f4a6-c8e0-4b2d-8f6a-c8e0b2d4f6a8",
        )
        assert event.owner == CHECKOUT
        assert event.dedup_key == "hpa_maxed:Deployment/shop/checkout"
        assert event.reason == "TooManyReplicas"
        assert event.message == "the desired replica count is more than the maximum replica count"
        assert event.details == {
            "condition": "ScalingLimited",
            "current_replicas": 10,
            "desired_replicas": 10,
            "min_replicas": 3,
            "max_replicas": 10,
        }

    def test_desired_above_max_is_enough_without_conditions(self) -> None:
        body = load("hpa/maxed")
        del body["status"]["conditions"]
        body["status"]["desiredReplicas"] = 12

        [event] = kubewatch.detect(body, now=NOW)

        assert event.reason == "DesiredAboveMax"
        assert event.details["condition"] is None
        assert event.details["desired_replicas"] == 12

    @pytest.mark.parametrize(
        ("current", "limited_status", "limited_reason"),
        [
            pytest.param(10, "False", "DesiredWithinRange", id="at-max-but-not-limited"),
            pytest.param(8, "True", "TooManyReplicas", id="limited-but-still-scaling-up"),
            pytest.param(10, "True", "TooFewReplicas", id="limited-at-the-floor"),
        ],
    )
    def test_not_maxed(self, current: int, limited_status: str, limited_reason: str) -> None:
        body = load("hpa/maxed")
        body["status"]["currentReplicas"] = current
        condition(body, "ScalingLimited").update(status=limited_status, reason=limited_reason)

        assert kubewatch.detect(body, now=NOW) == []

    def test_a_healthy_hpa(self) -> None:
        assert kubewatch.detect(load("hpa/healthy"), now=NOW) == []


class TestJob:
    def test_a_cronjob_run_past_its_backoff_limit_is_critical_and_keyed_on_the_cronjob(self) -> None:
        [event] = kubewatch.detect(load("job/failed_backoff"), now=NOW)

        assert event.type is EventType.JOB_FAILED
        assert event.severity is Severity.CRITICAL
        assert event.resource == ref(
            "batch/v1", "Job", "analytics", "nightly-report-28971360", "4d6f8a0c-2e4b-4d6f-8a0c-2e4b6d8f0a2c"
        )
        assert event.owner == NIGHTLY_CRON
        assert event.dedup_key == "job_failed:CronJob/analytics/nightly-report"
        assert event.reason == "BackoffLimitExceeded"
        assert event.message == "Job has reached the specified backoff limit"
        assert event.details == {
            "condition": "Failed",
            "failed": 7,
            "succeeded": 0,
            "active": 0,
            "backoff_limit": 6,
            "completions": 1,
        }

    def test_a_deadline_exceeded_job_with_some_successes_is_a_warning_on_itself(self) -> None:
        [event] = kubewatch.detect(load("job/failed_deadline"), now=NOW)

        assert event.severity is Severity.WARNING
        assert event.owner is None
        assert event.dedup_key == "job_failed:Job/search/reindex-catalog"
        assert event.reason == "DeadlineExceeded"
        assert event.details["succeeded"] == 3
        assert event.details["completions"] == 10

    def test_failure_target_alone_is_not_yet_failed(self) -> None:
        body = load("job/failed_backoff")
        body["status"]["conditions"] = [c for c in body["status"]["conditions"] if c["type"] != "Failed"]

        assert kubewatch.detect(body, now=NOW) == []

    @pytest.mark.parametrize("state", ["complete", "running"])
    def test_healthy_jobs(self, state: str) -> None:
        body = load("job/complete")
        if state == "running":
            body["status"] = {"active": 1, "ready": 1, "startTime": "2025-03-14T10:29:00Z", "terminating": 0}

        assert kubewatch.detect(body, now=NOW) == []


class TestPersistentVolumeClaim:
    def test_a_pending_claim_reports_its_storage_class_and_request(self) -> None:
        [event] = kubewatch.detect(load("pvc/pending"), now=NOW)

        assert event.type is EventType.PVC_PENDING
        assert event.severity is Severity.WARNING
        assert event.resource == ref(
            "v1", "PersistentVolumeClaim", "orders", "data-postgres-2", "d4f6a8c0-e2b4-4d6f-9a0c-e2b4d6f8a0c2"
        )
        assert event.owner is None
        assert event.dedup_key == "pvc_pending:PersistentVolumeClaim/orders/data-postgres-2"
        assert event.reason == "Pending"
        assert (
            event.message == "PersistentVolumeClaim data-postgres-2 is Pending (storage class io2-encrypted)"
        )
        assert event.details == {
            "storage_class": "io2-encrypted",
            "requested_storage": "100Gi",
            "access_modes": "ReadWriteOnce",
            "selected_node": "worker-4",
            "storage_provisioner": "ebs.csi.aws.com",
        }

    @pytest.mark.parametrize("phase", ["Bound", "Lost"])
    def test_claims_that_are_not_pending(self, phase: str) -> None:
        body = load("pvc/bound")
        body["status"]["phase"] = phase

        assert kubewatch.detect(body, now=NOW) == []
