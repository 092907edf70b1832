"""RuleEngine.match semantics: namespace globs (and cluster-scoped subjects), kinds, severity,
sources, Kubernetes label selectors (matchLabels and every matchExpressions operator), first rule
wins for a playbook routed twice, cooldown keys, and purity."""

from __future__ import annotations

from typing import Any

import pytest

from aiops.events.model import ClusterEvent, EventSource, EventType, Severity
from aiops.rules import engine
from aiops.rules.model import LabelSelector, RuleSet
from tests.playbooks import sample_events


def rules(*specs: dict[str, Any]) -> engine.RuleEngine:
    """An engine from rule specs; each spec defaults to crash_loop → ``p`` named ``r<index>``."""
    built = []
    for index, spec in enumerate(specs):
        match = {"types": ["crash_loop"], **spec.pop("match", {})}
        built.append({"name": f"r{index}", "playbooks": ["p"], **spec, "match": match})
    return engine.RuleEngine(RuleSet.model_validate({"rules": built}))


def matches(rule_engine: engine.RuleEngine, event: ClusterEvent) -> list[tuple[str, str, int]]:
    return [(m.rule_name, m.playbook_id, m.cooldown_seconds) for m in rule_engine.match(event)]


def hits(match: dict[str, Any], event: ClusterEvent) -> bool:
    return bool(rules({"match": match}).match(event))


POD = sample_events.pod_event()


def test_the_type_must_be_listed() -> None:
    assert hits({}, POD)
    assert not hits({}, sample_events.pod_event(EventType.OOM_KILLED))


@pytest.mark.parametrize(
    ("namespaces", "exclude", "namespace", "expected"),
    [
        (["*"], [], "shop", True),
        (["shop"], [], "shop", True),
        (["sh*"], [], "shop", True),
        (["team-?"], [], "team-a", True),
        (["team-[ab]"], [], "team-c", False),
        (["prod-*", "shop"], [], "shop", True),
        (["prod-*"], [], "shop", False),
        (["Shop"], [], "shop", False),  # case-sensitive, like Kubernetes names
        (["*"], ["kube-*"], "kube-system", False),
        (["*"], ["kube-system"], "kube-public", True),
        (["shop"], ["shop"], "shop", False),  # exclusion wins
    ],
)
def test_namespace_globs(namespaces: list[str], exclude: list[str], namespace: str, expected: bool) -> None:
    match = {"namespaces": namespaces, "exclude_namespaces": exclude}
    assert hits(match, sample_events.pod_event(namespace=namespace)) is expected


def test_cluster_scoped_subjects_match_only_the_any_namespace_glob() -> None:
    node = sample_events.node_event()
    base = {"types": ["node_not_ready"]}
    assert hits(base, node)
    assert hits({**base, "namespaces": ["prod-*", "*"]}, node)
    assert not hits({**base, "namespaces": ["prod-*"]}, node)
    assert hits({**base, "exclude_namespaces": ["*"]}, node)  # never excluded by namespace


def test_namespaces_are_the_subjects() -> None:
    event = sample_events.hpa_event(namespace="shop")
    assert hits({"types": ["hpa_maxed"], "namespaces": ["shop"]}, event)


def test_kinds_filter_the_subject_not_the_resource() -> None:
    assert hits({"kinds": ["Deployment"]}, POD)
    assert not hits({"kinds": ["Pod"]}, POD)
    assert hits({"kinds": ["Pod"]}, sample_events.pod_event(owner_kind=None))


@pytest.mark.parametrize(
    ("minimum", "severity", "expected"),
    [
        ("info", Severity.INFO, True),
        ("warning", Severity.INFO, False),
        ("warning", Severity.WARNING, True),
        ("warning", Severity.CRITICAL, True),
        ("critical", Severity.WARNING, False),
    ],
)
def test_min_severity(minimum: str, severity: Severity, expected: bool) -> None:
    assert hits({"min_severity": minimum}, sample_events.pod_event(severity=severity)) is expected


def test_sources() -> None:
    alert = sample_events.pod_event(source=EventSource.ALERTMANAGER)
    assert hits({}, alert)
    assert not hits({"sources": ["kubernetes"]}, alert)
    assert hits({"sources": ["alertmanager"]}, alert)


LABELS = {"app": "web", "tier": "frontend", "canary": ""}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "web", "tier": "backend"}}, False),
        ({"matchLabels": {"missing": "x"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "edge"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "In", "values": ["x"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["backend"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend"]}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "missing", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["frontend"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            False,  # all requirements are ANDed
        ),
    ],
)
def test_label_selectors_follow_kubernetes_semantics(selector: dict[str, Any], expected: bool) -> None:
    assert engine.selector_matches(LabelSelector.model_validate(selector), LABELS) is expected
    assert hits({"labels": selector}, sample_events.pod_event(labels=LABELS)) is expected


def test_no_selector_matches_unlabelled_events() -> None:
    assert engine.selector_matches(None, {})
    assert hits({}, sample_events.pod_event(labels={}))


def test_a_playbook_routed_by_two_rules_appears_once_with_the_first_rule() -> None:
    rule_engine = rules(
        {"match": {"namespaces": ["shop"]}, "playbooks": ["narrow", "common"], "cooldown_seconds": 60},
        {"playbooks": ["common", "broad"], "cooldown_seconds": 600},
        {"match": {"types": ["oom_killed"]}, "playbooks": ["other"]},
    )
    assert matches(rule_engine, POD) == [("r0", "narrow", 60), ("r0", "common", 60), ("r1", "broad", 600)]
    elsewhere = sample_events.pod_event(namespace="blog")
    assert matches(rule_engine, elsewhere) == [("r1", "common", 600), ("r1", "broad", 600)]


def test_no_rules_match_nothing() -> None:
    assert engine.RuleEngine(RuleSet()).match(POD) == []


def test_matching_is_pure() -> None:
    rule_engine = rules({"match": {"labels": {"matchLabels": {"app": "web"}}}})
    before = POD.model_dump()
    assert rule_engine.match(POD) == rule_engine.match(POD)
    assert POD.model_dump() == before


def test_cooldowns_are_per_rule_and_subject() -> None:
    (crash,) = rules({}).match(POD)
    other_pod_same_deployment = sample_events.pod_event().model_copy(
        update={"resource": POD.resource.model_copy(update={"name": "web-7d4f9-zzzzz"})}
    )
    assert engine.cooldown_key(crash, POD) == "r0|Deployment/shop/web"
    assert engine.cooldown_key(crash, other_pod_same_deployment) == engine.cooldown_key(crash, POD)
    assert engine.cooldown_key(crash, sample_events.node_event()) == "r0|Node/-/worker-2"
