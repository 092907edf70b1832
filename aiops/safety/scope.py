"""Namespace scoping of every step, reads included: may this step touch these namespaces at all?

Fed by: the executor, right after a step's params are rendered and validated, with the params'
:class:`~aiops.actions._common.Reach` (the namespaces it touches, and whether it touches
cluster-scoped objects or every namespace), whether the action writes, and the playbook's home
namespace (a ``Playbook`` resource's own; ``None`` for file playbooks). Consumed by: the
executor, which records a :class:`~aiops.safety.guard_rules.Block` as a blocked step and escalates,
so the step never reaches the Kubernetes API.

Two rules, checked in this order (the first that objects answers):

1. ``playbook_namespace``: a playbook defined by a ``Playbook`` resource acts only in the
   resource's own namespace, reads included, and never on cluster-scoped objects (a Node) or
   across every namespace. Whoever may create a ``Playbook`` in namespace ``shop`` can make
   aiops act in ``shop``, nowhere else (docs/playbooks.md, "Playbook custom resources").
2. ``namespace`` / ``protected`` for reads: a read step touches only namespaces that match
   ``safety.namespaces`` and none of ``safety.exclude_namespaces`` (fnmatch globs), and never a
   protected namespace (``safety.protected_namespaces`` plus the operator's own): the same scope
   as writes, so what aiops may not change it does not read either (a kube-system pod's env and
   logs stay out of the API). Writes get these checks from :class:`~aiops.safety.guards.Guards`
   on their plan's facts (where a drain may evict in kube-system under its budgets).

Cluster-scoped reads (describe a Node) stay allowed for file playbooks, which the operators
review.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.actions._common import Reach
from aiops.safety import guard_rules
from aiops.safety.guard_rules import Block
from aiops.settings import SafetySettings

__all__ = ["step_scope_block"]


def step_scope_block(
    reach: Reach,
    *,
    writes: bool,
    home_namespace: str | None,
    settings: SafetySettings,
    protected: Iterable[str],
) -> Block | None:
    """The :class:`Block` that keeps a step out of where it reaches, or None when it may go on.

    ``reach``: from the step's validated params (``Params.reach()``). ``writes``: the action writes
    (the guards then check its namespaces on the plan). ``home_namespace``: the namespace of the
    ``Playbook`` resource that defines the playbook, None for a file playbook. ``protected``: the
    protected namespaces in force (settings plus the operator's own). Pure: reads nothing else.
    """
    if home_namespace is not None:
        if reach.cluster:
            return Block(
                "playbook_namespace",
                f"a Playbook resource in namespace {home_namespace} may act only on objects in "
                f"{home_namespace}; this step reaches cluster-scoped objects or every namespace",
            )
        for namespace in sorted(reach.namespaces):
            if namespace != home_namespace:
                return Block(
                    "playbook_namespace",
                    f"a Playbook resource in namespace {home_namespace} may act only on objects in "
                    f"{home_namespace}, not in namespace {namespace}",
                )
    if writes:
        return None
    protected_set = frozenset(protected)
    for namespace in sorted(reach.namespaces):
        block = guard_rules.namespace_block(namespace, settings, protected_set)
        if block is not None:
            return block
    return None
