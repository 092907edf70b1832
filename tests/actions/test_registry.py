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


#: One valid params document per catalog action, and the object it declares it acts on
#: (``Action.target``: shown in the approval request), None when it names no single object.
TARGETS: dict[str, tuple[dict[str, object], tuple[str, str, str | None, str] | None]] = {
    "describe": (
        {"api_version": "v1", "kind": "Pod", "namespace": "shop", "name": "web-1"},
        ("v1", "Pod", "shop", "web-1"),
    ),
    "events": (
        {"kind": "Deployment", "namespace": "shop", "name": "web"},
        ("apps/v1", "Deployment", "shop", "web"),
    ),
    "logs": ({"namespace": "shop", "pod": "web-1"}, ("v1", "Pod", "shop", "web-1")),
    "rollout_history": ({"namespace": "shop", "deployment": "web"}, ("apps/v1", "Deployment", "shop", "web")),
    "notify": ({"message": "hello"}, None),
    "delete_pod": ({"namespace": "shop", "pod": "web-1"}, ("v1", "Pod", "shop", "web-1")),
    "rollout_restart": (
        {"kind": "StatefulSet", "namespace": "shop", "name": "db"},
        ("apps/v1", "StatefulSet", "shop", "db"),
    ),
    "rollback": ({"namespace": "shop", "name": "web"}, ("apps/v1", "Deployment", "shop", "web")),
    "scale": (
        {
            "kind": "HorizontalPodAutoscaler",
            "namespace": "shop",
            "name": "web",
            "delta": "1",
            "max_replicas": "9",
        },
        ("autoscaling/v2", "HorizontalPodAutoscaler", "shop", "web"),
    ),
    "patch_resources": (
        {"namespace": "shop", "name": "web", "container": "app", "memory_limit": "512Mi"},
        ("apps/v1", "Deployment", "shop", "web"),
    ),
    "cordon": ({"node": "n1"}, ("v1", "Node", None, "n1")),
    "uncordon": ({"node": "n1"}, ("v1", "Node", None, "n1")),
    "drain": ({"node": "n1"}, ("v1", "Node", None, "n1")),
}


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_action_declares_its_target(name: str) -> None:
    """The approval request's target comes from the action's declaration, not from param names."""
    action = registry.builtin_actions()[name]
    document, expected = TARGETS[name]
    target = action.target(action.params.model_validate(document))
    got = None if target is None else (target.api_version, target.kind, target.namespace, target.name)
    assert got == expected


def test_a_pod_selector_names_no_single_target() -> None:
    """delete_pod by label selector acts on whichever pods match: no one object to show."""
    action = registry.builtin_actions()["delete_pod"]
    assert action.target(action.params.model_validate({"namespace": "shop", "selector": "app=web"})) is None
