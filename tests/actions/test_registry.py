"""The registry implements exactly the catalog, with strict params that accept rendered strings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiops.actions import registry
from aiops.actions.catalog import CATALOG


def test_builtin_actions_cover_exactly_the_catalog() -> None:
    """Every catalog name has an implementation and there is nothing else."""
    actions = registry.builtin_actions()
    assert set(actions) == set(CATALOG)
    for name, action in actions.items():
        assert action.info is CATALOG[name]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_params_forbid_unknown_keys(name: str) -> None:
    """A typo in a playbook's params is an error, not silently ignored."""
    action = registry.builtin_actions()[name]
    assert action.params.model_config.get("extra") == "forbid"
    with pytest.raises(ValidationError, match="extra_forbidden"):
        action.params.model_validate({"definitely_not_a_param": "x"})


def test_params_coerce_rendered_strings() -> None:
    """Jinja renders strings: "5" → 5, "true" → True, "None"/"" → None for optional params."""
    actions = registry.builtin_actions()
    logs = actions["logs"].params.model_validate(
        {
            "namespace": "web",
            "pod": "p",
            "previous": "true",
            "tail_lines": "50",
            "container": "None",
            "since_seconds": "",
        }
    )
    assert logs.model_dump() == {
        "namespace": "web",
        "pod": "p",
        "container": None,
        "previous": True,
        "tail_lines": 50,
        "since_seconds": None,
    }
    scale = actions["scale"].params.model_validate(
        {"namespace": "a", "name": "b", "delta": "-1", "max_replicas": "10", "replicas": ""}
    )
    assert scale.model_dump()["delta"] == -1 and scale.model_dump()["replicas"] is None


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("scale", {"namespace": "a", "name": "b", "max_replicas": 3}),  # neither replicas nor delta
        ("scale", {"namespace": "a", "name": "b", "replicas": 1, "delta": 1, "max_replicas": 3}),  # both
        ("patch_resources", {"namespace": "a", "name": "b", "container": "c"}),  # nothing to change
        ("patch_resources", {"namespace": "a", "name": "b", "container": "c", "memory_limit": "lots"}),
        ("rollout_restart", {"kind": "Pod", "namespace": "a", "name": "b"}),
    ],
)
def test_invalid_params_are_rejected(name: str, params: dict[str, object]) -> None:
    """Params models check what can be checked before anything runs."""
    with pytest.raises(ValidationError):
        registry.builtin_actions()[name].params.model_validate(params)
