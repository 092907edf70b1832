"""``aiops detect -f FILE``: what the operator would see in a file of Kubernetes objects, offline.

One JSON line per ClusterEvent on stdout (type, resource, owner, dedup key), nothing for
healthy objects (and "no problems found" on stderr); ``kubectl get -o json`` Lists (generic
``List`` and typed ``PodList``), multi-document YAML and stdin (``-f -``) are read; a file that
is not JSON/YAML exits 2 naming ``FILE:LINE``, and a missing file exits 2 with a message saying so.
The inputs are the hand-written ``kubectl get -o json`` fixtures of ``tests/detect``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.helpers import CliResult, run_cli
from tests.detect.helpers import FIXTURES, load

CHECKOUT_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "namespace": "shop",
    "name": "checkout-6d8f9c7b5d-q9w4z",
    "uid": "7e3a1b9c-2d4f-4a6b-8c0e-1f3a5b7c9d2e",
}
CHECKOUT_DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "checkout"}


def events_of(result: CliResult) -> list[dict[str, Any]]:
    """The events printed by a successful ``detect``: every stdout line is one JSON object."""
    assert result.returncode == 0, result
    assert result.stderr == "", result
    return [json.loads(line) for line in result.stdout.splitlines()]


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, resource name, dedup key) of each event, in output order."""
    return [(e["type"], e["resource"]["name"], e["dedup_key"]) for e in events]


def test_a_crash_looping_pod_prints_one_event_for_its_deployment() -> None:
    (event,) = events_of(run_cli("detect", "-f", str(FIXTURES / "pod" / "crash_loop.json")))

    assert event["type"] == "crash_loop"
    assert event["source"] == "kubernetes"
    assert event["reason"] == "CrashLoopBackOff"
    assert event["resource"] == CHECKOUT_POD
    # Folded through the ReplicaSet to the Deployment: one problem per workload, not per pod.
    assert {k: event["owner"][k] for k in CHECKOUT_DEPLOYMENT} == CHECKOUT_DEPLOYMENT
    assert event["dedup_key"] == "crash_loop:Deployment/shop/checkout"
    assert event["details"]["container"] == "checkout"
    assert event["details"]["restart_count"] == 7
    assert event["fingerprint"] and event["observed_at"]


def test_a_healthy_object_prints_nothing_and_succeeds_saying_so() -> None:
    for fixture in ("pod/healthy.json", "node/healthy.json", "deployment/healthy.json"):
        result = run_cli("detect", "-f", str(FIXTURES / fixture))
        assert (result.returncode, result.stdout) == (0, ""), result
        # On stderr, so a pipe of the JSON lines stays empty; said, so nothing looks like a hang.
        assert result.flat_stderr.startswith("no problems found in 1 object, as of "), result


def test_a_kubectl_list_reports_only_its_failing_items(tmp_path: Path) -> None:
    # ``kubectl get pods -o json``: a generic List whose items carry their own kind.
    items = [
        load(f"pod/{name}") for name in ("healthy", "crash_loop", "running_not_ready", "image_pull_backoff")
    ]
    pods = tmp_path / "pods.json"
    pods.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
    )

    events = events_of(run_cli("detect", "-f", str(pods)))

    assert summary(events) == [
        ("crash_loop", "checkout-6d8f9c7b5d-q9w4z", "crash_loop:Deployment/shop/checkout"),
        ("image_pull_backoff", "payments-5f7d8c9b4-h8j3k", "image_pull_backoff:Deployment/shop/payments"),
    ]


def test_a_typed_pod_list_from_the_api_gives_its_items_their_kind(tmp_path: Path) -> None:
    # ``GET /api/v1/pods``: a PodList whose items have no ``kind`` of their own.
    items = []
    for name in ("crash_loop_oom", "healthy"):
        pod = load(f"pod/{name}")
        del pod["kind"], pod["apiVersion"]
        items.append(pod)
    pods = tmp_path / "podlist.json"
    pods.write_text(json.dumps({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}))

    events = events_of(run_cli("detect", "-f", str(pods)))

    assert [(e["type"], e["resource"]["kind"], e["dedup_key"]) for e in events] == [
        ("crash_loop", "Pod", "crash_loop:Deployment/shop/cart"),
        ("oom_killed", "Pod", "oom_killed:Deployment/shop/cart"),
    ]


def test_multi_document_yaml_is_read_document_by_document(tmp_path: Path) -> None:
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text(
        yaml.safe_dump_all([load("node/not_ready"), load("pod/healthy"), load("pod/crash_loop")])
    )
    assert manifests.read_text().count("\n---\n") == 2

    events = events_of(run_cli("detect", "-f", str(manifests)))

    assert summary(events) == [
        ("node_not_ready", "worker-2", "node_not_ready:Node/-/worker-2"),
        ("crash_loop", "checkout-6d8f9c7b5d-q9w4z", "crash_loop:Deployment/shop/checkout"),
    ]
    node_event = events[0]
    assert node_event["resource"]["kind"] == "Node" and node_event["resource"]["namespace"] is None
    assert node_event["owner"] is None
    assert node_event["severity"] == "critical"


def test_dash_reads_the_objects_from_stdin() -> None:
    text = (FIXTURES / "pod" / "image_pull_backoff.json").read_text()

    (event,) = events_of(run_cli("detect", "-f", "-", stdin=text))

    assert event["type"] == "image_pull_backoff"
    assert event["dedup_key"] == "image_pull_backoff:Deployment/shop/payments"
    assert event["details"]["image"] == "registry.example.com/shop/payments:v2.3.1-rc"


def test_each_event_is_exactly_one_line_of_json() -> None:
    # A node with two pressure conditions: two events, two lines, nothing else on stdout.
    result = run_cli("detect", "-f", str(FIXTURES / "node" / "pressure.json"))
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and result.stdout.endswith("\n")
    assert [json.loads(line)["type"] for line in lines] == ["node_pressure", "node_pressure"]


# Line 6 lacks the comma after line 5: a hand-edited manifest, as a user would break it.
BROKEN_JSON = """\
{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "web-1"
    "namespace": "shop"
  }
}
"""


def test_a_file_that_is_not_json_or_yaml_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text(BROKEN_JSON)

    result = run_cli("detect", "-f", "broken.json", cwd=tmp_path)

    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "broken.json:6: not valid JSON or YAML" in result.flat_stderr, result
    assert "Traceback" not in result.stderr


def test_a_yaml_syntax_error_on_stdin_names_the_line() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  labels: {app: web\nspec: {}\n"

    result = run_cli("detect", "-f", "-", stdin=text)

    assert result.returncode == 2, result
    assert result.stdout == ""
    assert ":6: not valid JSON or YAML" in result.flat_stderr, result


def test_a_missing_file_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    result = run_cli("detect", "-f", "no-such-pods.json", cwd=tmp_path)

    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "cannot read no-such-pods.json: No such file or directory" in result.flat_stderr, result
    assert "Traceback" not in result.stderr


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()

    result = run_cli("detect", "-f", "manifests", cwd=tmp_path)

    assert result.returncode == 2, result
    assert "cannot read manifests: Is a directory" in result.flat_stderr, result
    assert "Traceback" not in result.stderr


def test_a_path_with_square_brackets_is_reported_verbatim(tmp_path: Path) -> None:
    result = run_cli("detect", "-f", "[/x]pods.json", cwd=tmp_path)

    assert result.returncode == 2, result
    assert "cannot read [/x]pods.json: No such file or directory" in result.flat_stderr, result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text",
    ["Name:         web-1\nNamespace:    shop\nStatus:       Running\n", "[1, 2]\n", "just prose\n"],
    ids=["kubectl-describe-text", "a-yaml-list", "prose"],
)
def test_input_without_any_kubernetes_object_is_refused_not_reported_healthy(text: str) -> None:
    """Nothing found must not look like "all healthy": input with no object exits 2 and says so."""
    result = run_cli("detect", "-f", "-", stdin=text)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "<stdin>: no Kubernetes object" in result.flat_stderr


def _alias_bomb(levels: int) -> str:
    """A Pod whose container statuses nest 10**levels statuses through aliases ("billion laughs")."""
    lines = [
        's0: &s0 {"name": "app", "image": "shop/app:v2", '
        '"state": {"waiting": {"reason": "ImagePullBackOff"}}}'
    ]
    lines += [f"s{i}: &s{i} [{', '.join([f'*s{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(
        [
            "apiVersion: v1",
            "kind: Pod",
            "metadata: {name: web-1, namespace: shop}",
            *lines,
            f"status: {{phase: Running, containerStatuses: *s{levels}}}",
            "",
        ]
    )


@pytest.mark.parametrize("command", ["detect", "rca"])
def test_an_alias_bomb_is_refused_at_its_line_before_anything_walks_it(tmp_path: Path, command: str) -> None:
    """Nine levels of ten aliases stand for 10**9 container statuses in a file of 12 lines; whatever
    walks the whole object (a JSON dump, the scrubber, the RCA's evidence) would never finish.
    ``detect`` and ``rca`` read YAML through one reader, which refuses it with file and line."""
    (tmp_path / "bomb.yaml").write_text(_alias_bomb(9))

    result = run_cli(command, "-f", "bomb.yaml", cwd=tmp_path, timeout_seconds=60)

    assert result.returncode == 2, result
    assert "bomb.yaml:1: YAML aliases (*name) add" in result.flat_stderr, result
    assert "alias bomb" in result.flat_stderr
    assert "Traceback" not in result.stderr


def test_a_few_aliases_and_a_large_dump_without_any_still_read(tmp_path: Path) -> None:
    """The bound is on what aliases add, not on the file's size: a 3,000-pod list (over 100,000
    values written out, like `kubectl get pods -A -o json` of a large cluster) reads whole, and a
    small alias is fine."""
    (tmp_path / "small.yaml").write_text(_alias_bomb(1))
    pods = [
        {
            "metadata": {
                "name": f"web-{i}",
                "namespace": "shop",
                "labels": {f"l{j}": str(j) for j in range(30)},
            },
            "status": {"phase": "Running"},
        }
        for i in range(3000)
    ]
    (tmp_path / "big.json").write_text(json.dumps({"apiVersion": "v1", "kind": "PodList", "items": pods}))

    small = run_cli("detect", "-f", "small.yaml", cwd=tmp_path)
    big = run_cli(
        "detect", "-f", "big.json", "--at", "2026-01-01T00:00:00Z", cwd=tmp_path, timeout_seconds=120
    )

    assert small.returncode == 0, small
    assert {e["type"] for e in events_of(small)} == {"image_pull_backoff"}
    assert big.returncode == 0, big
    assert "no problems found in 3000 objects" in big.flat_stderr, big
