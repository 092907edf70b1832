"""Whether the Eviction API may evict a pod, computed as the disruption controller would (emulator internals).

Fed by: the emulator's ``POST pods/NAME/eviction`` handler with the pod, the namespace's
PodDisruptionBudgets and its pods, and by :meth:`ClusterEmulator.present` for every
PodDisruptionBudget it serves. Pure functions; the handler turns a refusal into the API answer.

Rules, from "API-initiated Eviction" (https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/),
"Specifying a Disruption Budget" (https://kubernetes.io/docs/tasks/run-application/configure-pdb/) and the
PodDisruptionBudget reference (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/pod-disruption-budget-v1/):

* A pod that is Pending, Succeeded, Failed or already terminating is evicted without a budget check.
* A pod covered by no budget is evicted; by more than one, the API answers 500.
* covered = the pods the budget's selector selects that are not terminating; healthy = the covered
  pods that are Ready. expected = every selected pod (terminating ones included) for an integer
  ``minAvailable``; for a percentage or ``maxUnavailable`` it is the sum of the covered pods'
  controllers' replicas (a ReplicaSet owned by a Deployment counts the Deployment's), as the
  disruption controller computes it, falling back to the number of covered pods when a controller
  cannot be found (the emulator has no controllers to recreate evicted pods).
  ``minAvailable``: desired = the int, or ceil(percent × expected);
  ``maxUnavailable``: desired = expected - the int, or expected - ceil(percent × expected).
  disruptionsAllowed = max(0, healthy - desired), and 0 while expected is 0.
* The same counts (:func:`budget_counts`) are served as the budget's ``status``
  (:func:`budget_status`), so what a client reads always agrees with what eviction decides.
* A Ready pod is evicted only when disruptionsAllowed > 0. A pod that is not Ready is evicted when
  ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``, or when healthy >= desired > 0; else as a Ready pod.
* A refusal is 429 TooManyRequests with the cause "The disruption budget NAME needs M healthy pods
  and has N currently".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiops import bodies
from aiops.emulator import _selectors

TOO_MANY_REQUESTS_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_PDBS_MESSAGE = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)


class MultipleBudgets(Exception):
    """More than one PodDisruptionBudget covers the pod (the API answers 500)."""


@dataclass(frozen=True)
class Refusal:
    """The budget that blocks an eviction: its name, desired and current healthy pod counts."""

    budget: str
    desired_healthy: int
    current_healthy: int

    @property
    def cause(self) -> str:
        """The ``details.causes[].message`` the API server writes."""
        return (
            f"The disruption budget {self.budget} needs {self.desired_healthy} healthy pods"
            f" and has {self.current_healthy} currently"
        )


def _scaled(value: Any, total: int) -> int:
    """An IntOrString: the int, or the percentage of ``total`` rounded up."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


#: Looks up a pod's controller (an ownerReference) in a namespace: (controller uid, replicas) or None.
ControllerScale = Callable[[Mapping[str, Any], str], tuple[str, int] | None]


def _expected(covered: list[Mapping[str, Any]], scale_of: ControllerScale) -> int:
    """The sum of the covered pods' controllers' replicas, or the number of pods if one is unknown."""
    replicas: dict[str, int] = {}
    for pod in covered:
        ref = bodies.controller_owner(pod)
        found = None if ref is None else scale_of(ref, str((pod.get("metadata") or {}).get("namespace", "")))
        if found is None:
            return len(covered)
        replicas[found[0]] = found[1]
    return sum(replicas.values())


@dataclass(frozen=True)
class BudgetCounts:
    """One budget's arithmetic, as the disruption controller writes it to ``status``.

    ``desired``/``current``/``expected``/``allowed`` are ``desiredHealthy``, ``currentHealthy``,
    ``expectedPods`` and ``disruptionsAllowed`` of the PodDisruptionBudgetStatus
    (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/pod-disruption-budget-v1/#PodDisruptionBudgetStatus).
    """

    desired: int
    current: int
    expected: int
    allowed: int


def _selects(budget: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether the budget's ``spec.selector`` selects the pod (a null or invalid selector: none)."""
    try:
        selector = _selectors.from_label_selector((budget.get("spec") or {}).get("selector"))
    except _selectors.SelectorError:
        return False
    return _selectors.labels_match(selector, (pod.get("metadata") or {}).get("labels"))


def budget_counts(
    budget: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], scale_of: ControllerScale
) -> BudgetCounts:
    """The budget's desired/current/expected/allowed counts over ``pods`` (its namespace's pods).

    As the disruption controller's ``getExpectedPodCount``/``countHealthyPods``/``updatePdbStatus``:
    current = selected pods that are Ready and not terminating; expected = every selected pod
    (terminating ones included) for an integer ``minAvailable``, else the sum of the non-terminating
    selected pods' controllers' replicas (the number of those pods when a controller is unknown);
    desired as in the module docstring; allowed = current - desired, but 0 when negative or when
    expected is 0 (a budget that selects nothing is kept safe for its first pods). The one source
    of truth for both the eviction check and the served ``status``.
    """
    spec = budget.get("spec") or {}
    selected = [p for p in pods if _selects(budget, p)]
    covered = [p for p in selected if not bodies.terminating(p)]
    current = sum(1 for p in covered if bodies.pod_ready(p))
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if max_unavailable is not None:
        expected = _expected(covered, scale_of)
        desired = max(0, expected - _scaled(max_unavailable, expected))
    elif isinstance(min_available, str) and min_available.endswith("%"):
        expected = _expected(covered, scale_of)
        desired = _scaled(min_available, expected)
    elif min_available is not None:
        expected, desired = len(selected), int(min_available)
    else:
        expected, desired = len(selected), 0
    allowed = max(0, current - desired) if expected > 0 else 0
    return BudgetCounts(desired=desired, current=current, expected=expected, allowed=allowed)


def budget_status(
    budget: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], scale_of: ControllerScale
) -> dict[str, Any]:
    """The ``status`` the disruption controller would write for ``budget`` given ``pods``.

    ``{currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods, observedGeneration,
    disruptedPods: {}}``; ``observedGeneration`` is ``metadata.generation`` (1 when unset). The
    emulator evicts at once, so no pod is ever pending in ``disruptedPods``; the ``conditions``
    (``DisruptionAllowed``) are not emulated. PodDisruptionBudgetStatus:
    https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/pod-disruption-budget-v1/#PodDisruptionBudgetStatus
    """
    counts = budget_counts(budget, pods, scale_of)
    return {
        "currentHealthy": counts.current,
        "desiredHealthy": counts.desired,
        "disruptionsAllowed": counts.allowed,
        "expectedPods": counts.expected,
        "observedGeneration": int((budget.get("metadata") or {}).get("generation") or 1),
        "disruptedPods": {},
    }


def check_eviction(
    pod: Mapping[str, Any],
    budgets: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    scale_of: ControllerScale,
) -> Refusal | None:
    """``None`` when the pod may be evicted, else the :class:`Refusal`.

    ``budgets`` and ``pods`` are those of the pod's namespace; ``scale_of`` finds a controller's
    replicas. The budget's counts come from :func:`budget_counts`, as its served status does.
    Raises :class:`MultipleBudgets`.
    """
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Pending", "Succeeded", "Failed") or bodies.terminating(pod):
        return None
    matching = [pdb for pdb in budgets if _selects(pdb, pod)]
    if not matching:
        return None
    if len(matching) > 1:
        raise MultipleBudgets(MULTIPLE_PDBS_MESSAGE)
    pdb = matching[0]
    counts = budget_counts(pdb, pods, scale_of)
    if not bodies.pod_ready(pod):
        if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
            return None
        if counts.current >= counts.desired > 0:
            return None
    if counts.allowed > 0:
        return None
    name = str((pdb.get("metadata") or {}).get("name", ""))
    return Refusal(budget=name, desired_healthy=counts.desired, current_healthy=counts.current)
