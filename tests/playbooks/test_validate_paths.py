"""``aiops playbooks validate PATH...``: playbook and rules files are told apart, every problem of
every file is reported in order, and rules are checked against the built-ins plus the given playbooks."""

from __future__ import annotations

import shutil
from pathlib import Path

from aiops.playbooks import registry, validate
from aiops.rules import loader as rules_loader

PLAYBOOK = """\
id: team_restart
triggers: [crash_loop, alert]
steps:
  - name: restart
    action: delete_pod
    risk: medium
    params: {namespace: "{{ event.resource.namespace }}", pod: "{{ event.resource.name }}"}
"""

RULES = """\
rules:
  - name: alerts
    match: {types: [alert]}
    playbooks: [team_restart]
  - name: crashes
    match: {types: [crash_loop]}
    playbooks: [crash_loop_remediation, ghost]
"""


def test_the_shipped_playbooks_and_rules_are_valid() -> None:
    paths = [registry.builtin_playbook_dir(), rules_loader.default_rules_path()]
    assert validate.validate_paths(paths) == []


def test_rules_see_builtins_and_given_playbooks(tmp_path: Path) -> None:
    (tmp_path / "team.yaml").write_text(PLAYBOOK)
    (tmp_path / "rules.yaml").write_text(RULES)
    assert validate.is_rules_file(tmp_path / "rules.yaml") and not validate.is_rules_file(
        tmp_path / "team.yaml"
    )
    (problem,) = validate.validate_paths([tmp_path])
    assert (problem.file, problem.line, problem.field) == (
        str(tmp_path / "rules.yaml"),
        7,
        "rules.1.playbooks.1",
    )
    assert "unknown playbook 'ghost'" in problem.message


def test_problems_of_all_files_are_reported_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(PLAYBOOK.replace("risk: medium", "risk: low"))
    (tmp_path / "a-rules.yaml").write_text(RULES)
    problems = validate.validate_paths([tmp_path, tmp_path / "missing.yaml"])
    assert [(Path(p.file).name, p.line, p.field) for p in problems] == [
        ("a-rules.yaml", 4, "rules.0.playbooks.0"),
        ("a-rules.yaml", 7, "rules.1.playbooks.1"),
        ("b.yaml", 6, "steps.0.risk"),
        ("missing.yaml", None, ""),
    ]


def test_an_edited_builtin_replaces_the_shipped_one_for_the_rules_check(tmp_path: Path) -> None:
    edited = (registry.builtin_playbook_dir() / "crash_loop_remediation.yaml").read_text()
    (tmp_path / "crash.yaml").write_text(edited.replace("  - crash_loop\n", "  - oom_killed\n"))
    shutil.copy(rules_loader.default_rules_path(), tmp_path / "rules.yaml")
    (problem,) = validate.validate_paths([tmp_path])
    assert problem.field == "rules.0.playbooks.0"
    assert "does not accept event type(s) crash_loop" in problem.message
