"""``aiops detect`` and ``aiops rca`` read the same saved dump the same way.

A post-mortem runs on ``kubectl get -o yaml`` output saved days earlier. Both tools read JSON or
YAML, and both judge recency as of the newest timestamp in the dump (or ``--at``), never the
wall clock: the OOM kill that ``rca`` diagnoses is the one ``detect`` reports. Healthy input
says "no problems found" on stderr; a bad ``--at`` exits 2 naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.helpers import run_cli
from tests.detect.helpers import load

# `kubectl get pod cart-7c9f8d6b5-r4t8m -o yaml`, saved on 2025-06-03 a few seconds after the
# pod became Ready again: its container was OOM-killed at 02:14:51 and restarted at once, so the
# OOM shows only in lastState, and only the timestamps tell that it had just happened.
SAVED_OOM_POD = """\
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2025-06-01T08:40:12Z"
  generateName: cart-7c9f8d6b5-
  labels:
    app.kubernetes.io/name: cart
    pod-template-hash: 7c9f8d6b5
  name: cart-7c9f8d6b5-r4t8m
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    controller: true
    kind: ReplicaSet
    name: cart-7c9f8d6b5
    uid: 5b2d8e41-93c7-4f0a-b6e2-1d7c9a3f5e80
  resourceVersion: "9184412"
  uid: 0e6a4c2f-7b1d-4e93-a8c5-2f9d6b3e1a74
spec:
  containers:
  - image: shop/cart:1.12.0
    imagePullPolicy: IfNotPresent
    name: cart
    ports:
    - containerPort: 8080
      protocol: TCP
    resources:
      limits:
        memory: 256Mi
      requests:
        cpu: 100m
        memory: 256Mi
  nodeName: worker-1
  restartPolicy: Always
  terminationGracePeriodSeconds: 30
status:
  conditions:
  - lastProbeTime: null
    lastTransitionTime: "2025-06-01T08:40:12Z"
    status: "True"
    type: Initialized
  - lastProbeTime: null
    lastTransitionTime: "2025-06-03T02:15:03Z"
    status: "True"
    type: Ready
  - lastProbeTime: null
    lastTransitionTime: "2025-06-03T02:15:03Z"
    status: "True"
    type: ContainersReady
  - lastProbeTime: null
    lastTransitionTime: "2025-06-01T08:40:12Z"
    status: "True"
    type: PodScheduled
  containerStatuses:
  - containerID: containerd://4f1b7c2e9a
    image: docker.io/shop/cart:1.12.0
    imageID: docker.io/shop/cart@sha256:9c4e1a
    lastState:
      terminated:
        containerID: containerd://a83d5e0c17
        exitCode: 137
        finishedAt: "2025-06-03T02:14:51Z"
        reason: OOMKilled
        startedAt: "2025-06-01T08:40:14Z"
    name: cart
    ready: true
    restartCount: 1
    started: true
    state:
      running:
        startedAt: "2025-06-03T02:14:52Z"
  hostIP: 10.0.2.11
  phase: Running
  podIP: 10.244.1.37
  qosClass: Burstable
  startTime: "2025-06-01T08:40:12Z"
"""
SAVED_AT = "2025-06-03T02:15:03Z"  # the newest timestamp above: Ready again


def saved_dump(tmp_path: Path) -> Path:
    path = tmp_path / "cart-pod.yaml"
    path.write_text(SAVED_OOM_POD)
    return path


def test_a_saved_oom_dump_is_detected_as_it_was_when_saved_and_rca_agrees(tmp_path: Path) -> None:
    dump = saved_dump(tmp_path)

    detected = run_cli("detect", "-f", str(dump))
    diagnosed = run_cli("rca", "-f", str(dump), "--json")

    assert detected.returncode == 0, detected
    (event,) = [json.loads(line) for line in detected.stdout.splitlines()]
    assert event["type"] == "oom_killed"
    assert event["dedup_key"] == "oom_killed:Deployment/shop/cart"
    assert event["details"]["memory_limit"] == "256Mi" and event["details"]["exit_code"] == 137
    assert event["observed_at"] == SAVED_AT, "judged as of the dump, not of today"
    assert diagnosed.returncode == 0, diagnosed
    rca = json.loads(diagnosed.stdout)
    assert rca["category"] == "out_of_memory"
    assert rca["recommended_playbook"] == "oom_kill_remediation"


def test_at_chooses_the_moment_for_both_tools(tmp_path: Path) -> None:
    dump = saved_dump(tmp_path)

    soon_after = run_cli("detect", "-f", str(dump), "--at", "2025-06-03T02:20:00Z")
    next_day = run_cli("detect", "-f", str(dump), "--at", "2025-06-04T02:20:00+00:00")
    rca_next_day = run_cli("rca", "-f", str(dump), "--at", "2025-06-04T02:20:00Z", "--json")

    assert [json.loads(line)["type"] for line in soon_after.stdout.splitlines()] == ["oom_killed"]
    # A day later the container has run cleanly for 24 h: the OOM kill is history, not a problem.
    assert (next_day.returncode, next_day.stdout) == (0, ""), next_day
    assert "no problems found in 1 object, as of 2025-06-04T02:20:00Z (--at)" in next_day.flat_stderr
    assert rca_next_day.returncode == 0, rca_next_day  # the status still shows the kill: said, not hidden
    assert json.loads(rca_next_day.stdout)["category"] == "out_of_memory"


def test_a_bad_at_exits_2_naming_it(tmp_path: Path) -> None:
    dump = saved_dump(tmp_path)

    for command in ("detect", "rca"):
        result = run_cli(command, "-f", str(dump), "--at", "last tuesday")

        assert result.returncode == 2, result
        assert result.stdout == ""
        assert "--at 'last tuesday': not an RFC 3339 time" in result.flat_stderr, result
        assert "Traceback" not in result.stderr


def test_healthy_input_says_no_problems_found_on_stderr(tmp_path: Path) -> None:
    pods = tmp_path / "pods.yaml"
    pods.write_text(yaml.safe_dump_all([load("pod/healthy"), load("node/healthy")]))

    result = run_cli("detect", "-f", str(pods))

    assert (result.returncode, result.stdout) == (0, ""), result
    assert result.flat_stderr.startswith("no problems found in 2 objects, as of "), result


def test_rca_reads_yaml_objects_and_events_like_detect(tmp_path: Path) -> None:
    # `kubectl get pod -o yaml` and `kubectl get events -o yaml` (a List) of an unschedulable pod.
    pod, event = load("pod/unschedulable"), load("event/failed_scheduling")
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    (tmp_path / "events.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [event]})
    )

    result = run_cli("rca", "-f", "pod.yaml", "--events", "events.yaml", "--json", cwd=tmp_path)

    assert result.returncode == 0, result
    rca = json.loads(result.stdout)
    assert rca["category"] == "scheduling", rca
    assert "event:FailedScheduling x6" in rca["evidence"], "the YAML events were read"
    detected = run_cli("detect", "-f", "pod.yaml", cwd=tmp_path)
    assert [json.loads(line)["type"] for line in detected.stdout.splitlines()] == ["pod_unschedulable"]


def test_rca_names_file_and_line_of_broken_yaml(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [web\n")

    result = run_cli("rca", "-f", "pod.yaml", cwd=tmp_path)

    assert result.returncode == 2, result
    assert "pod.yaml:5: not valid JSON or YAML" in result.flat_stderr, result
    assert "Traceback" not in result.stderr
