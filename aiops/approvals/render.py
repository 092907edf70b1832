"""Plans and approval requests as plain text lines, for the CLI and chat messages.

Fed by: ``aiops approvals show`` and (later) the Slack/Telegram approval messages, with an
:class:`ApprovalRequest` as the API returns it (JSON). Consumed by: people deciding at 3 a.m.

Every call of the plan is listed with its method, path, query, what it does, what the API server
answered to the same call sent with ``dryRun=All``, and the diff it makes (RFC 6902 operations,
``~`` replace with the old value, ``+`` add, ``-`` remove), then what will be checked afterwards
and the cluster facts the guards decided on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Longest rendering of one value in a diff line (characters); longer values are cut.
MAX_VALUE_CHARS = 120


def value_text(value: Any, *, limit: int | None = None) -> str:
    """``value`` as people read it: a string as it is, anything else as JSON (keys sorted); cut to
    ``limit`` characters with ``…`` when given (diff lines), whole when None (params to decide on)."""
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def ref(obj: Mapping[str, Any] | None) -> str:
    """``Kind/namespace/name`` of an object reference as JSON (``-`` for no namespace), ``-`` for none."""
    if not obj:
        return "-"
    return f"{obj.get('kind')}/{obj.get('namespace') or '-'}/{obj.get('name')}"


def _value(value: Any) -> str:
    return value_text(value, limit=MAX_VALUE_CHARS)


def diff_lines(ops: list[Mapping[str, Any]]) -> list[str]:
    """One line per RFC 6902 operation: ``~ /spec/replicas: 2 → 3``, ``+ /a/b: x``,
    ``- (the whole object)``."""
    lines = []
    for op in ops:
        path = str(op.get("path") or "") or "(the whole object)"
        kind = op.get("op")
        if kind == "replace":
            lines.append(f"~ {path}: {_value(op.get('was'))} → {_value(op.get('value'))}")
        elif kind == "add":
            lines.append(f"+ {path}: {_value(op.get('value'))}")
        elif kind == "remove":
            lines.append(f"- {path}" + (f" (was {_value(op['was'])})" if op.get("was") is not None else ""))
        else:
            lines.append(f"{kind} {path}: {_value(op.get('value') or op.get('from'))}")
    return lines


def plan_lines(plan: Mapping[str, Any]) -> list[str]:
    """The plan (``Plan`` as JSON) as indented text lines; see the module docstring."""
    mode = " — DRY RUN: sent with dryRun=All, nothing changes" if plan.get("dry_run") else ""
    lines = [f"Plan: {plan.get('action')} on {plan.get('target')}{mode}"]
    calls = plan.get("calls") or []
    if not calls:
        lines.append("  no API call: nothing to do")
    for number, call in enumerate(calls, 1):
        query = "&".join(f"{k}={v}" for k, v in (call.get("query") or {}).items())
        lines.append(f"  {number}. {call.get('method')} {call.get('path')}{'?' + query if query else ''}")
        if call.get("effect"):
            lines.append(f"     {call['effect']}")
        preview = call.get("preview")
        if preview:
            said = ", ".join(
                f"{k} {v}" for k, v in preview.items() if k in ("code", "reason", "kind", "name")
            )
            causes = "; ".join(str(c) for c in preview.get("causes") or [])
            lines.append(f"     server dry run: {said}{' — ' + causes if causes else ''}")
        for line in diff_lines(call.get("diff") or []):
            lines.append(f"       {line}")
    for expect in plan.get("expect") or []:
        lines.append(f"  then verify: {expect.get('check')} on {ref(expect)}")
    lines.extend(f"  {line}" for line in facts_lines(plan.get("facts") or {}))
    return lines


def facts_lines(facts: Mapping[str, Any]) -> list[str]:
    """What the guards decided on, one short line each (only what was observed)."""
    lines = []
    if facts.get("workload"):
        counts = ""
        if facts.get("workload_replicas") is not None:
            counts = f" ({facts['workload_unavailable']} of {facts['workload_replicas']} pods unavailable)"
        lines.append(f"workload: {facts['workload']}{counts}")
    if facts.get("nodes_total") is not None:
        lines.append(f"nodes NotReady: {facts['nodes_not_ready']} of {facts['nodes_total']}")
    for removal in facts.get("pod_removals") or []:
        budgets = ", ".join(
            f"PDB {b.get('name')}: {b.get('disruptions_allowed')} disruption(s) allowed"
            for b in removal.get("budgets") or []
        )
        ready = "Ready" if removal.get("ready") else "not Ready"
        lines.append(
            f"removes pod {removal.get('namespace')}/{removal.get('name')} ({ready}"
            + (f"; {budgets})" if budgets else "; no PodDisruptionBudget)")
        )
    return lines


def request_lines(request: Mapping[str, Any]) -> list[str]:
    """An approval request (JSON) as text: who asks what, its state, every param of the step (a
    drain's flags, a new memory limit: what the approver decides on), its plan and its outcome."""
    target = request.get("target") or {}
    where = ref(target)
    lines = [
        f"Approval {request.get('id')} [{request.get('state')}] — {request.get('risk')} risk",
        f"  playbook {request.get('playbook_id')}, step {request.get('step_name')!r}"
        f" ({request.get('action')})"
        + (f", plan attempt {request['attempt'] + 1}" if request.get("attempt") else ""),
        f"  target {where}; incident {request.get('incident_id')}; run {request.get('run_id')}",
        f"  expires {request.get('expires_at')}",
    ]
    if request.get("decided_by"):
        reason = f": {request['reason']}" if request.get("reason") else ""
        lines.append(f"  decided by {request['decided_by']} at {request.get('decided_at')}{reason}")
    closed = request.get("closed")
    if closed:
        guard = f" (guard {closed['guard']})" if closed.get("guard") else ""
        lines.append(f"  outcome: {closed.get('outcome')}{guard} — {closed.get('reason')}")
    params = request.get("params") or {}
    lines.append(f"  params: {', '.join(f'{k}={_value(v)}' for k, v in params.items()) or '(none)'}")
    plan = request.get("plan")
    if plan:
        lines.extend(plan_lines(plan))
    return lines
