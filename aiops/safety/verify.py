"""Verification: after a write, poll the cluster until each expected outcome has held for a while.

Fed by: the executor, with the :class:`aiops.actions.plan.Expectation` list of the plan it just
applied (settle/timeout from the step's ``verify`` or ``SafetySettings.verify_settle_seconds`` /
``verify_timeout_seconds``; the poll interval from ``SafetySettings.verify_poll_seconds``).
Consumed by: the executor's write path, which persists :meth:`VerificationResult.record` (a
:class:`Verification`) on the step record, and the API, CLI and chat, which show its ``detail``.
This module is the polling loop; the conditions themselves are read and judged in
:mod:`aiops.safety.checks`.

The verifier only reads (GET and LIST through :class:`aiops.kube.Kube`); it never writes.
Every expectation is checked concurrently: it is observed every ``poll_seconds`` until its
condition has held *without interruption* for ``settle_seconds`` (settle 0: one observation that
holds suffices), or until ``timeout_seconds`` pass since verification started (then it did not
hold, and the last observation is the detail). An API error during a poll (a 5xx, no connection,
a 403) is one observation that does not hold, with the error as its detail: a transient error
interrupts the settle period but does not end verification.

Conditions, per ``Expectation.check`` (the object is the expectation's apiVersion/kind/ns/name):

``pod_replaced``
    ``values``: ``old_uid``, ``controller_uid``, ``controller`` (``Kind/name``). The pods of the
    namespace are listed; the controller's pods are those with an ownerReference whose uid is
    ``controller_uid``. Holds when no pod with uid ``old_uid`` is left (a pod with
    ``metadata.deletionTimestamp`` counts as gone: it is terminating), at least one
    non-terminating controller pod exists, each has condition ``Ready`` ``True`` and none of its
    containers is waiting with reason ``CrashLoopBackOff`` (Pod lifecycle docs,
    https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ : "Pod conditions" and
    "Container restarts"; the kubelet sets that waiting reason while it backs off restarting a
    crashed container). Across polls, the ``restartCount`` of every container of those pods is
    tracked: any increase means a container crashed and was restarted between two polls (possibly
    too fast to be seen not Ready), so that observation does not hold and the settle timer
    starts again.

``rollout_complete``
    ``values``: ``min_generation``. Decided as ``kubectl rollout status`` does
    (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, ``DeploymentStatusViewer``,
    ``DaemonSetStatusViewer``, ``StatefulSetStatusViewer``), with the observed generation
    required to be at least ``max(min_generation, metadata.generation)``:

    * Deployment: not ``Progressing`` with reason ``ProgressDeadlineExceeded``;
      ``updatedReplicas >= spec.replicas`` (default 1); ``replicas <= updatedReplicas`` (no old
      replicas pending termination); ``availableReplicas >= updatedReplicas``.
    * StatefulSet: strategy ``RollingUpdate`` (the default); ``readyReplicas >= spec.replicas``;
      ``updatedReplicas >= spec.replicas - partition``; and, without a partition, when both
      ``currentRevision`` and ``updateRevision`` are set, they are equal (kubectl checks the
      revisions only when ``rollingUpdate`` is absent; the StatefulSet controller sets
      ``currentRevision`` to ``updateRevision`` once every pod is updated and Ready).
    * DaemonSet: strategy ``RollingUpdate`` (the default); ``updatedNumberScheduled >=
      desiredNumberScheduled``; ``numberAvailable >= desiredNumberScheduled``.

``replicas_ready``
    ``values``: ``replicas``. A Deployment, StatefulSet or ReplicaSet whose ``spec.replicas``
    (default 1) equals it and whose ``status.readyReplicas`` (missing = 0) is at least it; for 0,
    ``status.replicas`` must be 0 or missing (every pod gone).

``autoscaler_ceiling``
    ``values``: ``max_replicas``. The HorizontalPodAutoscaler's ``spec.maxReplicas`` equals it.

``node_unschedulable`` / ``node_schedulable``
    The Node's ``spec.unschedulable`` is true / false or missing (``kubectl cordon``/``uncordon``).

``node_drained``
    The Node is unschedulable and no pod bound to it (``fieldSelector=spec.nodeName=NODE``) is
    left except those ``kubectl drain`` leaves or does not wait for (k8s.io/kubectl/pkg/drain,
    ``filters.go``): DaemonSet-managed pods (controller ownerReference of kind DaemonSet; the
    DaemonSet controller tolerates ``unschedulable`` and would recreate them), mirror pods
    (annotation ``kubernetes.io/config.mirror``: static pods the API cannot delete), finished pods
    (phase ``Succeeded``/``Failed``: they run nothing), and terminating pods
    (``deletionTimestamp`` set: their eviction was accepted; kubectl itself would also wait for
    them to disappear, a kubelet matter the verifier does not wait for).

A NotFound on the object means the condition does not hold (``"<Kind> ns/name not found"``),
except for ``pod_replaced``, where the old pod being gone is what is expected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from aiops.actions.plan import Expectation
from aiops.kube import ApiError, Kube, NotFound
from aiops.safety.checks import CHECKS, Look, Restarts, name_of


@dataclass(frozen=True)
class CheckOutcome:
    """How one expectation ended.

    ``held``: the condition held continuously for ``settle_seconds`` before ``timeout_seconds``.
    ``detail``: the last observation in words, e.g. ``"1/1 pods of ReplicaSet web-abc Ready, none in
    CrashLoopBackOff, no restarts for 30 s"`` or ``"pod shop/web-x2 is in CrashLoopBackOff
    (container app, restarts 3)"``.
    """

    expectation: Expectation
    held: bool
    detail: str


@dataclass(frozen=True)
class VerificationResult:
    """Every expectation's outcome; ``verified`` when all held (an empty list is verified)."""

    verified: bool
    outcomes: list[CheckOutcome]

    @property
    def detail(self) -> str:
        """One line: the failed checks' details (all of them when verified), ``check Kind/ns/name: ...``."""
        shown = [o for o in self.outcomes if not o.held] or self.outcomes
        if not shown:
            return "nothing to verify"
        return "; ".join(f"{o.expectation.check} {o.expectation.key}: {o.detail}" for o in shown)

    def record(self) -> Verification:
        """The step record's :class:`Verification`: ``verified`` or ``not_verified``, the
        :attr:`detail` and one :class:`CheckRecord` per expectation."""
        return Verification(
            state=VerificationState.VERIFIED if self.verified else VerificationState.NOT_VERIFIED,
            detail=self.detail,
            checks=[
                CheckRecord(check=o.expectation.check, object=o.expectation.key, held=o.held, detail=o.detail)
                for o in self.outcomes
            ],
        )

    def as_dict(self) -> dict[str, object]:
        """:meth:`record` as JSON: ``{"state": "verified" | "not_verified", "detail": str, "checks":
        [{"check": str, "object": "Kind/ns/name", "held": bool, "detail": str}, ...]}``."""
        return self.record().model_dump(mode="json")


class VerificationState(StrEnum):
    """Where a write's verification stands: ``verifying`` (under way, in the background or owed
    after a restart), ``verified``, ``not_verified`` (escalated) or ``skipped`` (nothing to check,
    dry run, disabled, no verifier, or the write failed)."""

    VERIFYING = "verifying"
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    SKIPPED = "skipped"


class CheckRecord(BaseModel):
    """One expectation's outcome as kept on the step record: the ``check`` name, the ``object``
    (``Kind/ns/name``), whether it ``held`` and the last observation's ``detail``."""

    check: str
    object: str
    held: bool
    detail: str


class Verification(BaseModel):
    """A write step's verification as persisted on its record (``StepRecord.verification``) and shown
    by the API, the CLI and chat. ``checks``: one per expectation once it ended (verified or not);
    None (and left out of the JSON) while verifying or when skipped."""

    state: VerificationState
    detail: str
    checks: list[CheckRecord] | None = Field(default=None, exclude_if=lambda checks: checks is None)


class Verifier:
    """Polls the cluster (GET/LIST only) until expectations hold; see the module docstring for the rules.

    ``poll_seconds``: the interval between observations of one expectation (seconds).
    ``clock``/``sleep``: monotonic seconds and the awaitable sleep, injectable for tests.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        poll_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        self._kube = kube
        self._poll = poll_seconds
        self._clock = clock
        self._sleep = sleep

    async def verify(self, expectations: Sequence[Expectation]) -> VerificationResult:
        """Check every expectation concurrently until it settles or times out; never writes.

        Each is polled every ``poll_seconds`` until its condition has held without interruption
        for its ``settle_seconds`` (settle 0: one observation holding suffices), or its
        ``timeout_seconds`` pass (then ``held=False`` with the last detail). An API error during
        a poll counts as not holding, with the error as detail. An empty list is verified.
        """
        async with asyncio.TaskGroup() as group:  # an unexpected error cancels the other checks
            tasks = [group.create_task(self._settle(e)) for e in expectations]
        outcomes = [t.result() for t in tasks]
        return VerificationResult(verified=all(o.held for o in outcomes), outcomes=outcomes)

    async def observe(self, expectation: Expectation) -> tuple[bool, str]:
        """One observation: (holds now, detail). API errors give ``(False, <the error>)``."""
        look = await self._look(expectation)
        return look.holds, look.detail

    # --- the settle loop -------------------------------------------------------------------------

    async def _settle(self, expectation: Expectation) -> CheckOutcome:
        """Poll one expectation until it held for ``settle_seconds`` or ``timeout_seconds`` passed."""
        settle, timeout = max(expectation.settle_seconds, 0.0), max(expectation.timeout_seconds, 0.0)
        start = self._clock()
        deadline = start + timeout
        held_since: float | None = None
        seen: Restarts = {}
        interruptions = 0
        last_break = ""
        while True:
            look = await self._look(expectation)
            now = self._clock()
            holds, detail = look.holds, look.detail
            restarted = _restarted(seen, look.restarts)
            seen.update(look.restarts)
            if holds and restarted:
                holds, detail = False, restarted
            if holds:
                held_since = now if held_since is None else held_since
                if now - held_since >= settle:
                    text = _settled(expectation, detail, now - held_since, interruptions, last_break)
                    return CheckOutcome(expectation, True, text)
            else:
                if held_since is not None:  # it held, then stopped: the settle period starts over
                    interruptions += 1
                    last_break = detail
                held_since = None
            if now >= deadline:
                text = _unsettled(
                    detail,
                    waited=now - start,
                    held_since=held_since,
                    now=now,
                    settle=settle,
                    last_break=last_break,
                )
                return CheckOutcome(expectation, False, text)
            await self._sleep(min(self._poll, deadline - now))

    async def _look(self, expectation: Expectation) -> Look:
        check = CHECKS.get(expectation.check)
        if check is None:
            return Look(False, f"unknown check {expectation.check!r}")
        try:
            return await check(self._kube, expectation)
        except NotFound:
            return Look(False, f"{name_of(expectation)} not found")
        except ApiError as exc:
            return Look(False, f"cannot read {name_of(expectation)}: {exc}")
        except (LookupError, TypeError, ValueError, AttributeError) as exc:
            return Look(False, f"cannot judge {name_of(expectation)}: malformed object ({exc})")


# --- the settle loop's words ---------------------------------------------------------------------


def _restarted(seen: Restarts, now: Restarts) -> str:
    """A detail naming the first container whose ``restartCount`` went up since the last poll, else ``""``."""
    for key, (pod, count) in now.items():
        before = seen.get(key)
        if before is not None and count > before[1]:
            return f"pod {pod} container {key[1]} restarted (restarts {before[1]} → {count})"
    return ""


def _settled(e: Expectation, detail: str, held: float, interruptions: int, last_break: str) -> str:
    """The detail of a condition that settled: ``"..., held for 30 s (interrupted 1 time: ...)"``."""
    text = detail
    if e.settle_seconds > 0:
        text += (
            f", no restarts for {_secs(held)} s"
            if e.check == "pod_replaced"
            else f", held for {_secs(held)} s"
        )
    if interruptions:
        text += f" (interrupted {interruptions} time{'s' if interruptions > 1 else ''}, last: {last_break})"
    return text


def _unsettled(
    detail: str, *, waited: float, held_since: float | None, now: float, settle: float, last_break: str
) -> str:
    """The detail of a condition that timed out: the last observation, and why it did not settle."""
    if held_since is None:
        return f"{detail} (gave up after {_secs(waited)} s)"
    text = f"{detail}, but held only {_secs(now - held_since)} s of the {_secs(settle)} s settle period"
    return text + (f" (last interrupted: {last_break})" if last_break else "")


def _secs(seconds: float) -> str:
    """``30.0`` → ``30``, ``0.25`` → ``0.2`` (one decimal, no trailing zero)."""
    return f"{seconds:.1f}".rstrip("0").rstrip(".") or "0"
