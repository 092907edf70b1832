"""Asking the person at the terminal in ``aiops demo``, without stopping the event loop.

Fed by: the demo's decision loop, with each pending approval request (JSON, as ``GET
/api/approvals`` returns it) and its incident (``GET /api/incidents/{id}``, with the RCA).
Consumes: the terminal. A line is read through the running event loop's reader on stdin (the
terminal is in canonical mode: the kernel hands over one whole line once Enter is pressed), so
the operator, the API and the approval sweeper go on serving while a person reads and types;
``/healthz`` and ``aiops approvals list`` answer meanwhile.

Answers: Enter (or ``skip``) leaves the request pending; the default is never to act. ``reject``
(or ``r``) ends the run. ``approve`` runs the step; at medium risk ``a`` will do, at high risk the
whole word must be typed, so one slipped key cannot drain a node. End of input (Ctrl-D) stops
asking. Ctrl-C is the demo's to handle (it ends the demo); nothing here catches it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from aiops.approvals import render

#: Risks that need the whole word ``approve`` typed (``aiops.actions.catalog.Risk``).
WORD_RISKS = frozenset({"high"})
#: Bytes read from the terminal at once; a line longer than this is read in several goes.
READ_CHUNK_BYTES = 4096


class Decision(StrEnum):
    """What the person decided for one request."""

    APPROVE = "approve"
    REJECT = "reject"
    SKIP = "skip"


def hint(risk: str) -> str:
    """The answers accepted at ``risk``, as shown in the prompt."""
    if risk in WORD_RISKS:
        return 'type "approve" to run it, "reject" to end its run, or Enter to skip'
    return '"approve" (a) to run it, "reject" (r) to end its run, or Enter to skip'


def interpret(answer: str, risk: str) -> Decision | str:
    """The :class:`Decision` a typed ``answer`` means at ``risk``, or why it means none (a message
    saying what to type instead). Case and surrounding blanks do not matter; empty means skip."""
    word = answer.strip().lower()
    if word in ("", "s", "skip"):
        return Decision.SKIP
    if word in ("r", "reject"):
        return Decision.REJECT
    if word == "approve" or (word == "a" and risk not in WORD_RISKS):
        return Decision.APPROVE
    if risk in WORD_RISKS and word in ("a", "y", "yes"):
        return f'{risk} risk: type the whole word "approve" to run this step'
    return f"{answer.strip()!r} is not an answer: {hint(risk)}"


async def read_line(stream: TextIO | None = None) -> str | None:
    """One line typed at the terminal (without its newline), or ``None`` at end of input.

    Waits on the event loop (``loop.add_reader``) instead of blocking it; where stdin cannot be
    watched that way (a regular file), reads it in a worker thread. Cancelling the wait (Ctrl-C
    cancels the demo) leaves the terminal as it was.
    """
    stream = stream or sys.stdin
    loop = asyncio.get_running_loop()
    fd = stream.fileno()
    done: asyncio.Future[bytes | None] = loop.create_future()
    buffer = bytearray()

    def readable() -> None:
        if done.done():
            return
        try:
            chunk = os.read(fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError as error:
            done.set_exception(error)
            return
        if not chunk:  # end of input: Ctrl-D on an empty line, or the terminal went away
            done.set_result(bytes(buffer) if buffer else None)
            return
        buffer.extend(chunk)
        if b"\n" in chunk:
            done.set_result(bytes(buffer))

    try:
        loop.add_reader(fd, readable)
    except (PermissionError, NotImplementedError, ValueError):
        text = await asyncio.to_thread(stream.readline)
        return text.rstrip("\r\n") if text else None
    try:
        raw = await done
    finally:
        loop.remove_reader(fd)
    return None if raw is None else raw.decode(errors="replace").rstrip("\r\n")


LineReader = Callable[[], Awaitable[str | None]]


async def ask(console: Console, request: Mapping[str, Any], read: LineReader = read_line) -> Decision | None:
    """Ask until the answer is a :class:`Decision`; ``None`` when input ended (stop asking)."""
    risk = str(request.get("risk"))
    while True:
        console.print(Text.assemble(("Decide", "bold"), f": {hint(risk)} > "), end="")
        answer = await read()
        if answer is None:
            console.print()
            return None
        meant = interpret(answer, risk)
        if isinstance(meant, Decision):
            return meant
        console.print(meant, style="yellow", markup=False, highlight=False)


def request_lines(
    request: Mapping[str, Any], detail: Mapping[str, Any] | None, *, number: int, total: int
) -> list[str]:
    """What a person needs to decide one request, as text lines: the step and its target, the
    incident and its RCA summary, every rendered param in full (the drain flags, the memory
    factor) and the plan with the server's dry-run diff (the new memory limit, each eviction).

    ``detail`` is ``GET /api/incidents/{id}`` (``{incident, runs, enrichment}``) or None when it
    could not be read.
    """
    lines = [
        f"[{number}/{total}] {request.get('action')} on {render.ref(request.get('target'))}"
        f" — {request.get('risk')} risk",
        f"  playbook {request.get('playbook_id')}, step {request.get('step_name')!r}",
        f"  request {request.get('id')}, expires {request.get('expires_at')}",
    ]
    incident = (detail or {}).get("incident") or {}
    if incident:
        lines.append(
            f"  incident {incident.get('id')}: {incident.get('type')} on "
            f"{render.ref(incident.get('subject'))}, {incident.get('event_count')} event(s)"
        )
    rca = ((detail or {}).get("enrichment") or {}).get("rca") or {}
    if rca:
        lines.append(
            f"  RCA ({rca.get('source')}, confidence {float(rca.get('confidence') or 0):.2f},"
            f" {rca.get('category')}): {rca.get('summary')}"
        )
    else:
        lines.append("  RCA: not ready yet (logs and events are still being read)")
    params = request.get("params") or {}
    lines.append("  params:" if params else "  params: none")
    lines.extend(f"    {key}: {render.value_text(value)}" for key, value in params.items())
    plan = request.get("plan")
    if plan:
        lines.extend(f"  {line}" for line in render.plan_lines(plan))
    return lines
