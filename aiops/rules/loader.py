"""Load ``rules.yaml`` and check it against the playbooks it routes to, with located errors.

Fed by: the default rules shipped in ``aiops/defaults/rules.yaml`` (see :func:`default_rules_path`)
or an operator-supplied file, plus the playbook registry. Consumed by: the operator startup (which
builds :class:`aiops.rules.engine.RuleEngine` from the result) and ``aiops playbooks validate``.

The registry arrives as a :class:`PlaybookLookup` protocol: rules sit below playbooks in the
layering, so they never import :mod:`aiops.playbooks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from aiops import errors, yamlsource
from aiops.events.model import EventType
from aiops.rules.model import Rule, RuleSet

__all__ = ["PlaybookLookup", "default_rules_path", "load_rules", "parse_rules"]


class _Triggered(Protocol):
    @property
    def triggers(self) -> Sequence[EventType]: ...


class PlaybookLookup(Protocol):
    """What rules need of the playbook registry: membership, and a playbook's ``triggers``."""

    def __contains__(self, playbook_id: object, /) -> bool: ...

    def get(self, playbook_id: str, /) -> _Triggered: ...

    def ids(self) -> list[str]: ...


def default_rules_path() -> Path:
    """``aiops/defaults/rules.yaml`` inside the installed package."""
    return Path(str(resources.files("aiops").joinpath("defaults", "rules.yaml")))


def load_rules(path: Path, registry: PlaybookLookup) -> RuleSet:
    """The rules in ``path``, validated against ``registry``.

    Raises :class:`aiops.errors.ValidationFailed` with every problem, each with file, line and
    field: YAML syntax, schema (``rules.0.match.types.1``), duplicate names, unknown playbook ids
    and trigger mismatches (``rules.2.playbooks.0``).
    """
    return parse_rules(yamlsource.read_documents(path), file=str(path), registry=registry)


def parse_rules(documents: Sequence[yamlsource.Document], *, file: str, registry: PlaybookLookup) -> RuleSet:
    """As :func:`load_rules`, from documents already read by :mod:`aiops.yamlsource`."""
    if len(documents) != 1:
        line = documents[1].line if documents else None
        raise errors.ValidationFailed(
            [errors.Problem(file, line, "", "a rules file holds exactly one document")]
        )
    document = documents[0]
    problems = list(document.problems)
    ruleset: RuleSet | None = None
    try:
        ruleset = RuleSet.model_validate(document.data)
    except ValidationError as exc:
        problems += yamlsource.problems_from_error(exc, file=file, node=document.node)
    problems += _routing_problems(document, file=file, registry=registry)
    if problems or ruleset is None:
        raise errors.ValidationFailed(problems)
    return ruleset


def _routing_problems(
    document: yamlsource.Document, *, file: str, registry: PlaybookLookup
) -> list[errors.Problem]:
    """Unknown playbooks and trigger mismatches of every rule that is itself well-formed."""
    raw_rules = document.data.get("rules") if isinstance(document.data, Mapping) else None
    if not isinstance(raw_rules, list):
        return []
    problems: list[errors.Problem] = []
    for index, raw in enumerate(raw_rules):
        try:
            rule = Rule.model_validate(raw)
        except ValidationError:
            continue  # reported by the RuleSet validation
        for position, playbook_id in enumerate(rule.playbooks):
            loc = ("rules", index, "playbooks", position)
            message = _routing_problem(rule, playbook_id, registry)
            if message is not None:
                line = yamlsource.line_at(document.node, loc)
                problems.append(errors.Problem(file, line, yamlsource.field_path(loc), message))
    return problems


def _routing_problem(rule: Rule, playbook_id: str, registry: PlaybookLookup) -> str | None:
    if playbook_id not in registry:
        return f"unknown playbook {playbook_id!r}; known: {', '.join(registry.ids()) or 'none'}"
    triggers = registry.get(playbook_id).triggers
    refused = [t.value for t in rule.match.types if t not in triggers]
    if refused:
        accepts = ", ".join(t.value for t in triggers)
        return (
            f"playbook {playbook_id!r} does not accept event type(s) {', '.join(refused)} "
            f"(its triggers: {accepts}); add them to its triggers or narrow match.types"
        )
    return None
