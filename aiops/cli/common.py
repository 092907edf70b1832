"""What every ``aiops`` command shares: the consoles, the shared options, failing with an exit code.

Fed by: the command modules of :mod:`aiops.cli`. Consumes: the HTTP client's error
(``aiops.client.ApiClientError``), the configuration error tree (``aiops.errors``) and the
RFC 3339 parser of the watch source (``--at``). Exit codes: 0 success, 1 operational failure
(API error, unreachable), 2 invalid input/config.

The options' ``envvar`` defaults (``AIOPS_API_URL``, ``AIOPS_API_TOKEN``, ``AIOPS_CONFIG``,
``REDIS_URL``) are the command line's own interface, read by click when the command is parsed;
the operator's settings are read by :mod:`aiops.settings` only.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from aiops import client as client_mod
from aiops import errors
from aiops.sources.kubewatch import fields as watch_fields

console = Console()
err = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="AIOPS_API_URL", help="Base URL of the aiops API.")]
Token = Annotated[
    str | None, typer.Option("--token", envvar="AIOPS_API_TOKEN", help="Bearer token (your identity).")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
#: Exit code after Ctrl-C: 128 + SIGINT (2), as shells report a process that SIGINT ended.
INTERRUPTED_EXIT_CODE = 130
#: Packages of the ``demo`` extra (pyproject.toml): the emulator and the in-process store.
DEMO_EXTRA_MODULES = frozenset({"kmock", "fakeredis"})


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: MESSAGE`` (user text verbatim, never read as markup, never wrapped)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def run_api(coro: Any) -> Any:
    """Run an API call; an API error exits 1, or 2 when the API refused the input (400, 422:
    the message names each invalid field and why, e.g. ``reason (request body): String should
    have at most 1000 characters``)."""
    try:
        return asyncio.run(coro)
    except client_mod.ApiClientError as exc:
        if exc.invalid_input:
            raise fail(f"{exc}; correct it and run the command again", 2) from exc
        raise fail(str(exc)) from exc


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="AIOPS_CONFIG",
        help="YAML settings file; it must exist. The environment (AIOPS_*) overrides its keys.",
    ),
]


def configuration_problems(exc: errors.ConfigError) -> str:
    """One indented line per problem (``WHERE: FIELD: MESSAGE``)."""
    lines = [str(p) for p in exc.problems] if isinstance(exc, errors.ValidationFailed) else [str(exc)]
    return "\n".join(f"  {line}" for line in lines)


At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Judge recency (e.g. a recent OOM kill) as of this RFC 3339 time, like "
        "2025-03-14T10:30:00Z. Default: the newest timestamp in the input, i.e. as it was saved.",
    ),
]


def parse_at(at: str | None) -> datetime | None:
    """``--at`` as aware UTC (None when not given); exit 2 when it is not an RFC 3339 time."""
    if at is None:
        return None
    try:
        parsed = watch_fields.parse_time(at.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise fail(f"--at {at!r}: not an RFC 3339 time; write it like 2025-03-14T10:30:00Z", 2)
    return parsed


def iso(moment: datetime) -> str:
    """``moment`` as ``2025-03-14T10:30:00Z`` (second precision, as given: pass aware UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_lines(file: str) -> list[str]:
    """The lines of ``file`` (``-``: stdin), undecodable bytes replaced; exit 2 when unreadable."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(errors="replace")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    return text.splitlines()
