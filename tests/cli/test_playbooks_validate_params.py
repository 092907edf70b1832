"""``aiops playbooks validate`` (and loading) checks each step's params against its action's signature.

An unknown param, a missing required one and a literal of the wrong type are each reported as
``FILE:LINE: FIELD: MESSAGE`` at the param's own line (exit 2); values holding templates are only
type-checked when rendered; ``compensate`` blocks are checked too. An empty file is an error.
``Playbook`` custom resources (apiVersion/kind/metadata/spec, as in ``deploy/examples/``) are read
too, located in the file, and the operator's loading of a resource from the cluster reports the
same problems on the resource.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops import errors
from aiops.playbooks import loader
from tests.cli.helpers import run_cli
from tests.cli.test_playbooks_validate import REPO, problems, write

# Line numbers, for reading the expectations below:
#  1 id: look_then_restart        8     params:              14     risk: medium
#  5   - name: read the log       9       namespace: ...      15     params:
#  6     action: logs            10       pod: ...            16       namespace: ...
#  7     risk: low               11       tail_lines: 50      17       pod: ...
#                                12   - name: restart
#                                13     action: delete_pod
PLAYBOOK = """\
id: look_then_restart
description: read the crashed container's log, then restart the pod
triggers: [crash_loop]
steps:
  - name: read the log
    action: logs
    risk: low
    params:
      namespace: "{{ event.resource.namespace }}"
      pod: "{{ event.resource.name }}"
      tail_lines: 50
  - name: restart
    action: delete_pod
    risk: medium
    params:
      namespace: "{{ event.resource.namespace }}"
      pod: "{{ event.resource.name }}"
"""


def validate(tmp_path: Path, text: str, name: str = "pb.yaml") -> tuple[int, list[tuple[str, int, str]], str]:
    write(tmp_path, name, text)
    result = run_cli("playbooks", "validate", name, cwd=tmp_path)
    return result.returncode, problems(result), result.flat_stderr


def test_the_playbook_as_written_validates(tmp_path: Path) -> None:
    assert validate(tmp_path, PLAYBOOK)[0] == 0


@pytest.mark.parametrize(
    ("edit", "expected", "message"),
    [
        (
            ("      tail_lines: 50\n", "      tail_lines: 50\n      tail: 20\n"),
            [("pb.yaml", 12, "steps.0.params.tail")],
            "pb.yaml:12: steps.0.params.tail: unknown param 'tail' for action 'logs'; its params: "
            "namespace, pod, container, previous, tail_lines, since_seconds",
        ),
        (
            ('      pod: "{{ event.resource.name }}"\n      tail_lines: 50\n', "      tail_lines: 50\n"),
            [("pb.yaml", 8, "steps.0.params")],
            "pb.yaml:8: steps.0.params: missing required param 'pod' for action 'logs'",
        ),
        (
            ("      tail_lines: 50\n", "      tail_lines: lots\n"),
            [("pb.yaml", 11, "steps.0.params.tail_lines")],
            "pb.yaml:11: steps.0.params.tail_lines: Input should be a valid integer",
        ),
        (
            ("      tail_lines: 50\n", "      tail_lines: -1\n"),
            [("pb.yaml", 11, "steps.0.params.tail_lines")],
            "Input should be greater than or equal to 0",
        ),
        (
            ("      tail_lines: 50\n", "      tail_lines: 50\n      previous: [true]\n"),
            [("pb.yaml", 12, "steps.0.params.previous")],
            "pb.yaml:12: steps.0.params.previous: Input should be a valid boolean",
        ),
    ],
    ids=["unknown", "missing", "wrong-type", "out-of-range", "wrong-type-list"],
)
def test_params_are_checked_against_the_action_signature(
    tmp_path: Path, edit: tuple[str, str], expected: list[tuple[str, int, str]], message: str
) -> None:
    old, new = edit
    text = PLAYBOOK.replace(old, new, 1)
    code, found, stderr = validate(tmp_path, text)
    assert found == expected, stderr
    assert (code == 2) == bool(expected), stderr
    assert message in stderr


def test_literal_names_and_cross_field_rules_are_checked_when_nothing_is_a_template(tmp_path: Path) -> None:
    """All-literal params run the model's own rules: a pod name that is no DNS name, both a pod and
    a selector given; a blank literal for a required param counts as missing."""
    templated = '      namespace: "{{ event.resource.namespace }}"\n      pod: "{{ event.resource.name }}"\n'
    text = PLAYBOOK.replace(templated, "      namespace: shop\n      pod: Web_1\n", 1)
    text = text.replace(templated, "      namespace: shop\n      pod: web-1\n      selector: app=web\n", 1)
    code, found, stderr = validate(tmp_path, text)
    assert code == 2
    assert found == [("pb.yaml", 10, "steps.0.params.pod"), ("pb.yaml", 15, "steps.1.params")], stderr
    assert (
        "pb.yaml:10: steps.0.params.pod: invalid object name 'Web_1': must be a DNS subdomain name" in stderr
    )
    assert "pb.yaml:15: steps.1.params: give exactly one of pod or selector" in stderr

    blank = PLAYBOOK.replace(
        '      pod: "{{ event.resource.name }}"\n      tail_lines', '      pod: ""\n      tail_lines'
    )
    code, found, stderr = validate(tmp_path, blank)
    assert (code, found) == (2, [("pb.yaml", 10, "steps.0.params.pod")]), stderr
    assert "required param 'pod' is blank" in stderr


def test_templated_values_are_checked_when_rendered_not_before(tmp_path: Path) -> None:
    text = PLAYBOOK.replace("tail_lines: 50", 'tail_lines: "{{ event.details.restart_count * 10 }}"')
    assert validate(tmp_path, text)[0] == 0


def test_compensate_params_are_checked_too(tmp_path: Path) -> None:
    text = (
        "id: scale_carefully\ntriggers: [hpa_maxed]\nsteps:\n"
        "  - name: scale up\n    action: scale\n    risk: medium\n"
        "    params: {kind: Deployment, namespace: shop, name: web, delta: 1, max_replicas: 10}\n"
        "    compensate:\n      action: scale\n      risk: medium\n      params:\n"
        "        namespace: shop\n        name: web\n"
        "        replicas: '{{ steps[\"scale up\"].output.from }}'\n"
    )
    code, found, stderr = validate(tmp_path, text)
    assert (code, found) == (2, [("pb.yaml", 11, "steps.0.compensate.params")]), stderr
    assert "missing required param 'max_replicas' for action 'scale'" in stderr


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    for text in ("", "# nothing here yet\n---\n"):
        code, found, stderr = validate(tmp_path, text, "empty.yaml")
        assert (code, found) == (2, [("empty.yaml", 1, "<root>")]), stderr
        assert "empty file" in stderr


def test_the_example_playbook_resource_validates() -> None:
    result = run_cli("playbooks", "validate", "deploy/examples/playbook.yaml", cwd=REPO)
    assert result.returncode == 0, result
    assert result.flat_stdout == "ok: deploy/examples/playbook.yaml"


RESOURCE = """\
apiVersion: aiops.dev/v1alpha1
kind: Playbook
metadata:
  name: shop-log
  namespace: shop
spec:
  triggers: [crash_loop]
  steps:
    - name: read the log
      action: logs
      risk: low
      params:
        namespace: "{{ event.resource.namespace }}"
        pods: "{{ event.resource.name }}"
"""


def test_a_playbook_resource_in_a_file_is_located_in_the_file(tmp_path: Path) -> None:
    """The resource's problems are at their lines, with fields relative to the resource; a wrong
    apiVersion and an unknown top-level field are refused too."""
    code, found, stderr = validate(tmp_path, RESOURCE, "resource.yaml")
    assert code == 2
    assert found == [
        ("resource.yaml", 12, "spec.steps.0.params"),
        ("resource.yaml", 14, "spec.steps.0.params.pods"),
    ], stderr
    assert "unknown param 'pods' for action 'logs'" in stderr
    assert "missing required param 'pod'" in stderr

    wrong = RESOURCE.replace("aiops.dev/v1alpha1", "aiops.dev/v1").replace("pods:", "pod:") + "extra: 1\n"
    code, found, stderr = validate(tmp_path, wrong, "resource.yaml")
    assert (code, found) == (2, [("resource.yaml", 1, "apiVersion"), ("resource.yaml", 15, "extra")]), stderr
    assert "apiVersion must be 'aiops.dev/v1alpha1' for kind Playbook" in stderr


def test_loading_reports_the_same_problems(tmp_path: Path) -> None:
    """What the operator loads (files at start-up, resources from the cluster) is checked alike."""
    path = tmp_path / "pb.yaml"
    path.write_text(PLAYBOOK.replace("tail_lines: 50", "tail_lines: lots"))
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.load_playbooks([tmp_path])
    assert [(p.line, p.field) for p in caught.value.problems] == [(11, "steps.0.params.tail_lines")]

    import yaml

    body = yaml.safe_load(RESOURCE)
    with pytest.raises(errors.ValidationFailed) as caught:
        loader.playbook_from_resource(body)
    assert [(p.file, p.line, p.field) for p in caught.value.problems] == [
        ("Playbook/shop/shop-log", None, "spec.steps.0.params.pods"),
        ("Playbook/shop/shop-log", None, "spec.steps.0.params"),
    ]
    body["spec"]["steps"][0]["params"]["pod"] = body["spec"]["steps"][0]["params"].pop("pods")
    assert loader.playbook_from_resource(body).home_namespace == "shop"
