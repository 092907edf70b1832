"""The copilot's read-only tools against the Kubernetes API emulator over HTTP: what each returns,
what each refuses, and that env values and secrets never come back, nor more than the bound."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from aiops import kube as kube_mod
from aiops.copilot import tools
from aiops.copilot.kinds import ALLOWED, KindRefused, resolve
from aiops.emulator import ClusterEmulator
from aiops.enrichment.scrub import ENV_VALUE
from tests.operator.workloads import PREVIOUS_LOG, seed_crash_loop
from tests.support import kube_fixtures as kf

PLANTED = "hunter2-planted-value"


def _seed(emulator: ClusterEmulator) -> dict[str, Any]:
    """Namespace shop with the crash-looping ``web`` Deployment (its pod, ReplicaSet, previous log),
    a pod ``api-1`` whose container env holds a literal value and a Secret reference, an Event
    about web's pod, a Node and a ConfigMap holding a credential (the emulator serves no Secrets;
    refused kinds are refused before any request, which the tests check)."""
    crashing = seed_crash_loop(emulator, namespace="shop", name="web")
    env = [
        {"name": "DB_PASSWORD", "value": PLANTED},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
    ]
    emulator.put_object(
        kf.pod(
            "api-1", "shop", labels={"app": "api"}, containers=[{"name": "app", "image": "api:2", "env": env}]
        )
    )
    emulator.put_object(kf.event("web-backoff", crashing, reason="BackOff", message="Back-off restarting"))
    emulator.put_object(kf.node("worker-1"))
    emulator.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "api", "namespace": "shop"},
            "data": {"token": "c2VjcmV0"},
        }
    )
    return crashing


async def _ok(kube: kube_mod.Kube, tool: str, /, **arguments: Any) -> Any:
    """The decoded content of a successful call of ``tool`` (text for logs)."""
    result = await tools.call(kube, tool, json.dumps(arguments))
    assert result.ok, result.error
    assert not result.refused
    return json.loads(result.content) if result.content[:1] in "{[" else result.content


async def test_get_returns_the_stored_object(emulator: ClusterEmulator, kube: kube_mod.Kube) -> None:
    _seed(emulator)
    found = await _ok(kube, "get", kind="deploy", namespace="shop", name="web")
    assert found["kind"] == "Deployment"
    assert found["metadata"]["name"] == "web"
    assert found["spec"]["replicas"] == 1
    node = await _ok(kube, "get", kind="Node", name="worker-1")
    assert node["metadata"]["name"] == "worker-1"


async def test_list_filters_by_label_and_field_selector_and_bounds_the_items(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    crashing = _seed(emulator)
    every = await _ok(kube, "list", kind="pods", namespace="shop")
    assert sorted(p["metadata"]["name"] for p in every["items"]) == sorted(
        ["api-1", crashing["metadata"]["name"]]
    )
    by_label = await _ok(kube, "list", kind="Pod", namespace="shop", label_selector="app=api")
    assert [p["metadata"]["name"] for p in by_label["items"]] == ["api-1"]
    by_field = await _ok(kube, "list", kind="po", field_selector="spec.nodeName=worker-1")
    assert [p["metadata"]["name"] for p in by_field["items"]] == [crashing["metadata"]["name"]]
    limited = await _ok(kube, "list", kind="pods", namespace="shop", limit=1)
    assert (limited["total"], limited["returned"], len(limited["items"])) == (2, 1, 1)


async def test_describe_returns_the_object_and_its_events(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    crashing = _seed(emulator)
    found = await _ok(kube, "describe", kind="pods", namespace="shop", name=crashing["metadata"]["name"])
    assert found["object"]["metadata"]["uid"] == crashing["metadata"]["uid"]
    assert [e["reason"] for e in found["events"]] == ["BackOff"]


async def test_events_of_a_namespace_and_of_one_object(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    crashing = _seed(emulator)
    other = emulator.put_object(
        kf.event(
            "api-pulled",
            emulator.put_object(kf.pod("db-1", "shop")),
            reason="Pulled",
            message="ok",
            type_="Normal",
            last="2024-01-02T00:00:00Z",
        )
    )
    assert other["metadata"]["name"] == "api-pulled"
    everything = await _ok(kube, "events", namespace="shop")
    assert [(e["object"], e["reason"]) for e in everything["events"]] == [
        (f"Pod/{crashing['metadata']['name']}", "BackOff"),
        ("Pod/db-1", "Pulled"),
    ]
    one = await _ok(kube, "events", namespace="shop", kind="Pod", name="db-1")
    assert [e["reason"] for e in one["events"]] == ["Pulled"]


async def test_logs_current_and_previous(emulator: ClusterEmulator, kube: kube_mod.Kube) -> None:
    crashing = _seed(emulator)
    name = crashing["metadata"]["name"]
    assert await _ok(kube, "logs", namespace="shop", pod=name, container="app", previous=True) == PREVIOUS_LOG
    emulator.set_pod_log("shop", name, "line 1\nline 2\nline 3\n", container="app")
    assert await _ok(kube, "logs", namespace="shop", pod=name, tail=2) == "line 2\nline 3\n"
    (call,) = emulator.calls_matching("GET", f"pods/{name}/log", query={"tailLines": "2"})
    assert call.query["tailLines"] == "2"


async def test_a_big_log_is_cut_to_the_bound_keeping_its_end(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    crashing = _seed(emulator)
    name = crashing["metadata"]["name"]
    lines = [f"line {n:05d} " + "x" * 60 for n in range(1000)]
    emulator.set_pod_log("shop", name, "\n".join(lines) + "\n", container="app")
    result = await tools.call(kube, "logs", {"namespace": "shop", "pod": name, "tail": 1000})
    assert result.ok and result.truncated
    assert len(result.content.encode()) <= tools.MAX_RESULT_BYTES
    assert result.content.startswith(tools.TRUNCATED)
    assert lines[-1] in result.content
    assert lines[0] not in result.content


async def test_a_big_list_is_cut_to_the_bound_with_the_marker(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    emulator.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}})
    for n in range(60):
        emulator.put_object(kf.pod(f"p-{n:03d}", "big", labels={"filler": "y" * 60}))
    result = await tools.call(kube, "list", {"kind": "pods", "namespace": "big", "limit": 60})
    assert result.ok and result.truncated
    assert len(result.content.encode()) <= tools.MAX_RESULT_BYTES
    assert result.content.rstrip().endswith("]") and tools.TRUNCATED in result.content.splitlines()[-1]


async def test_an_env_value_never_comes_back_but_its_name_and_reference_do(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    _seed(emulator)
    calls = [
        ("get", {"kind": "pods", "namespace": "shop", "name": "api-1"}),
        ("list", {"kind": "pods", "namespace": "shop"}),
        ("list", {"kind": "pods"}),
        ("describe", {"kind": "Pod", "namespace": "shop", "name": "api-1"}),
    ]
    for name, arguments in calls:
        result = await tools.call(kube, name, arguments)
        assert result.ok, result.error
        assert PLANTED not in result.content
        assert "DB_PASSWORD" in result.content and ENV_VALUE in result.content
        assert "secretKeyRef" in result.content


def test_redact_env_replaces_every_literal_value_whatever_the_other_keys() -> None:
    """An EnvVar with keys the scrubber's shape rule does not expect is still redacted."""
    spec: dict[str, Any] = {
        "containers": [{"env": [{"name": "A", "value": "v1", "x-extra": 1}, {"name": "B", "value": "v2"}]}]
    }
    redacted = tools.redact_env(spec)
    assert [v["value"] for v in redacted["containers"][0]["env"]] == [ENV_VALUE, ENV_VALUE]
    assert spec["containers"][0]["env"][0]["value"] == "v1"  # the input is not changed


async def test_secrets_in_events_and_logs_are_scrubbed(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    crashing = _seed(emulator)
    name = crashing["metadata"]["name"]
    emulator.set_pod_log(
        "shop", name, "connecting to postgres://app:s3cr3tpass@db:5432/shop\n", container="app"
    )
    text = await _ok(kube, "logs", namespace="shop", pod=name)
    assert "s3cr3tpass" not in text and "[REDACTED:" in text
    emulator.put_object(
        kf.event("leak", crashing, reason="Failed", message="login failed password=s3cr3tpass")
    )
    for arguments in ({"namespace": "shop"}, {"namespace": "shop", "kind": "pods", "name": name}):
        result = await tools.call(kube, "events", arguments)
        assert result.ok and "login failed" in result.content
        assert "s3cr3tpass" not in result.content and "[REDACTED:" in result.content


@pytest.mark.parametrize(
    "kind",
    [
        "Secret",
        "secrets",
        "SECRETS",
        "secret",
        "Secrets.v1",
        "serviceaccounts",
        "sa",
        "token",
        "ConfigMap",
        "cm",
        "ingresses",
        "serviceaccounts/token",
    ],
)
async def test_refused_kinds(emulator: ClusterEmulator, kube: kube_mod.Kube, kind: str) -> None:
    _seed(emulator)
    for name, arguments in (
        ("get", {"kind": kind, "namespace": "shop", "name": "api"}),
        ("list", {"kind": kind, "namespace": "shop"}),
        ("describe", {"kind": kind, "namespace": "shop", "name": "api"}),
        ("events", {"namespace": "shop", "kind": kind, "name": "api"}),
    ):
        before = len(emulator.calls)
        result = await tools.call(kube, name, arguments)
        assert result.refused and not result.ok
        assert "kind" in (result.error or "")
        assert "c2VjcmV0" not in result.content
        assert len(emulator.calls) == before  # nothing was sent


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("get", {"kind": "pods", "namespace": "shop", "name": "../secrets/api"}),
        ("get", {"kind": "pods", "namespace": "shop", "name": "a/b"}),
        ("get", {"kind": "pods", "namespace": "../kube-system", "name": "a"}),
        ("get", {"kind": "pods", "namespace": "shop", "name": ".."}),
        ("describe", {"kind": "deploy", "namespace": "shop/x", "name": "web"}),
        ("events", {"namespace": "shop", "kind": "Pod", "name": "x,involvedObject.kind=Secret"}),
        ("logs", {"namespace": "shop", "pod": "../../secrets/api"}),
        ("logs", {"namespace": "shop", "pod": "web", "container": "a/b"}),
        ("list", {"kind": "pods", "label_selector": "app=web&x=/../"}),
        ("list", {"kind": "pods", "field_selector": "metadata.name=a b"}),
    ],
)
async def test_bad_names_and_selectors_are_refused_before_anything_is_sent(
    emulator: ClusterEmulator, kube: kube_mod.Kube, name: str, arguments: dict[str, Any]
) -> None:
    result = await tools.call(kube, name, arguments)
    assert result.refused and not result.ok and result.error
    assert emulator.calls == []


@pytest.mark.parametrize(
    ("name", "arguments", "reason"),
    [
        ("delete", "{}", "unknown tool"),
        ("request", '{"method": "GET", "path": "/api/v1/secrets"}', "unknown tool"),
        ("get", '{"kind": "pods", "namespace": "shop", "name": "a", "verb": "delete"}', "Extra inputs"),
        ("logs", '{"namespace": "shop", "pod": "a", "tail": 100000}', "less than or equal"),
        ("logs", '{"namespace": "shop", "pod": "a", "previous": "yes"}', "boolean"),
        ("list", '{"kind": "pods", "limit": 0}', "greater than or equal"),
        ("get", "not json", "not JSON"),
        ("get", "[1, 2]", "JSON object"),
        ("get", '{"kind": "pods", "name": "a"}', "namespaced"),
        ("get", '{"kind": "nodes", "namespace": "shop", "name": "a"}', "cluster-scoped"),
        ("events", '{"namespace": "shop", "kind": "Pod"}', "both kind and name"),
    ],
)
async def test_unknown_tools_and_invalid_arguments_are_refused(
    emulator: ClusterEmulator, kube: kube_mod.Kube, name: str, arguments: str, reason: str
) -> None:
    result = await tools.call(kube, name, arguments)
    assert result.refused and not result.ok
    assert reason in (result.error or "")
    assert json.loads(result.content)["error"].startswith("refused: ")
    assert emulator.calls == []


def test_validate_raises_the_typed_refusal() -> None:
    with pytest.raises(tools.ToolRefused) as caught:
        tools.validate("exec", {})
    assert caught.value.tool == "exec" and "unknown tool" in caught.value.reason


async def test_a_missing_object_is_an_error_result_not_an_exception(
    emulator: ClusterEmulator, kube: kube_mod.Kube
) -> None:
    result = await tools.call(kube, "get", {"kind": "deployments", "namespace": "shop", "name": "ghost"})
    assert not result.ok and not result.refused
    assert result.error is not None and "404" in result.error


def test_the_registry_holds_only_the_read_tools() -> None:
    assert set(tools.TOOLS) == {"get", "list", "describe", "events", "logs"}


def test_every_schema_is_valid_json_schema_in_the_openai_format_without_refs() -> None:
    schemas = tools.schemas()
    assert [s["function"]["name"] for s in schemas] == list(tools.TOOLS)
    for schema in schemas:
        assert schema["type"] == "function"
        assert set(schema["function"]) == {"name", "description", "parameters"}
        parameters = schema["function"]["parameters"]
        jsonschema.Draft202012Validator.check_schema(parameters)
        assert parameters["type"] == "object" and parameters["additionalProperties"] is False
        text = json.dumps(parameters)
        assert "$ref" not in text and "$defs" not in text
    logs = next(s for s in schemas if s["function"]["name"] == "logs")["function"]["parameters"]
    assert logs["properties"]["tail"]["maximum"] == tools.MAX_TAIL_LINES
    assert set(logs["required"]) == {"namespace", "pod"}
    validator = jsonschema.Draft202012Validator(logs)
    assert validator.is_valid({"namespace": "shop", "pod": "web", "tail": 10})
    assert not validator.is_valid({"namespace": "shop", "pod": "web", "shell": "ls"})


def test_inline_refs_replaces_references_by_their_definitions() -> None:
    schema = {
        "type": "object",
        "properties": {"ref": {"$ref": "#/$defs/Ref", "description": "an object"}},
        "$defs": {"Ref": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    assert tools.inline_refs(schema) == {
        "type": "object",
        "properties": {
            "ref": {"type": "object", "properties": {"name": {"type": "string"}}, "description": "an object"}
        },
    }


def test_every_allowed_kind_resolves_by_each_spelling_and_none_is_sensitive() -> None:
    for info in ALLOWED:
        for spelling in (info.kind, info.kind.upper(), info.plural, *info.short):
            assert resolve(spelling) == info
        assert info.kind not in {"Secret", "ServiceAccount", "ConfigMap"}
    with pytest.raises(KindRefused, match="Secrets are never read"):
        resolve("SeCrEtS")


def test_bound_keeps_short_text_and_cuts_long_text_with_the_marker() -> None:
    assert tools.bound("short", max_bytes=100) == ("short", False)
    cut, truncated = tools.bound("é" * 500, max_bytes=200)
    assert truncated and len(cut.encode()) <= 200 and cut.endswith("]")
    assert "1000 bytes" in cut


async def test_every_tool_sends_only_gets(emulator: ClusterEmulator, kube: kube_mod.Kube) -> None:
    """Read-only by construction: a run of every tool (a cluster-scoped describe included) sends GETs only."""
    crashing = _seed(emulator)
    name = crashing["metadata"]["name"]
    worker = emulator.put_object(kf.node("worker-2", ready=False))
    emulator.put_object(
        kf.event("worker-2-notready", worker, reason="NodeNotReady", message="kubelet stopped")
    )
    described = await _ok(kube, "describe", kind="nodes", name="worker-2")
    assert [e["reason"] for e in described["events"]] == ["NodeNotReady"]
    for tool, arguments in (
        ("get", {"kind": "deployments", "namespace": "shop", "name": "web"}),
        ("list", {"kind": "replicasets"}),
        ("events", {"namespace": "shop", "kind": "Pod", "name": name}),
        ("logs", {"namespace": "shop", "pod": name, "previous": True}),
    ):
        assert (await tools.call(kube, tool, arguments)).ok
    assert emulator.calls and {call.method for call in emulator.calls} == {"GET"}
