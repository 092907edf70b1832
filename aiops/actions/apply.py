"""Apply a plan: send its calls, in order, exactly as planned (and approved); nothing else is written.

Fed by: the registry (``Action.run`` = plan + apply, for direct use) and the executor (after the
approval and the re-check). Consumed by: nothing; the API answers become the :class:`ActionResult`.

Rules:

* Calls go out in plan order. A run of consecutive Eviction calls (a drain) goes out together,
  each retrying 429 (a PodDisruptionBudget forbids it now) with exponential backoff from
  ``limits.eviction_retry_seconds`` until its ``retry_429_seconds`` pass, as ``kubectl drain``
  does ("API-initiated Eviction", https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/).
* 404 on a DELETE or an eviction: the pod is already gone, which is what was wanted.
* Any other failure stops the plan there. A 409 on the first write (a resourceVersion or uid
  precondition failed: "API Concepts: Conflicts") sets ``conflict``: nothing was written and the
  step may be planned again, never blindly retried.
* ``ctx.dry_run``: every call carries ``dryRun=All``; the server validates and answers what it
  would store, and nothing changes. The answers are in ``output["dry_run"]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiops import kube
from aiops.actions.base import ActionContext, ActionResult
from aiops.actions.plan import Plan, PlannedCall


def _is_eviction(call: PlannedCall) -> bool:
    return call.method == "POST" and call.path.endswith("/eviction")


def _batches(calls: list[PlannedCall]) -> list[list[PlannedCall]]:
    """Consecutive evictions together, every other call alone."""
    batches: list[list[PlannedCall]] = []
    for call in calls:
        if batches and _is_eviction(call) and _is_eviction(batches[-1][0]):
            batches[-1].append(call)
        else:
            batches.append([call])
    return batches


async def send(ctx: ActionContext, call: PlannedCall, *, dry_run: bool) -> Any:
    """Send one planned call as it stands (plus ``dryRun=All`` when ``dry_run``); returns the answer.

    Raises :class:`aiops.kube.ApiError` subclasses as :meth:`aiops.kube.Kube.request` does, and
    :class:`aiops.errors.FenceLost` when ``ctx.fence`` refuses a real write (nothing is sent).
    """
    query: dict[str, str | int | None] = dict(call.query)
    if dry_run:
        query["dryRun"] = "All"
    elif ctx.fence is not None:
        await ctx.fence()
    return await ctx.kube.request(
        call.method, call.path, query=query, body=call.body, content_type=call.content_type
    )


async def _evict(ctx: ActionContext, call: PlannedCall, *, dry_run: bool) -> str | None:
    """Send one eviction, retrying 429 until its deadline; None once evicted (or gone), else why not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (call.retry_429_seconds or 0.0)
    delay = ctx.limits.eviction_retry_seconds
    while True:
        try:
            await send(ctx, call, dry_run=dry_run)
            return None
        except kube.NotFound:
            return None
        except kube.TooManyRequests as exc:
            reason = "; ".join(exc.causes) or exc.message
            if dry_run or loop.time() + delay > deadline:
                return reason
            await asyncio.sleep(delay)
            delay *= 2
        except kube.ApiError as exc:
            return str(exc)


async def apply(ctx: ActionContext, plan: Plan) -> ActionResult:
    """Send ``plan.calls`` (see the module rules); returns the outcome.

    ``output`` is ``plan.output`` plus, for evictions, ``evicted``/``failed`` (``[ns/name]`` and
    ``[{pod, reason}]``), plus ``dry_run: [{object, effect, answer}]`` in dry-run mode.
    Raises nothing for API failures (they become ``ok=False``); cancellation propagates.
    """
    output: Any = dict(plan.output) if isinstance(plan.output, dict) else plan.output
    answers: list[dict[str, Any]] = []
    evicted: list[str] = []
    failed: list[dict[str, str]] = []
    written = 0
    for batch in _batches(plan.calls):
        if _is_eviction(batch[0]):
            outcomes = await asyncio.gather(*(_evict(ctx, call, dry_run=ctx.dry_run) for call in batch))
            for call, why in zip(batch, outcomes, strict=True):
                pod = call.object.split("/", 1)[1]
                if why is None:
                    evicted.append(pod)
                    written += 1
                else:
                    failed.append({"pod": pod, "reason": why})
                answers.append({"object": call.object, "effect": call.effect, "answer": why or "evicted"})
            continue
        call = batch[0]
        try:
            answer = await send(ctx, call, dry_run=ctx.dry_run)
        except kube.NotFound:
            if call.method != "DELETE":
                return _failed(plan, output, f"{call.object} no longer exists", written, answers)
            answer = {"gone": True}
        except kube.Conflict as exc:
            why = f"{call.method} {call.object}: {exc} (changed since the plan; nothing overwritten)"
            result = _failed(plan, output, why, written, answers)
            result.conflict = written == 0
            return result
        except kube.ApiError as exc:
            return _failed(plan, output, f"{call.method} {call.object}: {exc}", written, answers)
        written += 1
        answers.append({"object": call.object, "effect": call.effect, "answer": kube.summarize(answer)})
    if isinstance(output, dict) and (evicted or failed):
        output |= {"evicted": evicted, "failed": failed}
    if ctx.dry_run:
        output = (output if isinstance(output, dict) else {"output": output}) | {"dry_run": answers}
    if failed:
        blocked = "; ".join(f"{f['pod']}: {f['reason']}" for f in failed)
        summary = f"{plan.target}: {len(failed)} pod(s) could not be evicted ({blocked})"
        return ActionResult(ok=False, summary=summary, output=output, error=summary, writes_done=written)
    summary = plan.summary if not ctx.dry_run else f"dry run: {plan.summary} (nothing changed)"
    return ActionResult(ok=True, summary=summary, output=output, writes_done=written)


def _failed(plan: Plan, output: Any, why: str, written: int, answers: list[dict[str, Any]]) -> ActionResult:
    done = f" after {written} of {len(plan.calls)} write(s)" if written else " before writing anything"
    summary = f"{plan.action} on {plan.target} failed{done}: {why}"
    if isinstance(output, dict) and answers:
        output = output | {"answers": answers}
    return ActionResult(ok=False, summary=summary, output=output, error=why, writes_done=written)
