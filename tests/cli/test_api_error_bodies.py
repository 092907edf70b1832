"""``aiops.client.parse_error``: one message naming the invalid fields, whatever shape the API uses.

FastAPI's validation answer (``{"detail": [{"loc", "msg"}]}``, what the API sends today; the CLI
tests in ``test_approvals_cli.py`` get it from the real server) and RFC 7807
``application/problem+json`` (``errors``/``invalid_fields`` with ``field``/``loc`` and
``message``) give the same text; 400 and 422 are invalid input (the CLI exits 2), others are not.
"""

from __future__ import annotations

import pytest

from aiops.client import parse_error

FASTAPI_422 = {
    "detail": [
        {
            "type": "string_too_long",
            "loc": ["body", "reason"],
            "msg": "String should have at most 1000 characters",
            "input": "x" * 1001,
            "ctx": {"max_length": 1000},
        }
    ]
}
EXPECTED = "invalid input: reason (request body): String should have at most 1000 characters"


@pytest.mark.parametrize(
    "body",
    [
        FASTAPI_422,
        {
            "type": "about:blank",
            "title": "Unprocessable Entity",
            "status": 422,
            "detail": "1 invalid field",
            "errors": [{"loc": ["body", "reason"], "message": "String should have at most 1000 characters"}],
        },
        {
            "title": "Unprocessable Entity",
            "status": 422,
            "invalid_fields": [
                {"loc": ["body", "reason"], "msg": "String should have at most 1000 characters"}
            ],
        },
    ],
    ids=["fastapi", "problem-errors-loc", "problem-invalid-fields"],
)
def test_every_shape_names_the_field_and_why(body: object) -> None:
    error = parse_error(422, body)

    assert error.detail == EXPECTED
    assert str(error) == f"422: {EXPECTED}"
    assert error.invalid_input
    assert [p.field for p in error.problems] == ["reason"]


def test_problem_fields_by_name_or_as_a_mapping() -> None:
    by_name = parse_error(422, {"status": 422, "errors": [{"field": "limit", "message": "must be >= 1"}]})
    mapping = parse_error(400, {"status": 400, "invalid_fields": {"limit": "must be >= 1"}})

    assert by_name.detail == mapping.detail == "invalid input: limit: must be >= 1"
    assert by_name.invalid_input and mapping.invalid_input


def test_other_errors_keep_their_reason_and_are_not_invalid_input() -> None:
    conflict = parse_error(409, {"detail": "already approved by alice"})
    problem = parse_error(404, {"type": "about:blank", "title": "Not Found", "status": 404})
    not_json = parse_error(502, None, "<html>Bad Gateway</html>")

    assert (conflict.detail, conflict.invalid_input) == ("already approved by alice", False)
    assert problem.detail == "Not Found"
    assert not_json.detail == "<html>Bad Gateway</html>"
    assert not (problem.invalid_input or not_json.invalid_input)
