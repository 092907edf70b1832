"""The five built-in playbooks load from the installed package, declare sane risks, and render
their params for the events they are triggered by (what the actions would actually receive)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from aiops.actions import catalog
from aiops.events.model import ClusterEvent, EventType
from aiops.playbooks import loader, registry, templating
from aiops.playbooks.model import Playbook
from tests.playbooks import sample_events

REPO_PLAYBOOKS = Path(__file__).parents[2] / "playbooks"

BUILTIN_IDS = {
    "crash_loop_remediation",
    "oom_kill_remediation",
    "deployment_rollback",
    "node_not_ready_remediation",
    "scale_up_on_load",
}

#: One realistic event per trigger of the built-ins.
EVENTS: dict[EventType, ClusterEvent] = {
    EventType.CRASH_LOOP: sample_events.pod_event(EventType.CRASH_LOOP),
    EventType.OOM_KILLED: sample_events.pod_event(EventType.OOM_KILLED),
    EventType.ROLLOUT_STUCK: sample_events.deployment_event(EventType.ROLLOUT_STUCK),
    EventType.REPLICATION_FAILURE: sample_events.replicaset_event(),
    EventType.NODE_NOT_READY: sample_events.node_event(),
    EventType.HPA_MAXED: sample_events.hpa_event(),
}


@pytest.fixture(scope="module")
def builtins() -> registry.PlaybookRegistry:
    return registry.PlaybookRegistry.load()


def rendered(playbook: Playbook, event: ClusterEvent) -> dict[str, dict[str, Any]]:
    context = templating.template_context(event)
    return {step.name: templating.render_params(step.params, context) for step in playbook.steps}


def test_the_package_resource_directory_is_the_repository_playbooks_directory() -> None:
    package_dir = resources.files("aiops") / "defaults" / "playbooks"
    assert package_dir.is_dir()
    assert Path(str(package_dir)).resolve() == REPO_PLAYBOOKS.resolve()
    assert registry.builtin_playbook_dir().resolve() == REPO_PLAYBOOKS.resolve()


def test_all_builtins_load_and_validate(builtins: registry.PlaybookRegistry) -> None:
    assert set(builtins.ids()) == BUILTIN_IDS
    for playbook in builtins:
        assert playbook.source.endswith(f"{playbook.id}.yaml")
        assert playbook.line is not None and playbook.line >= 1
        assert playbook.description


def test_each_file_holds_the_playbook_named_after_it() -> None:
    for path in sorted(REPO_PLAYBOOKS.glob("*.yaml")):
        (playbook,) = loader.load_playbook_file(path)
        assert playbook.id == path.stem


@pytest.mark.parametrize("playbook_id", sorted(BUILTIN_IDS))
def test_every_trigger_renders_every_step(builtins: registry.PlaybookRegistry, playbook_id: str) -> None:
    playbook = builtins.get(playbook_id)
    for trigger in playbook.triggers:
        params = rendered(playbook, EVENTS[trigger])
        for step in playbook.steps:
            assert all(value not in ("None", "") for value in params[step.name].values()), step.name


def test_crash_loop_collects_evidence_then_asks_to_delete_the_pod(
    builtins: registry.PlaybookRegistry,
) -> None:
    playbook = builtins.get("crash_loop_remediation")
    assert [(s.action, s.risk) for s in playbook.steps] == [
        ("describe", catalog.Risk.LOW),
        ("logs", catalog.Risk.LOW),
        ("delete_pod", catalog.Risk.MEDIUM),
    ]
    params = rendered(playbook, EVENTS[EventType.CRASH_LOOP])
    assert params["describe the pod"] == {
        "api_version": "v1",
        "kind": "Pod",
        "namespace": "shop",
        "name": "web-7d4f9-abcde",
    }
    assert params["read the crashed container's log"] == {
        "namespace": "shop",
        "pod": "web-7d4f9-abcde",
        "container": "app",
        "previous": True,
        "tail_lines": 200,
    }
    assert params["delete the pod so its controller recreates it"] == {
        "namespace": "shop",
        "pod": "web-7d4f9-abcde",
    }


def test_a_missing_or_null_container_is_omitted_so_the_action_default_applies(
    builtins: registry.PlaybookRegistry,
) -> None:
    playbook = builtins.get("crash_loop_remediation")
    for details in ({"restart_count": 3}, {"container": None}):
        event = sample_events.pod_event(details=details)
        assert "container" not in rendered(playbook, event)["read the crashed container's log"]


def test_oom_patches_the_owning_workload_by_half_again(builtins: registry.PlaybookRegistry) -> None:
    playbook = builtins.get("oom_kill_remediation")
    params = rendered(playbook, EVENTS[EventType.OOM_KILLED])["raise the memory limit by half"]
    assert params == {
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "container": "app",
        "memory_factor": 1.5,
    }
    assert playbook.step("raise the memory limit by half").risk is catalog.Risk.HIGH


def test_oom_without_a_container_name_fails_to_render_rather_than_guess(
    builtins: registry.PlaybookRegistry,
) -> None:
    playbook = builtins.get("oom_kill_remediation")
    event = sample_events.pod_event(EventType.OOM_KILLED, details={"exit_code": 137})
    with pytest.raises(templating.TemplateError, match=r"params\.container"):
        rendered(playbook, event)


def test_rollback_targets_the_deployment_for_both_triggers(builtins: registry.PlaybookRegistry) -> None:
    playbook = builtins.get("deployment_rollback")
    assert set(playbook.triggers) == {EventType.ROLLOUT_STUCK, EventType.REPLICATION_FAILURE}
    for trigger in playbook.triggers:
        params = rendered(playbook, EVENTS[trigger])
        assert params["list the rollout history"] == {"namespace": "shop", "deployment": "api"}
        assert params["roll back to the previous revision"] == {"namespace": "shop", "name": "api"}


def test_node_playbook_describes_cordons_then_drains(builtins: registry.PlaybookRegistry) -> None:
    playbook = builtins.get("node_not_ready_remediation")
    assert [(s.action, s.risk) for s in playbook.steps] == [
        ("describe", catalog.Risk.LOW),
        ("cordon", catalog.Risk.MEDIUM),
        ("drain", catalog.Risk.HIGH),
    ]
    params = rendered(playbook, EVENTS[EventType.NODE_NOT_READY])
    assert params["describe the node"] == {"api_version": "v1", "kind": "Node", "name": "worker-2"}
    assert params["drain the node"] == {
        "node": "worker-2",
        "ignore_daemonsets": True,
        "delete_emptydir_data": False,
        "timeout_seconds": 600,
    }
    assert playbook.step("drain the node").timeout_seconds > 600


def test_hpa_playbook_raises_the_autoscaler_ceiling_behind_approval(
    builtins: registry.PlaybookRegistry,
) -> None:
    playbook = builtins.get("scale_up_on_load")
    assert [(s.action, s.risk) for s in playbook.steps] == [
        ("describe", catalog.Risk.LOW),
        ("events", catalog.Risk.LOW),
        ("scale", catalog.Risk.MEDIUM),
    ]
    params = rendered(playbook, EVENTS[EventType.HPA_MAXED])["raise the autoscaler's ceiling by 2"]
    # The HPA itself is scaled (its maxReplicas), never the workload it owns; bounded at 2x.
    assert params == {
        "kind": "HorizontalPodAutoscaler",
        "namespace": "shop",
        "name": "web",
        "delta": 2,
        "max_replicas": "20",
    }


def test_every_write_step_waits_for_approval(builtins: registry.PlaybookRegistry) -> None:
    for playbook in builtins:
        for step in playbook.steps:
            if catalog.CATALOG[step.action].writes:
                assert step.risk is not catalog.Risk.LOW
                assert step.on_failure == "abort", f"{playbook.id}: {step.name}"
