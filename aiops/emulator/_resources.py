"""The resources the cluster emulator serves, as the API server's discovery documents list them.

Fed by: nothing (static data). Consumed by: :class:`aiops.emulator.emulator.ClusterEmulator`, which
registers each one with kmock (served by ``/api``, ``/apis``, ``/apis/GROUP/VERSION`` discovery).

Sources: the Kubernetes API reference (https://kubernetes.io/docs/reference/kubernetes-api/), one
page per kind, and aiops' own ``Playbook`` CRD (``aiops.dev/v1alpha1``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The verbs every served resource answers (``deletecollection`` is not emulated).
VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

#: API groups built into Kubernetes; any other group is a custom resource (no strategic merge patch).
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
    }
)


@dataclass(frozen=True)
class ResourceSpec:
    """One resource: ``group``/``version``/``plural``, its ``kind``, scope and subresources."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version


SERVED: tuple[ResourceSpec, ...] = (
    ResourceSpec("", "v1", "namespaces", "Namespace", False, ("status",)),
    ResourceSpec("", "v1", "pods", "Pod", True, ("log", "eviction", "status")),
    ResourceSpec("", "v1", "nodes", "Node", False, ("status",)),
    ResourceSpec("", "v1", "events", "Event", True),
    ResourceSpec("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("status",)),
    ResourceSpec("", "v1", "configmaps", "ConfigMap", True),
    ResourceSpec("apps", "v1", "deployments", "Deployment", True, ("scale", "status")),
    ResourceSpec("apps", "v1", "replicasets", "ReplicaSet", True, ("scale", "status")),
    ResourceSpec("apps", "v1", "statefulsets", "StatefulSet", True, ("scale", "status")),
    ResourceSpec("apps", "v1", "daemonsets", "DaemonSet", True, ("status",)),
    ResourceSpec("batch", "v1", "jobs", "Job", True, ("status",)),
    ResourceSpec("batch", "v1", "cronjobs", "CronJob", True, ("status",)),
    ResourceSpec(
        "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("status",)
    ),
    ResourceSpec("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("status",)),
    ResourceSpec("events.k8s.io", "v1", "events", "Event", True),
    ResourceSpec(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("status",),
    ),
    ResourceSpec("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceSpec("aiops.dev", "v1alpha1", "playbooks", "Playbook", True, ("status",)),
    # RBAC objects: SubjectAccessReviews are answered from them (aiops.emulator.rbac).
    ResourceSpec("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
)
