"""RuleEngine: which playbooks an event should start, by the rules; pure and compiled once.

Fed by: a validated :class:`aiops.rules.model.RuleSet` (from :mod:`aiops.rules.loader`) at startup,
then one :class:`aiops.events.model.ClusterEvent` per call. Consumed by: the pipeline, which starts
a run for each :class:`RuleMatch` whose cooldown (keyed by :func:`cooldown_key`) has passed.

Matching semantics, all conditions ANDed:

* ``types``: the event type is listed.
* ``namespaces`` / ``exclude_namespaces``: case-sensitive ``fnmatch`` globs on the *subject's*
  namespace; the namespace must match an include glob and no exclude glob. A cluster-scoped subject
  (namespace ``None``: a Node, a PersistentVolume) matches only when ``namespaces`` contains ``"*"``
  (the default) and is never excluded by ``exclude_namespaces``.
* ``kinds``: the subject's kind (the owning workload for a pod, else the resource) is listed.
* ``labels``: the Kubernetes LabelSelector matches ``event.labels``.
* ``min_severity``: the event's severity is at least this; ``sources``: the event's source is listed.

Several rules may route the same playbook: it is returned once, with the first rule's name and
cooldown (rules are in file order). Result order: by rule, then by the rule's playbook order.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aiops.events.model import ClusterEvent, EventSource, EventType, severity_rank
from aiops.rules.model import LabelSelector, Operator, Rule, RuleSet

__all__ = ["RuleEngine", "RuleMatch", "cooldown_key", "selector_matches"]

LabelPredicate = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class RuleMatch:
    """One playbook to start for an event, and the rule that asked for it."""

    rule_name: str
    playbook_id: str
    cooldown_seconds: int


def cooldown_key(match: RuleMatch, event: ClusterEvent) -> str:
    """``rule name|Kind/namespace/name`` of the subject: one cooldown per rule and incident subject.

    Keyed by the subject, not the dedup key, so a rule routing two types (``rollout_stuck`` and
    ``replication_failure``) to one Deployment fires once per cooldown, not once per type.
    """
    return f"{match.rule_name}|{event.subject.key}"


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector`` (``None`` or empty matches everything)."""
    return _compile_selector(selector)(labels)


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    include: re.Pattern[str]
    any_namespace: bool
    exclude: re.Pattern[str] | None
    kinds: frozenset[str] | None
    sources: frozenset[EventSource]
    min_rank: int
    labels: LabelPredicate

    def accepts(self, event: ClusterEvent) -> bool:
        subject = event.subject
        return (
            event.source in self.sources
            and severity_rank(event.severity) >= self.min_rank
            and (self.kinds is None or subject.kind in self.kinds)
            and self._namespace_ok(subject.namespace)
            and self.labels(event.labels)
        )

    def _namespace_ok(self, namespace: str | None) -> bool:
        if namespace is None:
            return self.any_namespace
        if self.exclude is not None and self.exclude.match(namespace):
            return False
        return self.any_namespace or self.include.match(namespace) is not None


class RuleEngine:
    """Matches events against a :class:`RuleSet` compiled once (globs to regexes, rules by type)."""

    def __init__(self, ruleset: RuleSet) -> None:
        self._ruleset = ruleset
        by_type: dict[EventType, list[_CompiledRule]] = {}
        for rule in ruleset.rules:
            compiled = _compile(rule)
            for event_type in rule.match.types:
                by_type.setdefault(event_type, []).append(compiled)
        self._by_type = {event_type: tuple(rules) for event_type, rules in by_type.items()}

    @property
    def ruleset(self) -> RuleSet:
        """The rules this engine was compiled from."""
        return self._ruleset

    def match(self, event: ClusterEvent) -> list[RuleMatch]:
        """The playbooks ``event`` should start, each once, first rule first (see module docstring)."""
        matches: list[RuleMatch] = []
        seen: set[str] = set()
        for compiled in self._by_type.get(event.type, ()):
            if not compiled.accepts(event):
                continue
            for playbook_id in compiled.rule.playbooks:
                if playbook_id not in seen:
                    seen.add(playbook_id)
                    matches.append(RuleMatch(compiled.rule.name, playbook_id, compiled.rule.cooldown_seconds))
        return matches


def _compile(rule: Rule) -> _CompiledRule:
    match = rule.match
    return _CompiledRule(
        rule=rule,
        include=_globs(match.namespaces) or re.compile(r"(?!)"),
        any_namespace="*" in match.namespaces,
        exclude=_globs(match.exclude_namespaces),
        kinds=frozenset(match.kinds) if match.kinds is not None else None,
        sources=frozenset(match.sources),
        min_rank=severity_rank(match.min_severity),
        labels=_compile_selector(match.labels),
    )


def _globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any of the fnmatch ``patterns`` (case-sensitive), or ``None`` for none."""
    translated = [fnmatch.translate(pattern) for pattern in patterns]
    return re.compile("|".join(translated)) if translated else None


def _compile_selector(selector: LabelSelector | None) -> LabelPredicate:
    if selector is None:
        return _always
    checks = [_equals(key, value) for key, value in selector.match_labels.items()]
    checks += [_requirement(r.operator, r.key, frozenset(r.values)) for r in selector.match_expressions]
    return lambda labels: all(check(labels) for check in checks)


def _always(labels: Mapping[str, str]) -> bool:
    return True


def _equals(key: str, value: str) -> LabelPredicate:
    return lambda labels: labels.get(key) == value


def _requirement(operator: Operator, key: str, values: frozenset[str]) -> LabelPredicate:
    """One ``matchExpressions`` entry; ``NotIn`` also matches when the key is absent (as in Kubernetes)."""
    if operator is Operator.IN:
        return lambda labels: labels.get(key) in values
    if operator is Operator.NOT_IN:
        return lambda labels: labels.get(key) not in values
    if operator is Operator.EXISTS:
        return lambda labels: key in labels
    return lambda labels: key not in labels
