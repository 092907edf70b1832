"""The Playbook CRD is the schema: generated from the pydantic models, committed as generated, structural,
and refusing (as the API server would: JSON schema, then the CEL rules evaluated with cel-python) an
unknown param, a wrong type, a missing required param, a risk below the action's base risk."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops.actions import catalog, registry
from aiops.playbooks import crd, crd_check, loader
from aiops.playbooks import registry as playbook_registry

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return crd_check.schema()


def resource(spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }


LOGS_STEP: dict[str, Any] = {
    "name": "read the log",
    "action": "logs",
    "risk": "low",
    "params": {
        "namespace": "{{ event.resource.namespace }}",
        "pod": "{{ event.resource.name }}",
        "tail_lines": 50,
    },
}
SCALE_STEP: dict[str, Any] = {
    "name": "scale up",
    "action": "scale",
    "risk": "medium",
    "params": {"namespace": "shop", "name": "web", "delta": 1, "max_replicas": "{{ 2 * 5 }}"},
    "compensate": {
        "action": "scale",
        "risk": "medium",
        "params": {
            "namespace": "shop",
            "name": "web",
            "replicas": "{{ steps['scale up'].output.from }}",
            "max_replicas": 10,
        },
    },
}
SPEC: dict[str, Any] = {"triggers": ["crash_loop"], "steps": [LOGS_STEP, SCALE_STEP]}


def with_step(change: dict[str, Any], index: int = 0) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["steps"][index] = {**spec["steps"][index], **change}
    return resource(spec)


def with_params(params: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return with_step({"params": params}, index)


@pytest.mark.parametrize("path", crd.CRD_PATHS, ids=str)
def test_the_committed_crd_is_the_generated_one(path: Path) -> None:
    regenerate = "PYTHONPATH=. .venv/bin/python -m aiops.playbooks.crd --write"
    assert (ROOT / path).read_text() == crd.render(), f"{path} is not as generated; run: {regenerate}"


def test_the_crd_keeps_names_scope_version_and_status_subresource() -> None:
    body = crd.crd()
    spec = body["spec"]
    assert (body["apiVersion"], body["metadata"]["name"]) == (
        "apiextensions.k8s.io/v1",
        "playbooks.aiops.dev",
    )
    assert (spec["group"], spec["scope"]) == ("aiops.dev", "Namespaced")
    assert spec["names"] == {
        "kind": "Playbook",
        "listKind": "PlaybookList",
        "plural": "playbooks",
        "singular": "playbook",
        "categories": ["aiops"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["ID"] == ".status.playbookId" and columns["Steps"] == ".status.steps"
    assert columns["Risk"] == ".status.highestRisk" and columns["Age"] == ".metadata.creationTimestamp"
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'


def test_the_schema_is_structural(openapi: dict[str, Any]) -> None:
    assert crd_check.structural_problems(openapi) == []


def test_the_structural_check_finds_what_the_api_server_refuses() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/x", "type": "string"},
            "b": {"description": "no type"},
            "c": {"type": "object"},
            "d": {"type": "object", "properties": {"x": {"type": "string"}}, "anyOf": [{"type": "object"}]},
            "e": {"type": "object", "properties": {}, "oneOf": [{"properties": {"y": {}}}]},
        },
    }
    assert crd_check.structural_problems(bad) == [
        ".properties.a: $ref",
        ".properties.b: no type",
        ".properties.c: an object without properties",
        ".properties.d.anyOf[0]: type inside a junctor",
        ".properties.d.anyOf[0]: an object without properties",
        ".properties.e.oneOf[0]: property y not declared outside",
    ]


def test_params_are_the_typed_union_of_every_actions_params(openapi: dict[str, Any]) -> None:
    params = openapi["properties"]["spec"]["properties"]["steps"]["items"]["properties"]["params"]
    union = {name for action in catalog.CATALOG for name in registry.params_model(action).model_fields}  # type: ignore[union-attr]
    assert set(params["properties"]) == union
    assert params["properties"]["replicas"]["x-kubernetes-int-or-string"] is True  # a template or a number
    assert params["properties"]["previous"]["type"] == "boolean"
    assert params["properties"]["message"]["type"] == "string"
    assert "x-kubernetes-preserve-unknown-fields" not in params


def test_every_action_has_its_rules_and_they_compile(openapi: dict[str, Any]) -> None:
    step = openapi["properties"]["spec"]["properties"]["steps"]["items"]
    rules = [rule["rule"] for rule in step["x-kubernetes-validations"]]
    for action in catalog.CATALOG:
        mine = [rule for rule in rules if rule.startswith(f"self.action != '{action}' ||")]
        assert any("!has(self.params." in rule for rule in mine), action  # no other action's params
    assert step["properties"]["compensate"]["x-kubernetes-validations"] == step["x-kubernetes-validations"]
    # "namespace" is a CEL reserved word: the API server's CEL reaches it as __namespace__ only.
    assert "self.params.__namespace__" in " ".join(rules) and crd_check.reserved_words_in_rules(openapi) == []
    bad = {"x-kubernetes-validations": [{"rule": "has(self.params.namespace) && self.in"}]}
    assert crd_check.reserved_words_in_rules(bad) == [
        "has(self.params.namespace) && self.in: .in",
        "has(self.params.namespace) && self.in: .namespace",
    ]
    assert [crd.cel_field(n) for n in ("pod", "namespace", "a__b", "x.y-z/w")] == [
        "pod",
        "__namespace__",
        "a__underscores__b",
        "x__dot__y__dash__z__slash__w",
    ]
    assert crd_check.rule_problems(openapi, resource(SPEC)) == []  # every rule compiles and holds


def test_the_examples_and_builtins_validate(openapi: dict[str, Any]) -> None:
    examples = [
        doc
        for path in EXAMPLES
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Playbook"
    ]
    assert examples, "deploy/examples has no Playbook resource"
    builtins = [
        resource(playbook.model_dump(mode="json"), playbook.id.replace("_", "-"))
        for playbook in playbook_registry.PlaybookRegistry.load()
    ]
    assert len(builtins) >= 5
    for body in examples:
        assert (
            loader.playbook_from_resource(body).home_namespace
            == body["metadata"]["namespace"]
            != "aiops-system"
        )
    loader.playbook_from_resource(resource(SPEC))  # the refusals below start from a valid playbook
    for body in [*examples, *builtins, resource(SPEC)]:
        assert crd_check.problems(body, openapi) == [], body["metadata"]["name"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            with_params({**LOGS_STEP["params"], "tail": 5}),
            ["spec.steps.0.params: Additional properties are not allowed ('tail' was unexpected)"],
            id="a param no action has",
        ),
        pytest.param(
            with_params({**LOGS_STEP["params"], "replicas": 2}),
            [
                ".spec.steps[0]: action logs takes only params: "
                "namespace, pod, container, previous, tail_lines, since_seconds"
            ],
            id="another action's param",
        ),
        pytest.param(
            with_params({**LOGS_STEP["params"], "previous": "yes"}),
            ["spec.steps.0.params.previous: 'yes' is not of type 'boolean'"],
            id="a string for a boolean",
        ),
        pytest.param(
            with_params({**LOGS_STEP["params"], "tail_lines": 2.5}),
            ["spec.steps.0.params.tail_lines: 2.5 is not of type 'integer', 'string', 'null'"],
            id="a fraction for an integer",
        ),
        pytest.param(
            with_params({"namespace": "shop"}),
            [".spec.steps[0]: action logs requires params: namespace, pod"],
            id="a missing required param",
        ),
        pytest.param(
            with_step({"params": {}, "action": "notify"}),
            [".spec.steps[0]: action notify requires params: message"],
            id="no params at all",
        ),
        pytest.param(
            with_step({"compensate": {**SCALE_STEP["compensate"], "params": {"namespace": "shop"}}}, 1),
            [".spec.steps[1].compensate: action scale requires params: namespace, name, max_replicas"],
            id="a compensation's missing param",
        ),
        pytest.param(
            resource({**SPEC, "steps": [{**SCALE_STEP, "risk": "low"}]}),
            [
                ".spec.steps[0]: actions cordon, delete_pod, rollout_restart, scale, uncordon have base risk "
                "medium: declare risk medium or high"
            ],
            id="a write declared low",
        ),
        pytest.param(
            resource({**SPEC, "steps": [LOGS_STEP, {**SCALE_STEP, "name": LOGS_STEP["name"]}]}),
            [".spec.steps: step names must be unique"],
            id="duplicate step names",
        ),
    ],
)
def test_the_api_server_refuses(openapi: dict[str, Any], body: dict[str, Any], expected: list[str]) -> None:
    assert crd_check.problems(body, openapi) == expected


def test_an_unknown_trigger_or_action_is_refused(openapi: dict[str, Any]) -> None:
    (trigger,) = crd_check.problems(resource({**SPEC, "triggers": ["crash_loop", "no_such_event"]}), openapi)
    assert trigger.startswith("spec.triggers.1: 'no_such_event' is not one of ['crash_loop', ")
    (twice,) = crd_check.problems(resource({**SPEC, "triggers": ["crash_loop", "crash_loop"]}), openapi)
    assert twice == "spec.triggers: ['crash_loop', 'crash_loop'] has non-unique elements"
    found = crd_check.problems(with_step({"action": "reboot", "params": {}}), openapi)
    assert found[0].startswith("spec.steps.0.action: 'reboot' is not one of ['cordon', ")


def test_the_command_line_check_fails_on_a_refused_resource(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([resource(SPEC, "good"), with_params({"namespace": "shop"})]))
    assert crd_check.main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "Playbook/good: ok" in out and "Playbook/web: refused" in out
    assert (
        "action logs requires params: namespace, pod" in out
        and "2 Playbook resource(s) checked, 1 refused" in out
    )
    assert crd_check.main([str(path) for path in EXAMPLES]) == 0
