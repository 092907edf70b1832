"""``aiops playbooks validate PATH...``: the pre-merge check a user runs on playbook and rules files.

The shipped playbooks and default rules pass (exit 0); broken files exit 2 with one
``FILE:LINE: FIELD: MESSAGE`` line per problem, naming the file as given, the 1-based line of
the offending key and its dotted field path, files in order and lines in order; a rules file
is checked against the built-ins plus the playbooks given alongside it.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.helpers import CliResult, run_cli

REPO = Path(__file__).resolve().parents[2]

# Line numbers, for reading the expectations below:
#  1 id: restart_web      5 - name: look        13 - name: restart
#  4 steps:               7   risk: low         14   action: delete_pod
#                         8   params:           15   risk: medium
GOOD_PLAYBOOK = """\
id: restart_web
description: look at the pod, then restart it
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

#: ``delete_pod`` writes to the cluster: declaring it low would let it run without approval.
LOW_RISK_DELETE = GOOD_PLAYBOOK.replace("risk: medium", "risk: low")
#: A misspelt/unsupported key on step 0 (line 8), pushing ``params`` to line 9.
UNKNOWN_STEP_FIELD = GOOD_PLAYBOOK.replace("    risk: low\n", "    risk: low\n    retries: 3\n", 1)
#: An unknown top-level key (line 3).
UNKNOWN_TOP_FIELD = GOOD_PLAYBOOK.replace("triggers:", "owner: team-shop\ntriggers:", 1)

RULES_FOR_GOOD_PLAYBOOK = """\
rules:
  - name: restart crash-looping web pods
    match:
      types: [crash_loop]
      namespaces: [shop]
    playbooks: [restart_web]
    cooldown_seconds: 600
"""

PROBLEM_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+): (?P<field>\S+): (?P<message>.*)$")


def problems(result: CliResult) -> list[tuple[str, int, str]]:
    """``(file, line, field)`` of every ``FILE:LINE: FIELD: MESSAGE`` line on stderr, in order."""
    found = []
    for text in result.stderr.splitlines():
        match = PROBLEM_LINE.match(text)
        if match:
            found.append((match["file"], int(match["line"]), match["field"]))
    return found


def write(directory: Path, name: str, text: str) -> str:
    (directory / name).write_text(text)
    return name


def test_the_shipped_playbooks_and_default_rules_validate() -> None:
    result = run_cli("playbooks", "validate", "playbooks", "aiops/defaults/rules.yaml", cwd=REPO)

    assert result.returncode == 0, result
    assert result.stderr == ""
    assert result.flat_stdout == "ok: playbooks, aiops/defaults/rules.yaml"


def test_the_packaged_copies_of_the_playbooks_validate_too() -> None:
    result = run_cli("playbooks", "validate", str(REPO / "aiops" / "defaults" / "playbooks"))

    assert result.returncode == 0, result


def test_a_good_playbook_with_rules_routing_to_it_validates(tmp_path: Path) -> None:
    playbook = write(tmp_path, "restart_web.yaml", GOOD_PLAYBOOK)
    rules = write(tmp_path, "rules.yaml", RULES_FOR_GOOD_PLAYBOOK)

    result = run_cli("playbooks", "validate", playbook, rules, cwd=tmp_path)

    assert result.returncode == 0, result
    assert result.flat_stdout == "ok: restart_web.yaml, rules.yaml"


def test_a_write_declared_low_risk_is_located_at_its_risk_line(tmp_path: Path) -> None:
    name = write(tmp_path, "low_risk.yaml", LOW_RISK_DELETE)

    result = run_cli("playbooks", "validate", name, cwd=tmp_path)

    assert result.returncode == 2, result
    assert result.stdout == ""
    assert problems(result) == [("low_risk.yaml", 15, "steps.1.risk")]
    assert (
        "low_risk.yaml:15: steps.1.risk: risk 'low' is below the base risk of action 'delete_pod'"
        in result.flat_stderr
    )
    assert "declare 'medium' or higher" in result.flat_stderr
    assert result.flat_stderr.endswith("error: 1 problem(s) found")


def test_unknown_fields_are_located_at_their_own_lines(tmp_path: Path) -> None:
    step = write(tmp_path, "step_field.yaml", UNKNOWN_STEP_FIELD)
    top = write(tmp_path, "top_field.yaml", UNKNOWN_TOP_FIELD)

    result = run_cli("playbooks", "validate", top, step, cwd=tmp_path)

    assert result.returncode == 2, result
    # Sorted by file, then line, whatever the order on the command line.
    assert problems(result) == [
        ("step_field.yaml", 8, "steps.0.retries"),
        ("top_field.yaml", 3, "owner"),
    ]
    assert "step_field.yaml:8: steps.0.retries: unknown field 'retries'" in result.stderr
    assert "top_field.yaml:3: owner: unknown field 'owner'" in result.stderr
    assert result.flat_stderr.endswith("error: 2 problem(s) found")


def test_every_problem_of_every_file_in_a_directory_is_reported(tmp_path: Path) -> None:
    pbdir = tmp_path / "pb"
    pbdir.mkdir()
    write(pbdir, "a_low_risk.yaml", LOW_RISK_DELETE.replace("id: restart_web", "id: pb_a"))
    write(pbdir, "b_fields.yaml", UNKNOWN_TOP_FIELD.replace("id: restart_web", "id: pb_b"))
    write(pbdir, "c_good.yaml", GOOD_PLAYBOOK.replace("id: restart_web", "id: pb_c"))

    result = run_cli("playbooks", "validate", "pb", cwd=tmp_path)

    assert result.returncode == 2, result
    assert problems(result) == [("pb/a_low_risk.yaml", 15, "steps.1.risk"), ("pb/b_fields.yaml", 3, "owner")]


def test_rules_naming_an_unknown_playbook_are_located(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", RULES_FOR_GOOD_PLAYBOOK.replace("[restart_web]", "[restart_wbe]"))

    result = run_cli("playbooks", "validate", rules, cwd=tmp_path)

    assert result.returncode == 2, result
    assert problems(result) == [("rules.yaml", 6, "rules.0.playbooks.0")]
    assert "rules.yaml:6: rules.0.playbooks.0: unknown playbook 'restart_wbe'" in result.flat_stderr
    assert "crash_loop_remediation" in result.flat_stderr, "the known ids are listed"


def test_a_missing_path_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    result = run_cli("playbooks", "validate", "nope.yaml", cwd=tmp_path)

    assert result.returncode == 2, result
    assert "nope.yaml: <root>: no such file or directory" in result.flat_stderr
    assert "Traceback" not in result.stderr


def test_each_problem_is_one_line_however_narrow_the_output(tmp_path: Path) -> None:
    name = write(tmp_path, "low_risk.yaml", LOW_RISK_DELETE)

    result = run_cli("playbooks", "validate", name, cwd=tmp_path)

    (line,) = [text for text in result.stderr.splitlines() if text.startswith("low_risk.yaml:15:")]
    assert line.endswith("declare 'medium' or higher"), result
