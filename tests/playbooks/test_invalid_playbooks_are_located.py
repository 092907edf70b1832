"""Broken playbook files are refused with the exact file, line and field of every problem:
bad risk values, unknown actions, writes declared low, unknown fields, duplicate step names,
broken templates, YAML syntax errors, duplicate keys and ids defined in two files."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops import errors
from aiops.playbooks import loader

# Line numbers of VALID, for reading the expectations below:
#  1 id                 7 risk: low            13 - name: restart
#  4 steps:             8 params:              14 action: delete_pod
#  5 - name: look      11 namespace            15 risk: medium
#  6 action: describe  12 name                 18 pod
VALID = """\
id: demo
description: a demo playbook
triggers: [crash_loop]
steps:
  - name: look
    action: describe
    risk: low
    params:
      api_version: v1
      kind: Pod
      namespace: "{{ event.resource.namespace }}"
      name: "{{ event.resource.name }}"
  - name: restart
    action: delete_pod
    risk: medium
    params:
      namespace: "{{ event.resource.namespace }}"
      pod: "{{ event.resource.name }}"
"""


def problems_of(tmp_path: Path, text: str, name: str = "demo.yaml") -> list[errors.Problem]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.load_playbook_file(path)
    assert all(problem.file == str(path) for problem in caught.value.problems)
    return caught.value.problems


def only(problems: list[errors.Problem]) -> tuple[int | None, str, str]:
    assert len(problems) == 1, problems
    return problems[0].line, problems[0].field, problems[0].message


def test_the_reference_document_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(VALID)
    (playbook,) = loader.load_playbook_file(path)
    assert (playbook.id, playbook.source, playbook.line) == ("demo", str(path), 1)
    assert [step.name for step in playbook.steps] == ["look", "restart"]


def test_a_bad_risk_value_is_reported_at_its_line(tmp_path: Path) -> None:
    line, field, message = only(problems_of(tmp_path, VALID.replace("risk: medium", "risk: severe")))
    assert (line, field) == (15, "steps.1.risk")
    assert "'low', 'medium' or 'high'" in message


def test_an_unknown_action_is_reported_with_the_known_ones(tmp_path: Path) -> None:
    line, field, message = only(
        problems_of(tmp_path, VALID.replace("action: delete_pod", "action: nuke_pod"))
    )
    assert (line, field) == (14, "steps.1.action")
    assert "unknown action 'nuke_pod'" in message and "delete_pod" in message


def test_a_write_declared_low_is_refused(tmp_path: Path) -> None:
    line, field, message = only(problems_of(tmp_path, VALID.replace("risk: medium", "risk: low")))
    assert (line, field) == (15, "steps.1.risk")
    assert "below the base risk of action 'delete_pod'" in message and "'medium'" in message


def test_a_misspelt_top_level_field_is_unknown_and_the_real_one_missing(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, VALID.replace("steps:", "stpes:"))
    assert {(p.line, p.field, p.message) for p in problems} == {
        (4, "stpes", "unknown field 'stpes'"),
        (1, "steps", "Field required"),
    }


def test_an_unknown_step_field_is_located(tmp_path: Path) -> None:
    text = VALID.replace("    risk: low\n", "    risk: low\n    retries: 3\n")
    assert only(problems_of(tmp_path, text)) == (8, "steps.0.retries", "unknown field 'retries'")


def test_loader_owned_fields_cannot_be_set_by_the_document(tmp_path: Path) -> None:
    assert only(problems_of(tmp_path, "source: /etc/passwd\n" + VALID)) == (
        1,
        "source",
        "unknown field 'source'",
    )


def test_duplicate_step_names_point_at_the_second(tmp_path: Path) -> None:
    line, field, message = only(problems_of(tmp_path, VALID.replace("name: restart", "name: look")))
    assert (line, field) == (13, "steps.1.name")
    assert "duplicate step name 'look'" in message


def test_a_broken_template_is_a_load_error_at_its_param(tmp_path: Path) -> None:
    text = VALID.replace('pod: "{{ event.resource.name }}"', 'pod: "{{ event.resource.name }"')
    line, field, message = only(problems_of(tmp_path, text))
    assert (line, field) == (18, "steps.1.params.pod")
    assert message.startswith("template syntax error")


def test_a_template_naming_an_unknown_variable_is_a_load_error(tmp_path: Path) -> None:
    text = VALID.replace('pod: "{{ event.resource.name }}"', 'pod: "{{ evnt.resource.name }}"')
    line, field, message = only(problems_of(tmp_path, text))
    assert (line, field) == (18, "steps.1.params.pod")
    assert "unknown name(s) evnt" in message


def test_nested_params_are_located_to_the_leaf(tmp_path: Path) -> None:
    text = VALID.replace(
        "      kind: Pod\n", "      kind: Pod\n      extra:\n        - ok\n        - '{{ oops'\n"
    )
    line, field, _ = only(problems_of(tmp_path, text))
    assert (line, field) == (13, "steps.0.params.extra.1")


def test_non_json_param_values_are_refused(tmp_path: Path) -> None:
    text = VALID.replace("      kind: Pod\n", "      kind: Pod\n      since: 2024-01-01\n")
    line, field, message = only(problems_of(tmp_path, text))
    assert (line, field) == (11, "steps.0.params.since")
    assert "not date" in message


def test_a_yaml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    line, field, message = only(
        problems_of(tmp_path, VALID.replace("    action: describe", "    action: describe: x"))
    )
    assert (line, field) == (6, "")
    assert message.startswith("YAML syntax error: mapping values are not allowed here")


def test_a_duplicate_key_is_reported_because_yaml_would_hide_it(tmp_path: Path) -> None:
    text = VALID.replace("    risk: medium\n", "    risk: medium\n    risk: high\n")
    line, field, message = only(problems_of(tmp_path, text))
    assert (line, field) == (16, "steps.1.risk")
    assert "duplicate key 'risk' (first at line 15)" in message


def test_all_problems_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("risk: medium", "risk: low").replace("action: describe", "action: peek")
    text = text.replace("id: demo", "id: Demo!")
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.field) for p in problems] == [(1, "id"), (6, "steps.0.action"), (15, "steps.1.risk")]


def test_lines_count_from_the_file_start_in_later_documents(tmp_path: Path) -> None:
    second = VALID.replace("id: demo", "id: other").replace("risk: medium", "risk: low")
    problems = problems_of(tmp_path, VALID + "---\n" + second)
    assert only(problems)[:2] == (19 + 15, "steps.1.risk")


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    line, field, message = only(problems_of(tmp_path, "# a comment\n- one\n- two\n"))
    assert (line, field, message) == (2, "", "a playbook must be a mapping, not list")


def test_the_same_id_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, VALID + "---\n" + VALID)
    assert only(problems)[:2] == (20, "id")


def test_duplicate_ids_across_two_files_name_both(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text("# the same id again\n" + VALID)
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.load_playbooks([tmp_path])
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(tmp_path / "b.yaml"), 2, "id")
    assert f"already defined at {tmp_path / 'a.yaml'}:1" in problem.message


def test_problems_of_every_file_are_collected(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(VALID.replace("risk: medium", "risk: low"))
    (tmp_path / "b.yaml").write_text(VALID.replace("id: demo", "id: other").replace("steps:", "steps: [\n"))
    (tmp_path / "notes.txt").write_text("not a playbook")
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.load_playbooks([tmp_path, tmp_path / "missing.yaml"])
    located = {(Path(p.file).name, p.field) for p in caught.value.problems}
    assert located == {("missing.yaml", ""), ("a.yml", "steps.1.risk"), ("b.yaml", "")}
    assert str(caught.value).count("\n") == 2


def test_directories_load_yaml_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(VALID.replace("id: demo", "id: second"))
    (tmp_path / "a.yml").write_text(VALID.replace("id: demo", "id: first"))
    (tmp_path / "notes.txt").write_text("not a playbook: not a *.yaml or *.yml file\n")
    assert [p.id for p in loader.load_playbooks([tmp_path])] == ["first", "second"]
