"""The ``aiops`` command line: run, demo, config check, detect, rca, playbooks, approvals, incidents,
alerts, logs.

Fed by: the user's shell (console script ``aiops = "aiops.cli:main"``, and ``python -m aiops``).
One module per group of commands: :mod:`.serve` (run, config check, demo: start aiops),
:mod:`.offline` (detect, rca, alerts convert, playbooks validate, logs: read files, touch
nothing), :mod:`.remote` (approvals, incidents: through the HTTP API); :mod:`.app` holds the
typer application, :mod:`.common` what they share, :mod:`.logging_setup` the process's logging.
Exit codes: 0 success, 1 operational failure (API error, unreachable), 2 invalid input/config.
"""

from __future__ import annotations

from typing import Any

import typer

# The command modules register on import; ``aiops --help`` lists commands in registration order,
# so serve's (run, demo) come first.
from aiops.cli import serve

# isort: split
from aiops.cli import offline, remote
from aiops.cli.app import app
from aiops.cli.logging_setup import setup_logging

__all__ = ["app", "main", "offline", "remote", "serve", "setup_logging"]


def _plain_flags(command: Any) -> None:
    """Show boolean flags (``--json``, ``--script``, ``--help``) without a ``<bool>`` value in ``--help``.

    typer 0.29's rich help prints the type of every option, flags included, as if ``--json`` took
    a value; an empty metavar leaves that column blank for flags only (options with values keep
    theirs). Applied to ``command`` and every subcommand, the help option included.
    """
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


def main() -> None:
    """Console-script entry point."""
    command = typer.main.get_command(app)
    _plain_flags(command)
    command()
