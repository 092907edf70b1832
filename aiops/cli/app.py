"""The ``aiops`` typer application and its command groups, without any command.

Fed by: nothing; the command modules of this package (:mod:`.serve`, :mod:`.offline`,
:mod:`.remote`) register their commands on these objects when imported, and
:func:`aiops.cli.main` imports them all before building the click command.
Consumed by: those modules and the tests (``CliRunner().invoke(aiops.cli.app, ...)``).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="aiops",
    help="Kubernetes AIOps operator and SRE copilot: detect, deduplicate, remediate behind approvals.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
playbooks_app = typer.Typer(help="Check playbook and rule files.", no_args_is_help=True)
approvals_app = typer.Typer(help="List and decide approval requests (through the API).", no_args_is_help=True)
incidents_app = typer.Typer(help="List and inspect incidents (through the API).", no_args_is_help=True)
alerts_app = typer.Typer(help="Alertmanager payloads, offline.", no_args_is_help=True)
logs_app = typer.Typer(
    help="Analyze container logs offline: failure patterns and templates.", no_args_is_help=True
)
config_app = typer.Typer(help="Check the configuration aiops run would start with.", no_args_is_help=True)
app.add_typer(playbooks_app, name="playbooks")
app.add_typer(approvals_app, name="approvals")
app.add_typer(incidents_app, name="incidents")
app.add_typer(alerts_app, name="alerts")
app.add_typer(logs_app, name="logs")
app.add_typer(config_app, name="config")
