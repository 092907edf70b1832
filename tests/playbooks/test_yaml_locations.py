"""aiops.yamlsource maps pydantic error locations onto YAML lines: keys, list items, missing fields,
validator-supplied sub-paths, syntax errors, duplicate keys, empty and recursive documents."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from aiops import errors, yamlsource

TEXT = """\
# comment
name: x
items:
  - a: 1
    b: 2
  - a: 3
nested:
  deeper:
    leaf: true
"""


def test_lines_of_keys_items_and_missing_fields() -> None:
    (document,) = yamlsource.parse_documents(TEXT, file="t.yaml")
    assert document.line == 2
    assert yamlsource.line_at(document.node, ()) == 2
    assert yamlsource.line_at(document.node, ("name",)) == 2
    assert yamlsource.line_at(document.node, ("items", 0)) == 4
    assert yamlsource.line_at(document.node, ("items", 0, "b")) == 5
    assert yamlsource.line_at(document.node, ("items", 1)) == 6
    assert yamlsource.line_at(document.node, ("items", 1, "missing")) == 6
    assert yamlsource.line_at(document.node, ("items", 9)) == 3
    assert yamlsource.line_at(document.node, ("nested", "deeper", "leaf")) == 9
    assert yamlsource.line_at(None, ("name",)) is None


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int
    b: int = 0


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: int
    items: list[Item]
    nested: dict[str, dict[str, bool]]

    @field_validator("items")
    @classmethod
    def _second_a_small(cls, items: list[Item]) -> list[Item]:
        if len(items) > 1 and items[1].a > 2:
            raise yamlsource.located_error("too big", 1, "a")
        return items


def test_validation_errors_become_located_problems() -> None:
    (document,) = yamlsource.parse_documents(TEXT, file="t.yaml")
    with pytest.raises(ValidationError) as caught:
        Doc.model_validate(document.data)
    problems = yamlsource.problems_from_error(
        caught.value, file="t.yaml", node=document.node, prefix=("spec",)
    )
    assert [(p.line, p.field, p.message) for p in problems] == [
        (2, "spec.name", "Input should be a valid integer, unable to parse string as an integer"),
        (6, "spec.items.1.a", "too big"),
    ]
    assert str(problems[1]) == "t.yaml:6: spec.items.1.a: too big"


def test_a_syntax_error_is_one_problem_at_its_line() -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        yamlsource.parse_documents("a: 1\nb: [1, 2\nc: 3\n", file="t.yaml")
    (problem,) = caught.value.problems
    assert problem.file == "t.yaml" and problem.line == 3 and problem.message.startswith("YAML syntax error")


def test_duplicate_keys_are_problems_of_the_document() -> None:
    (document,) = yamlsource.parse_documents("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", file="t.yaml")
    assert document.data == {"a": 3, "b": {"c": 2}}
    assert [(p.line, p.field) for p in document.problems] == [(4, "b.c"), (5, "a")]


def test_empty_documents_are_skipped() -> None:
    documents = yamlsource.parse_documents("---\n# nothing\n---\na: 1\n---\n", file="t.yaml")
    assert [d.data for d in documents] == [{"a": 1}]
    assert documents[0].line == 4


def test_recursive_aliases_do_not_hang_and_are_refused() -> None:
    """An alias inside its own anchor stands for an endless value: refused where the anchor is."""
    with pytest.raises(errors.ValidationFailed) as caught:
        yamlsource.parse_documents("id: x\na: &x [*x]\n", file="t.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("t.yaml", 2)
    assert "refers to the anchor it is inside of" in problem.message


def test_unreadable_files_are_problems(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(errors.ValidationFailed, match="cannot read"):
        yamlsource.read_documents(path)
