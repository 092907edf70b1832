"""The read path: a low-risk (read-only) step runs at once, claimed first, its outcome recorded.

Fed by: :class:`aiops.playbooks.executor.Executor`, which holds one :class:`ReadPath` and calls
:meth:`ReadPath.run` for a pending step whose action has no planner (``describe``, ``events``,
``logs``, ``rollout_history``, ``notify``), after its params were rendered, validated and found in
scope. Consumes: the action (``Action.run``, GET/LIST only), the run book (claim, outcome, save)
and the :class:`~aiops.playbooks.planning.ActionEnv` the action is called with.
"""

from __future__ import annotations

import asyncio
import logging

from aiops.actions import base as actions_base
from aiops.playbooks.book import RunBook
from aiops.playbooks.model import Step
from aiops.playbooks.planning import ActionEnv
from aiops.playbooks.runs import Run, StepRecord
from aiops.playbooks.writes import Verdict

log = logging.getLogger("aiops.playbooks.executor")


class ReadPath:
    """Runs read steps for one executor, through ``book`` and with ``env``."""

    def __init__(self, *, book: RunBook, env: ActionEnv) -> None:
        self._book = book
        self._env = env

    async def run(self, run: Run, step: Step, rec: StepRecord, action: actions_base.Action) -> Verdict:
        """Run read step ``rec`` once, bounded by ``step.timeout_seconds``: ``next`` with its outcome
        recorded and saved (an exception is a recorded failure, never re-run), or ``wait`` when
        another executor holds its claim."""
        if not await self._book.claim(run, rec):
            return Verdict.WAIT
        ctx = self._env.context(run_id=run.id)
        try:
            params = action.params.model_validate(rec.params)
            async with asyncio.timeout(step.timeout_seconds):
                result = await action.run(ctx, params)
        except Exception as exc:  # stage boundary: record, count, never re-run
            self._book.failure(run, rec, exc, timeout_seconds=step.timeout_seconds)
        else:
            self._book.result(rec, result)
        await self._book.save(run)
        log.info("run %s step %r %s", run.id, rec.name, rec.state)
        return Verdict.NEXT
