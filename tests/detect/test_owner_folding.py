"""Owner resolution and folding: which workload a body's problems are keyed on.

``owner_of`` reads only the body (ownerReferences, the pod-template-hash label, the HPA's
scaleTargetRef), so pods fold onto their Deployment, StatefulSet, DaemonSet or Job, Jobs onto
their CronJob, and bare or node-owned pods onto nothing. ``member_key`` names the object itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops.events.model import EventType, ObjectRef
from aiops.sources import kubewatch
from tests.detect.helpers import (
    CHECKOUT,
    NIGHTLY_CRON,
    NIGHTLY_JOB,
    NODE_EXPORTER,
    NOW,
    POSTGRES,
    SEARCH_INDEXER,
    load,
    ref,
)

CHECKOUT_RS = ref(
    "apps/v1", "ReplicaSet", "shop", "checkout-6d8f9c7b5d", "5b0e6a71-3c2d-4f8e-9a41-7d2c1e0b9f33"
)


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        pytest.param("pod/healthy", CHECKOUT, id="pod->rs->deployment"),
        pytest.param("pod/init_crash_loop", POSTGRES, id="statefulset-pod"),
        pytest.param("pod/oom_recovered", SEARCH_INDEXER, id="statefulset-pod-2"),
        pytest.param("pod/create_container_config_error", NODE_EXPORTER, id="daemonset-pod"),
        pytest.param("pod/oom_job_pod", NIGHTLY_JOB, id="job-pod"),
        pytest.param("pod/bare_crash_loop", None, id="bare-pod"),
        pytest.param("pod/static_mirror", None, id="mirror-pod-owned-by-node"),
        pytest.param(
            "replicaset/healthy",
            ref("apps/v1", "Deployment", "shop", "checkout", "9a1c2f3e-4b5d-4e6f-8a7b-9c0d1e2f3a4b"),
            id="rs->deployment",
        ),
        pytest.param("job/failed_backoff", NIGHTLY_CRON, id="job->cronjob"),
        pytest.param("job/complete", None, id="bare-job"),
        pytest.param("hpa/maxed", CHECKOUT, id="hpa->scale-target"),
        pytest.param("deployment/healthy", None, id="deployment"),
        pytest.param("node/healthy", None, id="node"),
        pytest.param("pvc/pending", None, id="pvc"),
        pytest.param("event/backoff_crash", None, id="event"),
    ],
)
def test_owner_of(name: str, owner: ObjectRef | None) -> None:
    assert kubewatch.owner_of(load(name)) == owner


def _pod_refs(body: dict[str, Any]) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = body["metadata"]["ownerReferences"]
    return refs


def test_a_replicaset_not_named_after_the_template_hash_stays_the_owner() -> None:
    body = load("pod/healthy")
    body["metadata"]["labels"]["pod-template-hash"] = "77f5c8d9b"

    assert kubewatch.owner_of(body) == CHECKOUT_RS


def test_a_pod_without_the_template_hash_label_is_owned_by_its_replicaset() -> None:
    body = load("pod/healthy")
    del body["metadata"]["labels"]["pod-template-hash"]

    assert kubewatch.owner_of(body) == CHECKOUT_RS


def test_the_controller_reference_wins_over_earlier_ones() -> None:
    body = load("pod/init_crash_loop")
    _pod_refs(body)[0]["controller"] = True
    _pod_refs(body).insert(
        0,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "postgres-scripts",
            "uid": "0c2e4b6d-8f0a-4c2e-8b6d-8f0a2c4e6b8e",
        },
    )

    assert kubewatch.owner_of(body) == POSTGRES


def test_without_a_controller_reference_the_first_one_is_used() -> None:
    body = load("pod/init_crash_loop")
    del _pod_refs(body)[0]["controller"]

    assert kubewatch.owner_of(body) == POSTGRES


def test_a_cronjob_reference_is_normalised_to_batch_v1() -> None:
    body = load("job/failed_backoff")
    body["metadata"]["ownerReferences"][0]["apiVersion"] = "batch/v1beta1"

    assert kubewatch.owner_of(body) == NIGHTLY_CRON


def test_a_scale_target_without_api_version_gets_the_kind_default() -> None:
    body = load("hpa/maxed")
    del body["spec"]["scaleTargetRef"]["apiVersion"]

    assert kubewatch.owner_of(body) == CHECKOUT


@pytest.mark.parametrize(
    "body", [None, [], "Pod", {}, {"kind": "Pod", "metadata": {"ownerReferences": "rs"}}]
)
def test_owner_of_a_malformed_body_is_none(body: Any) -> None:
    assert kubewatch.owner_of(body) is None


def test_pods_of_one_deployment_share_a_dedup_key_with_its_replicaset_and_itself() -> None:
    pod = load("pod/crash_loop")
    other = load("pod/crash_loop")
    other["metadata"].update(name="checkout-6d8f9c7b5d-l1m2n", uid="6c8e0b2d-4f6a-4c8e-9b2d-4f6a8c0e2b4f")

    keys = {e.dedup_key for body in (pod, other) for e in kubewatch.detect(body, now=NOW)}

    assert keys == {"crash_loop:Deployment/shop/checkout"}
    failures = [
        *kubewatch.detect(load("replicaset/replica_failure"), now=NOW),
        *kubewatch.detect(load("deployment/replication_failure"), now=NOW),
    ]
    assert [e.type for e in failures] == [EventType.REPLICATION_FAILURE] * 2
    assert {e.dedup_key for e in failures} == {"replication_failure:Deployment/shop/payments"}
    assert {e.resource.kind for e in failures} == {"ReplicaSet", "Deployment"}


def test_a_failed_cronjob_run_folds_onto_the_cronjob_and_its_pods_onto_the_job() -> None:
    [job_event] = kubewatch.detect(load("job/failed_backoff"), now=NOW)
    [pod_event] = kubewatch.detect(load("pod/oom_job_pod"), now=NOW)

    assert job_event.dedup_key == "job_failed:CronJob/analytics/nightly-report"
    assert pod_event.dedup_key == "oom_killed:Job/analytics/nightly-report-28971360"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("pod/crash_loop", "Pod/shop/checkout-6d8f9c7b5d-q9w4z"),
        ("node/not_ready", "Node/-/worker-2"),
        ("deployment/healthy", "Deployment/shop/checkout"),
        ("replicaset/replica_failure", "ReplicaSet/shop/payments-5f7d8c9b4"),
        ("hpa/maxed", "HorizontalPodAutoscaler/shop/checkout"),
        ("job/failed_backoff", "Job/analytics/nightly-report-28971360"),
        ("pvc/pending", "PersistentVolumeClaim/orders/data-postgres-2"),
        ("event/backoff_crash", "Event/shop/checkout-6d8f9c7b5d-q9w4z.182c7a9e5b1d3f40"),
    ],
)
def test_member_key_names_the_object_itself(name: str, key: str) -> None:
    body = load(name)

    assert kubewatch.member_key(body) == key
    if name != "event/backoff_crash" and (events := kubewatch.detect(body, now=NOW)):
        assert {e.resource.key for e in events} == {key}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "Pod/shop/x",
        {},
        {"kind": "Pod"},
        {"kind": "Pod", "metadata": {"namespace": "shop"}},
        {"kind": "Pod", "metadata": {"name": 5}},
        {"kind": ["Pod"], "metadata": {"name": "x"}},
        {"kind": "Pod", "metadata": "x"},
    ],
)
def test_member_key_of_a_malformed_body_is_none(body: Any) -> None:
    assert kubewatch.member_key(body) is None


def test_an_event_about_a_pod_is_a_member_of_that_pod_and_folds_once_its_owner_is_known() -> None:
    pod = load("pod/crash_loop")
    [from_status] = kubewatch.detect(pod, now=NOW)
    [from_event] = kubewatch.detect(load("event/backoff_crash"), now=NOW)

    assert from_event.resource.key == kubewatch.member_key(pod)
    assert from_event.owner is None  # an Event alone cannot prove the pod's workload
    folded = from_event.model_copy(update={"owner": kubewatch.owner_of(pod)})
    assert folded.dedup_key == from_status.dedup_key == "crash_loop:Deployment/shop/checkout"
