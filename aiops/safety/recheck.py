"""Re-check an approved plan against a fresh one, right before acting.

Fed by: the executor, which re-plans an approved step (same params, same ``planned_at``) just
before running it. Consumed by: the executor, which runs the fresh plan only on ``proceed``.

The comparison (pure; no I/O):

* Every object the approved plan observed must still be there with the same ``uid`` (else it was
  deleted or replaced: a new pod, a recreated Deployment) and the same values at every observed
  JSON pointer (else it changed under the plan: a rollout since, someone scaled it, someone
  cordoned the node). A moved ``resourceVersion`` alone is not a change: the planned fields are
  what the approver saw.
* Every call of the fresh plan must be one the approved plan had, by intent (method, path and body
  without the resourceVersion precondition, :meth:`PlannedCall.intent`). A call the approver did not
  see (a new pod on the node to drain) is a change. Approved calls the fresh plan no longer needs
  (a pod already evicted) are dropped.
* A fresh plan with no calls left is ``noop``: the target is already as the plan wanted.

The fresh plan's calls carry fresh resourceVersion preconditions, so a change between this check
and the write still fails with 409 Conflict instead of overwriting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiops.actions.plan import Plan

Verdict = Literal["proceed", "changed", "noop"]


@dataclass(frozen=True)
class Recheck:
    """The verdict and, for ``changed``/``noop``, why in one sentence."""

    verdict: Verdict
    reason: str = ""


def compare(approved: Plan, fresh: Plan) -> Recheck:
    """Judge ``fresh`` (planned just now) against ``approved`` (what the approver saw); see the module."""
    now = {obs.key: obs for obs in fresh.observed}
    for before in approved.observed:
        after = now.get(before.key)
        if after is None:
            return Recheck("changed", f"{before.key} is no longer part of the plan (deleted or moved)")
        if before.uid and after.uid and before.uid != after.uid:
            return Recheck("changed", f"{before.key} was replaced (uid {before.uid} → {after.uid})")
        moved = sorted(p for p, value in before.fields.items() if after.fields.get(p) != value)
        if moved:
            return Recheck(
                "changed",
                f"{before.key} changed under the plan at {', '.join(moved)}"
                f" (resourceVersion {before.resource_version} → {after.resource_version})",
            )
    approved_intents = {call.intent() for call in approved.calls}
    for call in fresh.calls:
        if call.intent() not in approved_intents:
            return Recheck(
                "changed", f"the plan now needs a call that was not approved: {call.method} {call.path}"
            )
    if fresh.noop:
        return Recheck("noop", f"nothing left to do: {fresh.summary}")
    return Recheck("proceed")
