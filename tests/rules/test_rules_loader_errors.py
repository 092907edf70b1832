"""Broken rules files are refused with file, line and field for every problem: schema errors,
duplicate names, label selector misuse, unknown playbooks and playbooks that do not accept the
rule's event types; the playbook registry is reached only through the PlaybookLookup protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aiops import errors
from aiops.events.model import EventType
from aiops.rules import loader
from aiops.rules.model import Operator


@dataclass(frozen=True)
class FakePlaybook:
    triggers: tuple[EventType, ...]


class FakeLookup:
    """Stands in for the PlaybookRegistry: rules never import aiops.playbooks."""

    def __init__(self, **playbooks: tuple[EventType, ...]) -> None:
        self._playbooks = {pid: FakePlaybook(triggers) for pid, triggers in playbooks.items()}

    def __contains__(self, playbook_id: object) -> bool:
        return playbook_id in self._playbooks

    def get(self, playbook_id: str) -> FakePlaybook:
        return self._playbooks[playbook_id]

    def ids(self) -> list[str]:
        return sorted(self._playbooks)


LOOKUP = FakeLookup(
    restart=(EventType.CRASH_LOOP,), rollback=(EventType.ROLLOUT_STUCK, EventType.REPLICATION_FAILURE)
)

# Lines: 2 - name: crashes, 3 match, 4 types, 5 labels, 9 playbooks, 10 - restart, 12 - name: rollouts
VALID = """\
rules:
  - name: crashes
    match:
      types: [crash_loop]
      labels:
        matchExpressions:
          - {key: tier, operator: In, values: [web]}
      exclude_namespaces: [kube-system]
    playbooks:
      - restart
    cooldown_seconds: 600
  - name: rollouts
    match:
      types: [rollout_stuck, replication_failure]
      kinds: [Deployment]
    playbooks: [rollback]
"""


def problems_of(tmp_path: Path, text: str) -> list[errors.Problem]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.load_rules(path, LOOKUP)
    assert all(problem.file == str(path) for problem in caught.value.problems)
    return caught.value.problems


def located(problems: list[errors.Problem]) -> set[tuple[int | None, str]]:
    return {(p.line, p.field) for p in problems}


def test_the_reference_rules_load(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID)
    ruleset = loader.load_rules(path, LOOKUP)
    crashes, rollouts = ruleset.rules
    assert crashes.match.namespaces == ("*",) and crashes.match.min_severity == "info"
    assert crashes.match.labels is not None
    assert crashes.match.labels.match_expressions[0].operator is Operator.IN
    assert rollouts.cooldown_seconds == 0 and rollouts.match.kinds == ("Deployment",)


def test_an_unknown_playbook_is_located_at_its_list_item(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID.replace("      - restart", "      - restrat"))
    assert (problem.line, problem.field) == (10, "rules.0.playbooks.0")
    assert problem.message == "unknown playbook 'restrat'; known: restart, rollback"


def test_a_playbook_that_does_not_accept_the_type_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(
        tmp_path, VALID.replace("types: [crash_loop]", "types: [crash_loop, oom_killed]")
    )
    assert (problem.line, problem.field) == (10, "rules.0.playbooks.0")
    assert "'restart' does not accept event type(s) oom_killed (its triggers: crash_loop)" in problem.message


def test_schema_problems_are_located(tmp_path: Path) -> None:
    text = (
        VALID.replace("types: [rollout_stuck, replication_failure]", "types: [rollout_stuck, rollout_stcuk]")
        .replace("cooldown_seconds: 600", "cooldown_seconds: -1")
        .replace("    playbooks: [rollback]", "    playbook: [rollback]")
    )
    assert located(problems_of(tmp_path, text)) == {
        (11, "rules.0.cooldown_seconds"),
        (14, "rules.1.match.types.1"),
        (16, "rules.1.playbook"),
        (12, "rules.1.playbooks"),
    }


def test_problems_of_every_rule_are_reported_together(tmp_path: Path) -> None:
    text = VALID.replace("cooldown_seconds: 600", "cooldown_seconds: soon").replace("[rollback]", "[ghost]")
    assert located(problems_of(tmp_path, text)) == {
        (11, "rules.0.cooldown_seconds"),
        (16, "rules.1.playbooks.0"),
    }


def test_duplicate_rule_names_point_at_the_second(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID.replace("name: rollouts", "name: crashes"))
    assert (problem.line, problem.field) == (12, "rules.1.name")
    assert "duplicate rule name 'crashes'" in problem.message


def test_a_playbook_listed_twice_in_a_rule_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID.replace("[rollback]", "[rollback, rollback]"))
    assert (problem.line, problem.field) == (16, "rules.1.playbooks.1")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("{key: tier, operator: In, values: []}", "operator In needs a non-empty values list"),
        ("{key: tier, operator: NotIn}", "operator NotIn needs a non-empty values list"),
        ("{key: tier, operator: Exists, values: [web]}", "operator Exists takes no values"),
    ],
)
def test_label_expressions_follow_kubernetes_rules(tmp_path: Path, expression: str, message: str) -> None:
    text = VALID.replace("{key: tier, operator: In, values: [web]}", expression)
    (problem,) = problems_of(tmp_path, text)
    assert (problem.line, problem.field, problem.message) == (
        7,
        "rules.0.match.labels.matchExpressions.0.values",
        message,
    )


def test_an_unknown_operator_and_snake_case_selector_keys_are_refused(tmp_path: Path) -> None:
    text = VALID.replace("operator: In", "operator: Contains").replace(
        "matchExpressions", "match_expressions"
    )
    assert located(problems_of(tmp_path, text)) == {(6, "rules.0.match.labels.match_expressions")}
    text = VALID.replace("operator: In", "operator: Contains")
    assert located(problems_of(tmp_path, text)) == {(7, "rules.0.match.labels.matchExpressions.0.operator")}


def test_match_types_are_required_and_non_empty(tmp_path: Path) -> None:
    assert located(problems_of(tmp_path, VALID.replace("types: [crash_loop]", "types: []"))) == {
        (4, "rules.0.match.types")
    }
    assert located(problems_of(tmp_path, VALID.replace("      types: [crash_loop]\n", ""))) == {
        (3, "rules.0.match.types")
    }


def test_a_rules_file_is_one_document(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID + "---\n" + VALID)
    assert (problem.line, problem.message) == (18, "a rules file holds exactly one document")
    (problem,) = problems_of(tmp_path, "# empty\n")
    assert problem.line is None


def test_yaml_syntax_errors_are_located(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID.replace("kinds: [Deployment]", "kinds: [Deployment"))
    assert problem.line == 16 and problem.message.startswith("YAML syntax error")


def test_the_real_registry_satisfies_the_lookup_protocol() -> None:
    from aiops.playbooks import registry

    lookup: loader.PlaybookLookup = registry.PlaybookRegistry.load()
    assert "crash_loop_remediation" in lookup
