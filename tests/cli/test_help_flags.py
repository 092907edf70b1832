"""``--help`` shows boolean flags as flags: no ``<bool>`` value after ``--json``, ``--script`` or
``--help`` (typer's rich help printed one, as if the flag took a value), while options that do take
a value keep their type."""

from __future__ import annotations

import pytest

from tests.cli.helpers import run_cli


@pytest.mark.parametrize(
    ("command", "flags", "valued"),
    [
        pytest.param(("demo",), ["--script", "--json"], "--redis-url", id="demo"),
        pytest.param(("logs", "templates"), ["--json"], "--file", id="logs-templates"),
        pytest.param(("approvals", "list"), ["--json"], "--api-url", id="approvals-list"),
    ],
)
def test_flags_take_no_value_in_help(command: tuple[str, ...], flags: list[str], valued: str) -> None:
    result = run_cli(*command, "--help")

    assert result.returncode == 0, result
    rows = {
        next(word for word in line.split() if word.startswith("--")): line
        for line in result.stdout.splitlines()
        if line.startswith("│ ") and " --" in line
    }
    for flag in [*flags, "--help"]:
        assert flag in rows, result
        assert "<bool>" not in rows[flag], rows[flag]
    assert "<str>" in rows[valued], "an option that takes a value keeps its type"
