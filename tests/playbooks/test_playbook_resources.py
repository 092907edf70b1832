"""Playbooks defined as ``Playbook`` custom resources (aiops.dev/v1alpha1): the body becomes the same
Playbook a file would, problems are reported against ``Playbook/<ns>/<name>``. The CRD: test_crd.py."""

from __future__ import annotations

from typing import Any

import pytest

from aiops import errors
from aiops.playbooks import loader, registry


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
