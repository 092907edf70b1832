"""The demo's tables (incidents, playbook steps, requests waiting for approval) and its checks.

Fed by: ``aiops.demo`` with API answers (``GET /api/incidents``, ``GET /api/approvals``) and the
runs as JSON. Consumed by: the person watching the demo. Values a person needs to decide (ids,
targets, params, summaries) wrap (``overflow="fold"``) instead of being cut at any terminal
width; an empty list prints a line saying so instead of an empty table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from aiops.approvals import render

_STEP_COLOURS = {
    "succeeded": "green",
    "awaiting_approval": "yellow",
    "failed": "red",
    "refused": "red",
    "rejected": "red",
    "blocked": "red",
    "unknown": "red",
    "expired": "dim",
    "pending": "dim",
    "skipped": "dim",
}


def incidents(rows: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Incidents as ``GET /api/incidents`` returns them: id, type, subject, status, events."""
    if not rows:
        return Text("no incidents")
    table = Table(title="Incidents", show_lines=True)
    # As wide as the id, so it stays whole on one line (to copy it).
    table.add_column("incident", width=max(len(str(inc["id"])) for inc in rows), overflow="fold")
    table.add_column("type", overflow="fold")
    table.add_column("subject", overflow="fold", ratio=2)
    table.add_column("status", overflow="fold")
    table.add_column("events", overflow="fold", justify="right")
    for inc in rows:
        table.add_row(
            str(inc["id"]),
            str(inc["type"]),
            render.ref(inc["subject"]),
            str(inc["status"]),
            str(inc["event_count"]),
        )
    return table


def steps(runs: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Every step of every run, with its state, approver and summary (or error), never cut."""
    if not runs:
        return Text("no playbook runs")
    table = Table(title="Playbook steps", show_lines=True)
    table.add_column("run", width=8, overflow="fold")
    table.add_column("playbook and step", overflow="fold", ratio=2)
    table.add_column("risk", overflow="fold")
    table.add_column("state", overflow="fold")
    table.add_column("summary", overflow="fold", ratio=3)
    for run in runs:
        for step in run["steps"]:
            state = str(step["state"])
            approved = f"\nby {step['approved_by']}" if step.get("approved_by") else ""
            table.add_row(
                str(run["id"])[-8:],  # a label within this table; the whole id is in the report
                Text(f"{run['playbook_id']}\n{step['name']}"),
                str(step["risk"]),
                Text(state + approved, style=_STEP_COLOURS.get(state, "")),
                Text(str(step.get("summary") or step.get("error") or "")),
            )
    return table


def pending(requests: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Requests waiting for approval: number, whole id and risk; step; target; every param."""
    if not requests:
        return Text("no pending approvals")
    table = Table(title="Waiting for approval", show_lines=True)
    # As wide as the id, so it stays whole on one line (to copy it); risk and number under it.
    table.add_column("request", width=max(len(str(req["id"])) for req in requests), overflow="fold")
    table.add_column("playbook and step", overflow="fold", ratio=2)
    table.add_column("target", overflow="fold", ratio=2)
    table.add_column("params", overflow="fold", ratio=2)
    for number, req in enumerate(requests, 1):
        params = "\n".join(
            f"{k}={render.value_text(v)}" for k, v in (req.get("params") or {}).items() if v is not None
        )
        table.add_row(
            Text.assemble(str(req["id"]), f"\n#{number}, ", (f"{req['risk']} risk", "bold")),
            Text(f"{req['playbook_id']}\n{req['step_name']} ({req['action']})"),
            render.ref(req.get("target")),
            Text(params),
        )
    return table


def checks(rows: Sequence[tuple[str, str]]) -> RenderableType:
    """``(check, result)`` rows, what the decided steps did to the cluster, one line each
    (``worker-2 cordoned: yes``), so they wrap as prose at any width."""
    colours = {"yes": "green", "NO": "red"}
    lines = [Text("In the cluster after the decisions:", style="bold")]
    for name, result in rows:
        lines.append(Text.assemble(f"  {name}: ", (result, colours.get(result, "yellow"))))
    return Group(*lines)
