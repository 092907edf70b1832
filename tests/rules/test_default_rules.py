"""The shipped rules.yaml loads against the built-in playbooks and routes each sample event to the
intended playbook, and only there (kube-system excluded, kinds filtered, cooldowns set)."""

from __future__ import annotations

import pytest

from aiops.events.model import ClusterEvent, EventSource, EventType
from aiops.playbooks import registry
from aiops.rules import engine, loader
from tests.playbooks import sample_events


@pytest.fixture(scope="module")
def rule_engine() -> engine.RuleEngine:
    return engine.RuleEngine(loader.load_rules(loader.default_rules_path(), registry.PlaybookRegistry.load()))


def routed(rule_engine: engine.RuleEngine, event: ClusterEvent) -> list[str]:
    return [match.playbook_id for match in rule_engine.match(event)]


@pytest.mark.parametrize(
    ("event", "playbook_id"),
    [
        (sample_events.pod_event(EventType.CRASH_LOOP), "crash_loop_remediation"),
        (sample_events.pod_event(EventType.CRASH_LOOP, owner_kind=None), "crash_loop_remediation"),
        (sample_events.pod_event(EventType.OOM_KILLED), "oom_kill_remediation"),
        (sample_events.pod_event(EventType.OOM_KILLED, owner_kind="StatefulSet"), "oom_kill_remediation"),
        (sample_events.deployment_event(EventType.ROLLOUT_STUCK), "deployment_rollback"),
        (sample_events.deployment_event(EventType.REPLICATION_FAILURE), "deployment_rollback"),
        (sample_events.replicaset_event(), "deployment_rollback"),
        (sample_events.node_event(), "node_not_ready_remediation"),
        (sample_events.hpa_event(), "scale_up_on_load"),
        (
            sample_events.pod_event(EventType.CRASH_LOOP, source=EventSource.ALERTMANAGER),
            "crash_loop_remediation",
        ),
    ],
)
def test_each_event_reaches_its_playbook(
    rule_engine: engine.RuleEngine, event: ClusterEvent, playbook_id: str
) -> None:
    assert routed(rule_engine, event) == [playbook_id]


@pytest.mark.parametrize(
    "event",
    [
        sample_events.pod_event(EventType.CRASH_LOOP, namespace="kube-system"),
        sample_events.hpa_event(namespace="kube-system"),
        sample_events.pod_event(EventType.OOM_KILLED, owner_kind=None),  # a bare pod cannot be patched
        sample_events.pod_event(EventType.OOM_KILLED, owner_kind="Job"),
        sample_events.deployment_event(
            EventType.ROLLOUT_STUCK, kind="StatefulSet"
        ),  # rollback is Deployment-only
        sample_events.pod_event(EventType.IMAGE_PULL_BACKOFF),  # no remediation ships for it
    ],
)
def test_events_without_a_safe_remediation_start_nothing(
    rule_engine: engine.RuleEngine, event: ClusterEvent
) -> None:
    assert routed(rule_engine, event) == []


def test_every_rule_has_a_cooldown(rule_engine: engine.RuleEngine) -> None:
    assert all(rule.cooldown_seconds >= 900 for rule in rule_engine.ruleset.rules)


def test_every_builtin_is_routed_by_some_rule(rule_engine: engine.RuleEngine) -> None:
    routed_ids = {pid for rule in rule_engine.ruleset.rules for pid in rule.playbooks}
    assert routed_ids == set(registry.PlaybookRegistry.load().ids())
