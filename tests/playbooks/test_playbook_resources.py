"""Playbooks defined as ``Playbook`` custom resources (aiops.dev/v1alpha1): the body becomes the same
Playbook a file would, problems are reported against ``Playbook/<ns>/<name>``, and the CRD in
deploy/crds matches the pydantic schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops import errors
from aiops.playbooks import loader, registry
from tests.playbooks import crd_schema

CRD_PATH = Path(__file__).parents[2] / "deploy" / "crds" / "playbook.yaml"


def body(spec: Any, *, name: str = "restart-web", namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "metadata": {"name": name, "namespace": namespace, "uid": "abc"},
        "spec": spec,
    }


SPEC = {
    "description": "Restart web pods",
    "triggers": ["crash_loop"],
    "steps": [
        {
            "name": "delete",
            "action": "delete_pod",
            "risk": "medium",
            "params": {"namespace": "{{ event.resource.namespace }}", "pod": "{{ event.resource.name }}"},
        }
    ],
}


def problems_of(resource_body: dict[str, Any]) -> list[errors.Problem]:
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.playbook_from_resource(resource_body)
    return caught.value.problems


def test_the_id_defaults_to_the_resource_name() -> None:
    playbook = loader.playbook_from_resource(body(SPEC))
    assert (playbook.id, playbook.source, playbook.line) == ("restart-web", "Playbook/shop/restart-web", None)
    assert playbook.steps[0].params["pod"] == "{{ event.resource.name }}"


def test_spec_id_wins_over_the_name() -> None:
    assert loader.playbook_from_resource(body({**SPEC, "id": "web_restart"})).id == "web_restart"


def test_problems_are_located_in_the_resource() -> None:
    spec = {**SPEC, "steps": [{**SPEC["steps"][0], "risk": "low"}], "stpes": []}  # type: ignore[dict-item]
    problems = problems_of(body(spec))
    assert {(p.file, p.line, p.field) for p in problems} == {
        ("Playbook/shop/restart-web", None, "spec.steps.0.risk"),
        ("Playbook/shop/restart-web", None, "spec.stpes"),
    }


def test_a_name_that_is_no_valid_id_asks_for_spec_id() -> None:
    (problem,) = problems_of(body(SPEC, name="web.restart"))
    assert problem.field == "metadata.name" and "set spec.id" in problem.message


def test_a_missing_spec_is_a_problem() -> None:
    (problem,) = problems_of({"metadata": {"name": "x", "namespace": "shop"}})
    assert (problem.file, problem.field) == ("Playbook/shop/x", "spec")


def test_loader_owned_fields_are_refused_in_spec() -> None:
    (problem,) = problems_of(body({**SPEC, "line": 3}))
    assert (problem.field, problem.message) == ("spec.line", "unknown field 'line'")


def test_a_builtin_round_trips_through_a_resource_spec() -> None:
    for playbook in registry.PlaybookRegistry.load():
        spec = playbook.model_dump(mode="json")
        again = loader.playbook_from_resource(body(spec, name=playbook.id.replace("_", "-")))
        assert again.model_dump() == playbook.model_dump()


def test_the_crd_file_is_generated_from_the_model() -> None:
    assert CRD_PATH.read_text() == crd_schema.render(), "regenerate: see tests/playbooks/crd_schema.py"


def test_the_crd_is_namespaced_v1alpha1_with_a_structural_schema() -> None:
    crd = yaml.safe_load(CRD_PATH.read_text())
    assert crd["metadata"]["name"] == "playbooks.aiops.dev"
    assert (crd["spec"]["group"], crd["spec"]["scope"], crd["spec"]["names"]["kind"]) == (
        "aiops.dev",
        "Namespaced",
        "Playbook",
    )
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] is True
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["triggers", "steps"]
    assert set(spec["properties"]) == {"id", "description", "dry_run", "triggers", "steps"}
    step = spec["properties"]["steps"]["items"]
    assert step["properties"]["params"]["x-kubernetes-preserve-unknown-fields"] is True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "$ref" not in node and "additionalProperties" not in node and "anyOf" not in node
            if node.get("type") == "object":
                assert "properties" in node or node.get("x-kubernetes-preserve-unknown-fields")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
