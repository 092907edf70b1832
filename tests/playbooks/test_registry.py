"""The playbook registry is an immutable snapshot: lookups by id, resource playbooks added and removed
as new registries, and the override policy that protects file playbooks from resources."""

from __future__ import annotations

from typing import Any

import pytest

from aiops import errors
from aiops.events.model import EventType
from aiops.playbooks import loader, registry
from aiops.playbooks.model import Playbook


def resource(name: str, *, namespace: str = "team-a", triggers: list[str] | None = None) -> Playbook:
    body: dict[str, Any] = {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "triggers": triggers or ["crash_loop"],
            "steps": [{"name": "say", "action": "notify", "risk": "low", "params": {"message": "hi"}}],
        },
    }
    return loader.playbook_from_resource(body)


@pytest.fixture(scope="module")
def builtins() -> registry.PlaybookRegistry:
    return registry.PlaybookRegistry.load()


def test_lookup_by_id(builtins: registry.PlaybookRegistry) -> None:
    assert builtins.get("deployment_rollback").id == "deployment_rollback"
    assert "deployment_rollback" in builtins and "nope" not in builtins and 42 not in builtins
    assert len(builtins) == 5 and [p.id for p in builtins] == builtins.ids() == sorted(builtins.ids())


def test_an_unknown_id_is_a_config_error_listing_the_known(builtins: registry.PlaybookRegistry) -> None:
    with pytest.raises(registry.UnknownPlaybook) as caught:
        builtins.get("restart_everything")
    assert isinstance(caught.value, errors.ConfigError)
    assert caught.value.playbook_id == "restart_everything"
    assert "crash_loop_remediation" in str(caught.value)


def test_duplicate_file_ids_name_both_sources() -> None:
    first = resource("dup").model_copy(update={"source": "a.yaml", "line": 3})
    second = resource("dup").model_copy(update={"source": "b.yaml", "line": 7})
    with pytest.raises(errors.ValidationFailed) as caught:
        registry.PlaybookRegistry([first, second])
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("b.yaml", 7, "id")
    assert "already defined at a.yaml:3" in problem.message


def test_adding_a_resource_returns_a_new_registry(builtins: registry.PlaybookRegistry) -> None:
    extended = builtins.with_resource(resource("team-restart"))
    assert "team-restart" in extended and "team-restart" not in builtins
    assert extended.is_resource("team-restart") and not extended.is_resource("deployment_rollback")
    assert extended.get("team-restart").source == "Playbook/team-a/team-restart"
    assert extended.without("team-restart").ids() == builtins.ids()


def test_updating_the_same_resource_replaces_it(builtins: registry.PlaybookRegistry) -> None:
    first = builtins.with_resource(resource("team-restart"))
    updated = first.with_resource(resource("team-restart", triggers=["crash_loop", "oom_killed"]))
    assert updated.get("team-restart").triggers == (EventType.CRASH_LOOP, EventType.OOM_KILLED)


def test_two_resources_may_not_share_an_id(builtins: registry.PlaybookRegistry) -> None:
    first = builtins.with_resource(resource("team-restart", namespace="team-a"))
    with pytest.raises(registry.PlaybookConflict, match="already defined by Playbook/team-a/team-restart"):
        first.with_resource(resource("team-restart", namespace="team-b"))


def test_a_resource_cannot_replace_a_builtin_by_default(builtins: registry.PlaybookRegistry) -> None:
    with pytest.raises(
        registry.PlaybookConflict, match="overriding file playbooks with resources is disabled"
    ):
        builtins.with_resource(resource("crash_loop_remediation"))
    assert builtins.without("crash_loop_remediation") is builtins


def test_with_override_allowed_a_resource_shadows_and_removal_restores() -> None:
    base = registry.PlaybookRegistry.load(allow_override=True)
    original = base.get("crash_loop_remediation")
    shadowed = base.with_resource(resource("crash_loop_remediation"))
    assert shadowed.get("crash_loop_remediation").source == "Playbook/team-a/crash_loop_remediation"
    assert shadowed.without("crash_loop_remediation").get("crash_loop_remediation") == original


def test_an_override_must_keep_the_triggers_rules_rely_on() -> None:
    base = registry.PlaybookRegistry.load(allow_override=True)
    with pytest.raises(registry.PlaybookConflict, match="missing replication_failure"):
        base.with_resource(resource("deployment_rollback", triggers=["rollout_stuck"]))


def test_deleting_a_refused_resource_keeps_the_one_holding_the_id(
    builtins: registry.PlaybookRegistry,
) -> None:
    holder = builtins.with_resource(resource("team-restart", namespace="team-a"))
    refused = resource("team-restart", namespace="team-b")
    assert holder.without(refused.id, source=refused.source) is holder
    assert "team-restart" not in holder.without("team-restart", source="Playbook/team-a/team-restart")


def test_removing_an_unknown_resource_is_a_no_op(builtins: registry.PlaybookRegistry) -> None:
    assert builtins.without("never-added") is builtins


def test_configured_directories_join_the_builtins(tmp_path: Any) -> None:
    (tmp_path / "extra.yaml").write_text(
        "id: extra\ntriggers: [alert]\n"
        "steps:\n  - {name: say, action: notify, risk: low, params: {message: hi}}\n"
    )
    assert "extra" in registry.PlaybookRegistry.load([tmp_path])
    assert registry.PlaybookRegistry.load([tmp_path], builtins=False).ids() == ["extra"]
