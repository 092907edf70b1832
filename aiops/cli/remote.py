"""The commands that talk to a running aiops through its HTTP API: approvals and incidents.

Fed by: the user's shell (``--api-url``/``AIOPS_API_URL``, ``--token``/``AIOPS_API_TOKEN``).
Consumes: the HTTP client (``aiops.client.AiopsClient``) and the approval renderer
(``aiops.approvals.render``). Exit codes: 0 success, 1 API error or unreachable, 2 input the API
refused (400, 422).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from aiops import client as client_mod
from aiops.cli.app import approvals_app, incidents_app
from aiops.cli.common import ApiUrl, JsonOut, Token, console, run_api


def _approvals_table(rows: list[dict[str, Any]]) -> Table:
    """Approval requests at any terminal width: the request column is as wide as the id, which
    stays whole on one line (to copy it), with state, risk and expiry under it; every value wraps
    (fold) instead of being cut. ``rows`` must not be empty."""
    from aiops.approvals import render

    colours = {"pending": "yellow", "approved": "green", "rejected": "red", "expired": "dim"}
    table = Table(show_lines=True)
    table.add_column("request", width=max(len(str(r["id"])) for r in rows), overflow="fold")
    table.add_column("playbook and step", overflow="fold", ratio=3)
    table.add_column("target", overflow="fold", ratio=2)
    for r in rows:
        target = r.get("target") or {}
        by = f" by {r['decided_by']}" if r.get("decided_by") else ""
        table.add_row(
            Text.assemble(
                str(r["id"]),
                "\n",
                (f"{r['state']}{by}", colours.get(r["state"], "")),
                f", {r['risk']} risk\nexpires {str(r['expires_at'])[:19].replace('T', ' ')}",
            ),
            Text(f"{r['playbook_id']}\n{r['step_name']} ({r.get('action', '?')})"),
            Text(render.ref(target)) if target else "",
        )
    return table


@approvals_app.command("list")
def approvals_list(
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    state: Annotated[str | None, typer.Option(help="pending, approved, rejected or expired.")] = None,
    json_out: JsonOut = False,
) -> None:
    """List approval requests, pending first."""

    async def _go() -> list[dict[str, Any]]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.approvals(state)

    rows = run_api(_go())
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif not rows:
        console.print(f"no {state} approvals" if state else "no approvals", markup=False, highlight=False)
    else:
        console.print(_approvals_table(rows))


@approvals_app.command("show")
def approvals_show(
    request_id: str, api_url: ApiUrl = "http://127.0.0.1:8080", token: Token = None, json_out: JsonOut = False
) -> None:
    """Show one approval request and its plan: the exact API calls, the server's dry-run answer and
    the diff each makes, what is verified afterwards, and the facts the guards saw."""
    from aiops.approvals import render

    async def _go() -> dict[str, Any]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.approval(request_id)

    request = run_api(_go())
    if json_out:
        sys.stdout.write(json.dumps(request, indent=2) + "\n")
        return
    for line in render.request_lines(request):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _decide(request_id: str, api_url: str, token: str | None, reason: str | None, *, approve: bool) -> None:
    async def _go() -> dict[str, Any]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.decide(request_id, approve=approve, reason=reason)

    result = run_api(_go())
    request, run_ = result["request"], result.get("run") or {}
    if result.get("decided", True):
        said = f"{request['id']} {request['state']} by {request['decided_by']}"
    else:  # a vote that counted: more distinct approvers are needed
        votes = result.get("votes") or []
        said = (
            f"{request['id']} vote {len(votes)}/{result.get('votes_needed', '?')} recorded "
            f"({', '.join(votes)}); still pending"
        )
    console.print(
        f"{said}; run {run_.get('id', '?')} is {run_.get('state', '?')}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@approvals_app.command("approve")
def approvals_approve(
    request_id: str,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept on the request).")] = None,
) -> None:
    """Approve a pending request; the step runs at once, exactly once."""
    _decide(request_id, api_url, token, reason, approve=True)


@approvals_app.command("reject")
def approvals_reject(
    request_id: str,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept on the request).")] = None,
) -> None:
    """Reject a pending request; its run stops."""
    _decide(request_id, api_url, token, reason, approve=False)


@incidents_app.command("list")
def incidents_list(
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    status: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    json_out: JsonOut = False,
) -> None:
    """List incidents, newest first."""

    async def _go() -> list[dict[str, Any]]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.incidents(status)

    from aiops.approvals import render

    rows = run_api(_go())
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        console.print(f"no {status} incidents" if status else "no incidents", markup=False, highlight=False)
        return
    # As wide as the id, whole on one line (to copy it); every value wraps (fold), none is cut.
    table = Table(show_lines=True)
    table.add_column("incident", width=max(len(str(r["id"])) for r in rows), overflow="fold")
    table.add_column("problem", overflow="fold", ratio=3)
    table.add_column("events", overflow="fold", ratio=2)
    for r in rows:
        suppressed = ", ".join(f"{k}={v}" for k, v in r.get("suppressed", {}).items())
        table.add_row(
            Text(f"{r['id']}\n{r['status']}\nsince {str(r['first_seen'])[:19].replace('T', ' ')}"),
            Text(f"{r['type']}\n{render.ref(r['subject'])}"),
            Text(f"{r['event_count']} event(s)" + (f"\nsuppressed {suppressed}" if suppressed else "")),
        )
    console.print(table)


@incidents_app.command("show")
def incidents_show(incident_id: str, api_url: ApiUrl = "http://127.0.0.1:8080", token: Token = None) -> None:
    """Show an incident with its runs and step outcomes."""

    async def _go() -> dict[str, Any]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.incident(incident_id)

    sys.stdout.write(json.dumps(run_api(_go()), indent=2, default=str) + "\n")
