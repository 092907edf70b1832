"""Representative runs of aiops' own Kubernetes-facing code against the emulator, for tests/chart.

:func:`exercise` seeds a small cluster (two nodes; a Deployment with two ReplicaSet revisions and a
crash-looping pod; a StatefulSet, a DaemonSet, a HorizontalPodAutoscaler and a PodDisruptionBudget)
and runs, through a real :class:`aiops.kube.Kube`: every action of the catalog (each write action
planned as the executor plans it, with the guards' facts and the dry-run preview, its expectations
checked by the verifier's checks, then run; on every kind it accepts),
enrichment's collection for an object of each watched kind, a Playbook resource (for the
operator to load and report on), a Lease campaign (acquire, renew, release) and a
SubjectAccessReview. Results are not asserted: the emulator's ``calls`` are what the caller wants.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiops import errors
from aiops import kube as kube_mod
from aiops.actions import catalog, facts, preview, registry
from aiops.actions.base import ActionContext, ActionLimits, AuditEntry
from aiops.emulator import ClusterEmulator
from aiops.enrichment import collect
from aiops.events.model import ClusterEvent, EventType, ObjectRef
from aiops.kube import access
from aiops.kube.lease import LeaseElector
from aiops.operator import WATCHED
from aiops.safety.checks import CHECKS
from tests.support.kube_fixtures import deployment, node, pdb, pod, replicaset

NS = "shop"
#: The namespace the operator runs in (its Leases live there).
OPERATOR_NS = "aiops-system"


class _Audit:
    async def record(self, entry: AuditEntry) -> None:
        """Audit entries are not looked at here."""


def _workload(kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        },
    }
    if kind == "StatefulSet":
        spec |= {"replicas": 2, "serviceName": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": spec,
        "status": {},
    }


def seed(emulator: ClusterEmulator) -> None:
    """The cluster every flow runs in (namespace ``shop``)."""
    emulator.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    emulator.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NS}})
    emulator.put_object(node("n1"))
    emulator.put_object(node("n2"))
    web = emulator.put_object(deployment("web", NS, replicas=3, image="app:2", revision=2))
    emulator.put_object(replicaset(web, revision=1, image="app:1", hash_="old"))
    current = emulator.put_object(replicaset(web, revision=2, image="app:2", hash_="new"))
    for i in range(3):
        emulator.put_object(
            pod(f"web-new-{i}", NS, owner=current, node="n1", ready=i > 0, labels={"app": "web"})
        )
    emulator.set_pod_log(NS, "web-new-0", "panic: boom\n")
    db = emulator.put_object(_workload("StatefulSet", "db"))
    emulator.put_object(pod("db-0", NS, owner=db, node="n1", labels={"app": "db"}))
    agent = emulator.put_object(_workload("DaemonSet", "agent"))
    emulator.put_object(pod("agent-n1", NS, owner=agent, node="n1", labels={"app": "agent"}))
    emulator.put_object(pdb("web", NS, match_labels={"app": "web"}, max_unavailable=1))
    emulator.put_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"},
        }
    )
    emulator.put_object(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "backup", "namespace": NS},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "b:1"}]}
                }
            },
            "status": {"failed": 1},
        }
    )
    emulator.put_object(
        {
            "apiVersion": "aiops.dev/v1alpha1",
            "kind": "Playbook",
            "metadata": {"name": "shop-note", "namespace": NS},
            "spec": {
                "description": "A note for the shop team",
                "triggers": ["crash_loop"],
                "steps": [{"name": "tell", "action": "notify", "risk": "low", "params": {"message": "look"}}],
            },
        }
    )
    emulator.put_object(  # refused by the loader: its status says so, with one Event per problem
        {
            "apiVersion": "aiops.dev/v1alpha1",
            "kind": "Playbook",
            "metadata": {"name": "shop-broken", "namespace": NS},
            "spec": {
                "triggers": ["crash_loop"],
                "steps": [{"name": "oops", "action": "no_such_action", "risk": "low", "params": {}}],
            },
        }
    )
    emulator.put_object(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 4,
            },
            "status": {"currentReplicas": 4, "desiredReplicas": 6},
        }
    )


def _steps() -> list[tuple[str, dict[str, Any]]]:
    """(action, params) for every catalog action, every write action on each kind it accepts."""
    ref = {"api_version": "v1", "kind": "Pod", "namespace": NS, "name": "web-new-0"}
    workloads = ("Deployment", "StatefulSet", "DaemonSet")
    names = {"Deployment": "web", "StatefulSet": "db", "DaemonSet": "agent", "ReplicaSet": "web-new"}
    steps: list[tuple[str, dict[str, Any]]] = [
        ("describe", ref),
        ("describe", {"api_version": "apps/v1", "kind": "Deployment", "namespace": NS, "name": "web"}),
        ("describe", {"api_version": "v1", "kind": "Node", "name": "n1"}),
        ("events", {"kind": "Pod", "namespace": NS, "name": "web-new-0"}),
        ("logs", {"namespace": NS, "pod": "web-new-0"}),
        ("logs", {"namespace": NS, "pod": "web-new-0", "previous": True}),
        ("rollout_history", {"namespace": NS, "deployment": "web"}),
        ("notify", {"message": "checked"}),
        ("delete_pod", {"namespace": NS, "pod": "web-new-0"}),
        ("cordon", {"node": "n2"}),
        ("uncordon", {"node": "n2"}),
        ("rollback", {"namespace": NS, "name": "web"}),
    ]
    for kind in workloads:
        steps.append(("rollout_restart", {"kind": kind, "namespace": NS, "name": names[kind]}))
        steps.append(
            (
                "patch_resources",
                {
                    "kind": kind,
                    "namespace": NS,
                    "name": names[kind],
                    "container": "app",
                    "memory_limit": "512Mi",
                },
            )
        )
    for kind in ("Deployment", "StatefulSet", "ReplicaSet", "HorizontalPodAutoscaler"):
        steps.append(
            (
                "scale",
                {
                    "kind": kind,
                    "namespace": NS,
                    "name": names.get(kind, "web"),
                    "delta": 1,
                    "max_replicas": 10,
                },
            )
        )
    steps.append(("drain", {"node": "n1", "timeout_seconds": 0.2}))
    missing = set(catalog.CATALOG) - {name for name, _ in steps}
    assert not missing, f"no flow for the actions {sorted(missing)}"
    return steps


async def _actions(kube: kube_mod.Kube) -> None:
    actions = registry.builtin_actions()
    ctx = ActionContext(
        kube=kube,
        audit=_Audit(),
        actor="alice",
        run_id="run-1",
        request_id="req-1",
        limits=ActionLimits(eviction_retry_seconds=0.01, eviction_timeout_seconds=0.2),
    )
    for name, raw in _steps():
        action = actions[name]
        params = action.params.model_validate(raw)
        if action.plan is not None:
            with contextlib.suppress(errors.AiopsError, kube_mod.ApiError):
                plan = await facts.complete(ctx, await action.plan(ctx, params))
                await preview.preview(ctx, plan)
                for expectation in plan.expect:
                    await CHECKS[expectation.check](kube, expectation)
        with contextlib.suppress(errors.AiopsError, kube_mod.ApiError):
            await action.run(ctx, params)


#: An object of each watched kind (``aiops.operator.WATCHED`` plural → reference) that an incident
#: can be about; events (``events``) are never an incident's resource.
_SUBJECTS: dict[str, ObjectRef] = {
    "pods": ObjectRef(api_version="v1", kind="Pod", namespace=NS, name="web-new-1"),
    "nodes": ObjectRef(api_version="v1", kind="Node", name="n1"),
    "persistentvolumeclaims": ObjectRef(
        api_version="v1", kind="PersistentVolumeClaim", namespace=NS, name="data"
    ),
    "deployments": ObjectRef(api_version="apps/v1", kind="Deployment", namespace=NS, name="web"),
    "replicasets": ObjectRef(api_version="apps/v1", kind="ReplicaSet", namespace=NS, name="web-new"),
    "horizontalpodautoscalers": ObjectRef(
        api_version="autoscaling/v2", kind="HorizontalPodAutoscaler", namespace=NS, name="web"
    ),
    "jobs": ObjectRef(api_version="batch/v1", kind="Job", namespace=NS, name="backup"),
}


def _events() -> list[ClusterEvent]:
    """One event per watched kind for enrichment: the pod's owned by the Deployment."""
    missing = {plural for _, _, plural in WATCHED} - set(_SUBJECTS) - {"events"}
    assert not missing, f"no enrichment flow for the watched kinds {sorted(missing)}"
    owner = _SUBJECTS["deployments"]
    return [
        ClusterEvent(
            type=EventType.CRASH_LOOP,
            resource=ref,
            owner=owner if ref.kind in ("Pod", "ReplicaSet") else None,
            details={"container": "app"} if ref.kind == "Pod" else {},
        )
        for ref in _SUBJECTS.values()
    ]


async def exercise(emulator: ClusterEmulator) -> tuple[int, int]:
    """Seed the cluster and run every flow (see the module docstring); returns the range
    ``(start, end)`` of ``emulator.calls`` the actions made."""
    seed(emulator)
    kube = kube_mod.Kube.for_server(emulator.url)
    try:
        start = len(emulator.calls)
        await _actions(kube)
        end = len(emulator.calls)
        for event in _events():
            await collect.collect(kube, event)
        elector = LeaseElector(kube, namespace=OPERATOR_NS, name="aiops", identity="pod-a")
        await elector.try_acquire_or_renew()
        await elector.try_acquire_or_renew()
        await elector.release()
        await access.subject_access_review(
            kube,
            access.ResourceAttributes(
                verb="patch", group="apps", resource="deployments", namespace=NS, name="web"
            ),
            user="alice@example.com",
            groups=[],
        )
    finally:
        await kube.close()
    return start, end
