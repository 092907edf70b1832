"""Verification: after a write, poll the cluster until each expected outcome has held for a while.

Fed by: the executor, with the :class:`aiops.actions.plan.Expectation` list of the plan it just
applied (settle/timeout from the step's ``verify`` or ``SafetySettings.verify_settle_seconds`` /
``verify_timeout_seconds``; the poll interval from ``SafetySettings.verify_poll_seconds``).
Consumed by: the executor, which persists :meth:`VerificationResult.as_dict` on the step record,
and the API, CLI and chat, which show its ``detail``.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.actions.plan import Expectation
from aiops.kube import ApiError, Kube, NotFound

#: Annotation the kubelet puts on a mirror pod (the API object of a static pod).
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

#: How many pod names a detail lists before it says "and N more".
_MAX_LISTED = 5

#: Restart key ``(pod uid, container name)`` → (``ns/pod`` shown in details, ``restartCount``).
Restarts = dict[tuple[str, str], tuple[str, int]]


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible, for the step record.

        Shape: ``{"state": "verified" | "not_verified", "detail": str, "checks": [{"check": str,
        "object": "Kind/ns/name", "held": bool, "detail": str}, ...]}``.
        """
        return {
            "state": "verified" if self.verified else "not_verified",
            "detail": self.detail,
            "checks": [
                {
                    "check": o.expectation.check,
                    "object": o.expectation.key,
                    "held": o.held,
                    "detail": o.detail,
                }
                for o in self.outcomes
            ],
        }


@dataclass(frozen=True)
class _Look:
    """One observation: whether the condition holds, in words, and (pod_replaced) restart counts."""

    holds: bool
    detail: str
    restarts: Restarts = field(default_factory=dict)


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
        self._checks: dict[str, Callable[[Expectation], Awaitable[_Look]]] = {
            "pod_replaced": self._pod_replaced,
            "rollout_complete": self._rollout_complete,
            "replicas_ready": self._replicas_ready,
            "autoscaler_ceiling": self._autoscaler_ceiling,
            "node_unschedulable": self._node_cordon,
            "node_schedulable": self._node_cordon,
            "node_drained": self._node_drained,
        }

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

    async def _look(self, expectation: Expectation) -> _Look:
        check = self._checks.get(expectation.check)
        if check is None:
            return _Look(False, f"unknown check {expectation.check!r}")
        try:
            return await check(expectation)
        except NotFound:
            return _Look(False, f"{_name(expectation)} not found")
        except ApiError as exc:
            return _Look(False, f"cannot read {_name(expectation)}: {exc}")
        except (LookupError, TypeError, ValueError, AttributeError) as exc:
            return _Look(False, f"cannot judge {_name(expectation)}: malformed object ({exc})")

    # --- the checks --------------------------------------------------------------------------

    async def _pod_replaced(self, e: Expectation) -> _Look:
        old_uid = str(e.values.get("old_uid") or "")
        controller_uid = str(e.values.get("controller_uid") or "")
        controller = str(e.values.get("controller") or controller_uid).replace("/", " ", 1)
        if not controller_uid:
            return _Look(False, "the expectation names no controller_uid: nothing replaces the pod")
        pods = await self._kube.list(e.api_version, e.kind, e.namespace)
        restarts: Restarts = {}
        for pod in pods:
            meta = _map(pod, "metadata")
            if old_uid and meta.get("uid") == old_uid and not meta.get("deletionTimestamp"):
                return _Look(False, f"old pod {_pod_name(pod)} (uid {old_uid}) still exists")
        owned = [
            p
            for p in pods
            if not _map(p, "metadata").get("deletionTimestamp")
            and any(
                _map_of(r).get("uid") == controller_uid for r in _list(_map(p, "metadata"), "ownerReferences")
            )
        ]
        if not owned:
            return _Look(False, f"no pod of {controller} exists yet")
        ready = [p for p in owned if _pod_ready(p)]
        for pod in owned:
            uid = str(_map(pod, "metadata").get("uid") or _pod_name(pod))
            for status in _container_statuses(pod):
                count = _int(status.get("restartCount"))
                restarts[uid, str(status.get("name") or "?")] = (_pod_name(pod), count)
        for pod in owned:
            for status in _container_statuses(pod):
                waiting = _map(_map(status, "state"), "waiting")
                if waiting.get("reason") == "CrashLoopBackOff":
                    return _Look(
                        False,
                        f"pod {_pod_name(pod)} is in CrashLoopBackOff (container {status.get('name')}, "
                        f"restarts {_int(status.get('restartCount'))})",
                        restarts,
                    )
        counts = f"{len(ready)}/{len(owned)} pods of {controller} Ready"
        if len(ready) < len(owned):
            pod = next(p for p in owned if not _pod_ready(p))
            return _Look(
                False, f"{counts}; pod {_pod_name(pod)} is not Ready ({_why_not_ready(pod)})", restarts
            )
        return _Look(True, f"{counts}, none in CrashLoopBackOff", restarts)

    async def _rollout_complete(self, e: Expectation) -> _Look:
        obj = await self._kube.get(e.api_version, e.kind, e.namespace, e.name)
        meta, spec, status = _map(obj, "metadata"), _map(obj, "spec"), _map(obj, "status")
        name = _name(e)
        wanted_generation = max(_int(e.values.get("min_generation")), _int(meta.get("generation")))
        observed = _int(status.get("observedGeneration"))
        if observed < wanted_generation or (e.kind == "StatefulSet" and observed == 0):
            return _Look(
                False,
                f"waiting for {name} spec update to be observed "
                f"(observedGeneration {observed} < {wanted_generation})",
            )
        if e.kind == "Deployment":
            return _deployment_rollout(name, spec, status)
        if e.kind == "StatefulSet":
            return _statefulset_rollout(name, spec, status)
        if e.kind == "DaemonSet":
            return _daemonset_rollout(name, spec, status)
        return _Look(False, f"rollout status is not defined for kind {e.kind}")

    async def _replicas_ready(self, e: Expectation) -> _Look:
        obj = await self._kube.get(e.api_version, e.kind, e.namespace, e.name)
        spec, status = _map(obj, "spec"), _map(obj, "status")
        wanted = _int(e.values.get("replicas"))
        desired = _int(spec.get("replicas"), default=1)
        ready, current = _int(status.get("readyReplicas")), _int(status.get("replicas"))
        name = _name(e)
        if desired != wanted:
            return _Look(False, f"{name} wants {desired} replicas, not {wanted}")
        if wanted == 0:
            if current:
                return _Look(False, f"{name} scaled to 0 but {current} pods remain")
            return _Look(True, f"{name} scaled to 0, no pods remain")
        if ready < wanted:
            return _Look(False, f"{ready}/{wanted} replicas of {name} ready")
        return _Look(True, f"{ready}/{wanted} replicas of {name} ready")

    async def _autoscaler_ceiling(self, e: Expectation) -> _Look:
        obj = await self._kube.get(e.api_version, e.kind, e.namespace, e.name)
        wanted = _int(e.values.get("max_replicas"))
        actual = _map(obj, "spec").get("maxReplicas")
        return _Look(actual == wanted, f"{_name(e)} maxReplicas is {actual} (expected {wanted})")

    async def _node_cordon(self, e: Expectation) -> _Look:
        obj = await self._kube.get(e.api_version, e.kind, e.namespace, e.name)
        cordoned = bool(_map(obj, "spec").get("unschedulable"))
        wanted = e.check == "node_unschedulable"
        return _Look(cordoned == wanted, f"node {e.name} is {'un' if cordoned else ''}schedulable")

    async def _node_drained(self, e: Expectation) -> _Look:
        obj = await self._kube.get(e.api_version, e.kind, e.namespace, e.name)
        if not _map(obj, "spec").get("unschedulable"):
            return _Look(False, f"node {e.name} is schedulable (not cordoned)")
        pods = await self._kube.list("v1", "Pod", None, field_selector=f"spec.nodeName={e.name}")
        left = [p for p in pods if not _drain_ignores(p)]
        if left:
            names = [_pod_name(p) for p in left]
            shown = ", ".join(names[:_MAX_LISTED]) + (
                f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
            )
            return _Look(False, f"node {e.name} still runs {len(left)} pod(s): {shown}")
        ignored = len(pods) - len(left)
        return _Look(
            True,
            f"node {e.name} is cordoned and drained"
            + (f" ({ignored} DaemonSet, mirror, finished or terminating pod(s) left)" if ignored else ""),
        )


# --- rollout rules (kubectl rollout_status.go) -------------------------------------------------


def _deployment_rollout(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> _Look:
    """``DeploymentStatusViewer.Status``, once the spec update is observed."""
    for cond in _list(status, "conditions"):
        if (
            _map_of(cond).get("type") == "Progressing"
            and _map_of(cond).get("reason") == "ProgressDeadlineExceeded"
        ):
            return _Look(False, f"{name} exceeded its progress deadline")
    desired = _int(spec.get("replicas"), default=1)
    updated, replicas = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    waiting = f"waiting for {name} rollout to finish: "
    if updated < desired:
        return _Look(False, f"{waiting}{updated} out of {desired} new replicas have been updated")
    if replicas > updated:
        return _Look(False, f"{waiting}{replicas - updated} old replicas are pending termination")
    if available < updated:
        return _Look(False, f"{waiting}{available} of {updated} updated replicas are available")
    return _Look(True, f"{name} successfully rolled out ({available}/{desired} updated replicas available)")


def _statefulset_rollout(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> _Look:
    """``StatefulSetStatusViewer.Status``, plus the revision check whenever there is no partition."""
    strategy = _map(spec, "updateStrategy")
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return _Look(False, f"rollout status is only available for RollingUpdate strategy ({name})")
    desired = _int(spec.get("replicas"), default=1)
    ready, updated = _int(status.get("readyReplicas")), _int(status.get("updatedReplicas"))
    if ready < desired:
        return _Look(False, f"waiting for {desired - ready} pods of {name} to be ready")
    partition = _int(_map(strategy, "rollingUpdate").get("partition"))
    if updated < desired - partition:
        return _Look(
            False,
            f"waiting for {name} rollout to finish: {updated} out of {desired - partition} new pods updated",
        )
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if not partition and current and update and current != update:
        return _Look(
            False, f"waiting for {name} rolling update to complete: {updated} pods at revision {update}"
        )
    return _Look(True, f"{name} rolling update complete: {updated}/{desired} pods updated and ready")


def _daemonset_rollout(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> _Look:
    """``DaemonSetStatusViewer.Status``, once the spec update is observed."""
    if (_map(spec, "updateStrategy").get("type") or "RollingUpdate") != "RollingUpdate":
        return _Look(False, f"rollout status is only available for RollingUpdate strategy ({name})")
    desired = _int(status.get("desiredNumberScheduled"))
    updated, available = _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable"))
    waiting = f"waiting for {name} rollout to finish: "
    if updated < desired:
        return _Look(False, f"{waiting}{updated} out of {desired} new pods have been updated")
    if available < desired:
        return _Look(False, f"{waiting}{available} of {desired} updated pods are available")
    return _Look(True, f"{name} successfully rolled out ({available}/{desired} pods available)")


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


# --- reading raw bodies (lenient: missing or null → empty) ---------------------------------------


def _map(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _map_of(obj.get(key))


def _map_of(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _int(value: object, *, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _name(e: Expectation) -> str:
    """``Deployment shop/web`` or ``Node n1``."""
    return f"{e.kind} {e.namespace}/{e.name}" if e.namespace else f"{e.kind} {e.name}"


def _pod_name(pod: Mapping[str, Any]) -> str:
    meta = _map(pod, "metadata")
    return f"{meta.get('namespace') or '-'}/{meta.get('name') or '?'}"


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = _map(pod, "status")
    items = _list(status, "initContainerStatuses") + _list(status, "containerStatuses")
    return [_map_of(s) for s in items]


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    """Condition ``Ready`` is ``"True"`` (Pod lifecycle docs, "Pod conditions")."""
    return any(
        _map_of(c).get("type") == "Ready" and _map_of(c).get("status") == "True"
        for c in _list(_map(pod, "status"), "conditions")
    )


def _why_not_ready(pod: Mapping[str, Any]) -> str:
    for status in _container_statuses(pod):
        reason = _map(_map(status, "state"), "waiting").get("reason")
        if reason:
            return f"container {status.get('name')} waiting: {reason}"
    return f"phase {_map(pod, 'status').get('phase') or 'unknown'}"


def _drain_ignores(pod: Mapping[str, Any]) -> bool:
    """Whether a pod on the node does not stop it counting as drained (kubectl drain's filters)."""
    meta, status = _map(pod, "metadata"), _map(pod, "status")
    if meta.get("deletionTimestamp"):
        return True
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    if MIRROR_ANNOTATION in _map(meta, "annotations"):
        return True
    refs = [_map_of(r) for r in _list(meta, "ownerReferences")]
    controller = next((r for r in refs if r.get("controller") is True), None)
    return controller is not None and controller.get("kind") == "DaemonSet"
