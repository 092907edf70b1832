"""Alert -> ClusterEvent: which event type an alert is, and which Kubernetes object it is about.

Fed by: :func:`aiops.sources.alertmanager.convert` with a validated :class:`~.model.Payload`.
Consumed by: the pipeline (``alert``), via the webhook receiver and its intake, and the
``aiops alerts convert`` CLI.

The built-in table (:data:`BUILTIN_RULES`) covers the kubernetes-mixin alerts shipped by
kube-prometheus (``/work/shared/data/alertmanager/alerts.json``). A rule names the event type, the
resource kind and the label holding the resource's name; the resource's namespace comes from
``namespace``. For every label ``X`` an ``exported_X`` label wins: Prometheus renames a series
label that clashes with a target label to ``exported_X`` when ``honor_labels`` is off, so
``exported_namespace``/``exported_pod`` describe the object while ``namespace``/``pod`` describe
the kube-state-metrics scrape target. A rule's kind decides which labels count, so the scrape
target's ``pod`` label on a Deployment alert is never read as the subject.

The dedup key equals the watch detectors' for the same problem: a pod alert names resource
``Pod ns/name``; its owner is set only when the labels prove it (see :func:`pod_owner`),
otherwise the pipeline's owner index folds it onto the workload, as it does for pod Events.
An alert with no table entry, or whose rule's name label is absent, becomes a generic
``alert`` event about the most specific object its labels name (:data:`GUESS_ORDER`), else a
synthetic ``monitoring.coreos.com/v1 Alert`` named after the alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aiops import errors
from aiops.events import model
from aiops.sources.alertmanager import model as am

__all__ = [
    "BUILTIN_RULES",
    "DEFAULT",
    "GUESS_ORDER",
    "KINDS",
    "AlertMapping",
    "MappingRule",
    "alert_event",
    "parse_rules",
    "pod_owner",
]

_T = model.EventType


@dataclass(frozen=True)
class Kind:
    """How a Kubernetes kind appears in alert labels: its apiVersion and its name label."""

    api_version: str
    name_label: str
    namespaced: bool = True


#: Kinds alert labels can name, with the kube-state-metrics label holding the object's name.
KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        "Pod": Kind("v1", "pod"),
        "Node": Kind("v1", "node", namespaced=False),
        "Deployment": Kind("apps/v1", "deployment"),
        "StatefulSet": Kind("apps/v1", "statefulset"),
        "DaemonSet": Kind("apps/v1", "daemonset"),
        "ReplicaSet": Kind("apps/v1", "replicaset"),
        "Job": Kind("batch/v1", "job_name"),
        "CronJob": Kind("batch/v1", "cronjob"),
        "HorizontalPodAutoscaler": Kind("autoscaling/v2", "horizontalpodautoscaler"),
        "PersistentVolumeClaim": Kind("v1", "persistentvolumeclaim"),
        "PersistentVolume": Kind("v1", "persistentvolume", namespaced=False),
        "PodDisruptionBudget": Kind("policy/v1", "poddisruptionbudget"),
        "ResourceQuota": Kind("v1", "resourcequota"),
    }
)

#: For alerts without a rule: the kinds tried in order, most specific object first. Workload
#: labels come before ``pod`` because on kube-state-metrics series ``pod`` may be the scrape target.
GUESS_ORDER = (
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "Pod",
    "Node",
    "PersistentVolume",
)

#: The resource of an alert that names no object: one per alertname (and namespace).
SYNTHETIC_API_VERSION = "monitoring.coreos.com/v1"
SYNTHETIC_KIND = "Alert"


class MappingRule(BaseModel):
    """How one alertname maps: written by users in YAML, so unknown keys are refused.

    ``type`` is the event type; ``kind`` the resource kind (``None``: guess from the labels);
    ``name_label`` the label with the object's name (default: the kind's own, see :data:`KINDS`);
    ``api_version`` is required for kinds not in :data:`KINDS`. ``type_label`` + ``types``
    refine the type by a label's value (``KubeContainerWaiting``: ``reason`` ->
    ``image_pull_backoff``, ...), falling back to ``type``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: model.EventType = _T.ALERT
    kind: str | None = None
    name_label: str | None = None
    namespace_label: str = "namespace"
    api_version: str | None = None
    type_label: str | None = None
    types: dict[str, model.EventType] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_kind(self) -> MappingRule:
        if self.kind is not None and self.kind not in KINDS and not (self.api_version and self.name_label):
            raise ValueError(f"kind {self.kind!r} is not built in: give api_version and name_label")
        if self.kind is None and (self.name_label or self.api_version):
            raise ValueError("name_label and api_version need a kind")
        if self.types and not self.type_label:
            raise ValueError("types needs type_label (the label whose value picks the type)")
        return self

    def event_type(self, labels: Mapping[str, str]) -> model.EventType:
        """``types[labels[type_label]]`` when present, else ``type``."""
        if self.type_label is not None:
            return self.types.get(labels.get(self.type_label, ""), self.type)
        return self.type


def _rule(type_: model.EventType, kind: str | None, **extra: Any) -> MappingRule:
    return MappingRule(type=type_, kind=kind, **extra)


_WAITING_TYPES = {
    "ImagePullBackOff": _T.IMAGE_PULL_BACKOFF,
    "ErrImagePull": _T.IMAGE_PULL_BACKOFF,
    "InvalidImageName": _T.IMAGE_PULL_BACKOFF,
    "CreateContainerConfigError": _T.CREATE_CONTAINER_CONFIG_ERROR,
    "CreateContainerError": _T.CREATE_CONTAINER_CONFIG_ERROR,
    "CrashLoopBackOff": _T.CRASH_LOOP,
}

#: The kubernetes-mixin alerts (kube-prometheus ``alerts.json``) -> event type and resource.
#: Types follow the watch detectors' meaning; where no watch type fits, ``alert`` on the object.
BUILTIN_RULES: Mapping[str, MappingRule] = MappingProxyType(
    {
        "KubePodCrashLooping": _rule(_T.CRASH_LOOP, "Pod"),
        "KubePodNotReady": _rule(_T.ALERT, "Pod"),
        "KubeContainerWaiting": _rule(_T.ALERT, "Pod", type_label="reason", types=_WAITING_TYPES),
        "CPUThrottlingHigh": _rule(_T.ALERT, "Pod"),
        "KubeDeploymentReplicasMismatch": _rule(_T.REPLICATION_FAILURE, "Deployment"),
        "KubeDeploymentRolloutStuck": _rule(_T.ROLLOUT_STUCK, "Deployment"),
        "KubeDeploymentGenerationMismatch": _rule(_T.ALERT, "Deployment"),
        "KubeStatefulSetReplicasMismatch": _rule(_T.REPLICATION_FAILURE, "StatefulSet"),
        "KubeStatefulSetUpdateNotRolledOut": _rule(_T.ROLLOUT_STUCK, "StatefulSet"),
        "KubeStatefulSetGenerationMismatch": _rule(_T.ALERT, "StatefulSet"),
        "KubeDaemonSetRolloutStuck": _rule(_T.ROLLOUT_STUCK, "DaemonSet"),
        "KubeDaemonSetNotScheduled": _rule(_T.ALERT, "DaemonSet"),
        "KubeDaemonSetMisScheduled": _rule(_T.ALERT, "DaemonSet"),
        "KubeJobFailed": _rule(_T.JOB_FAILED, "Job"),
        "KubeJobNotCompleted": _rule(_T.ALERT, "Job"),
        "KubeHpaMaxedOut": _rule(_T.HPA_MAXED, "HorizontalPodAutoscaler"),
        "KubeHpaReplicasMismatch": _rule(_T.ALERT, "HorizontalPodAutoscaler"),
        "KubePdbNotEnoughHealthyPods": _rule(_T.ALERT, "PodDisruptionBudget"),
        "KubePersistentVolumeFillingUp": _rule(_T.ALERT, "PersistentVolumeClaim"),
        "KubePersistentVolumeInodesFillingUp": _rule(_T.ALERT, "PersistentVolumeClaim"),
        "KubePersistentVolumeErrors": _rule(_T.ALERT, "PersistentVolume"),
        "KubeQuotaAlmostFull": _rule(_T.ALERT, "ResourceQuota"),
        "KubeQuotaFullyUsed": _rule(_T.ALERT, "ResourceQuota"),
        "KubeQuotaExceeded": _rule(_T.ALERT, "ResourceQuota"),
        "KubeNodeNotReady": _rule(_T.NODE_NOT_READY, "Node"),
        "KubeNodeUnreachable": _rule(_T.NODE_NOT_READY, "Node"),
        "KubeNodePressure": _rule(_T.NODE_PRESSURE, "Node"),
        "KubeletTooManyPods": _rule(_T.NODE_PRESSURE, "Node"),
        "KubeNodeEviction": _rule(_T.NODE_PRESSURE, "Node"),
        "KubeNodeReadinessFlapping": _rule(_T.ALERT, "Node"),
        "KubeletPlegDurationHigh": _rule(_T.ALERT, "Node"),
        "KubeletPodStartUpLatencyHigh": _rule(_T.ALERT, "Node"),
        "KubeletClientCertificateExpiration": _rule(_T.ALERT, "Node"),
        "KubeletServerCertificateExpiration": _rule(_T.ALERT, "Node"),
        "KubeletClientCertificateRenewalErrors": _rule(_T.ALERT, "Node"),
        "KubeletServerCertificateRenewalErrors": _rule(_T.ALERT, "Node"),
        # Cluster-wide: no object to name; a synthetic Alert resource (kind None -> guess -> none).
        "KubeCPUOvercommit": _rule(_T.ALERT, None),
        "KubeMemoryOvercommit": _rule(_T.ALERT, None),
        "KubeCPUQuotaOvercommit": _rule(_T.ALERT, None),
        "KubeMemoryQuotaOvercommit": _rule(_T.ALERT, None),
    }
)


@dataclass(frozen=True)
class AlertMapping:
    """An immutable alertname -> :class:`MappingRule` table; extend with :meth:`with_overrides`."""

    rules: Mapping[str, MappingRule] = field(default_factory=lambda: BUILTIN_RULES)

    def with_overrides(self, extra: Mapping[str, MappingRule]) -> AlertMapping:
        """A new table: this one with ``extra``'s rules added or replacing same-named ones."""
        return AlertMapping(MappingProxyType({**self.rules, **extra}))

    def rule_for(self, alertname: str) -> MappingRule | None:
        """The rule for ``alertname``, or ``None`` (generic ``alert`` event)."""
        return self.rules.get(alertname)


#: The built-in table.
DEFAULT = AlertMapping()


def parse_rules(data: object, *, file: str = "<config>") -> dict[str, MappingRule]:
    """Validate user-written overrides (``{alertname: {type, kind, name_label, ...}}``).

    Raises :class:`errors.ValidationFailed` with one problem per invalid field (``file``,
    dotted field path such as ``MyAlert.kind``; ``line`` unknown).
    """
    if not isinstance(data, Mapping):
        raise errors.ValidationFailed([errors.Problem(file, None, "", "expected a mapping of alertnames")])
    rules: dict[str, MappingRule] = {}
    problems: list[errors.Problem] = []
    for name, body in data.items():
        try:
            rules[str(name)] = MappingRule.model_validate(body)
        except ValidationError as error:
            for item in error.errors():
                where = ".".join(str(part) for part in (name, *item["loc"]))
                problems.append(errors.Problem(file, None, where, item["msg"]))
    if problems:
        raise errors.ValidationFailed(problems)
    return rules


def _label(labels: Mapping[str, str], name: str) -> str:
    """``exported_<name>`` when Prometheus renamed the series label, else ``name``; ``""`` if absent."""
    return labels.get(f"exported_{name}") or labels.get(name) or ""


def _ref(kind: str, labels: Mapping[str, str], rule: MappingRule | None = None) -> model.ObjectRef | None:
    """The object of ``kind`` the labels name, or ``None`` when the name label is absent."""
    known = KINDS.get(kind)
    name_label = (rule.name_label if rule else None) or (known.name_label if known else "")
    api_version = (rule.api_version if rule else None) or (known.api_version if known else "")
    name = _label(labels, name_label) if name_label else ""
    if not name:
        return None
    namespaced = known.namespaced if known else True
    namespace = _label(labels, rule.namespace_label if rule else "namespace") if namespaced else ""
    if namespaced and not namespace:
        return None
    return model.ObjectRef(api_version=api_version, kind=kind, namespace=namespace or None, name=name)


#: Alphabet of ``pod-template-hash`` and generated name suffixes (``k8s.io/apimachinery`` rand).
_ALNUM = "[bcdfghjklmnpqrstvwxz2456789]"


def pod_owner(labels: Mapping[str, str], pod: model.ObjectRef) -> model.ObjectRef | None:
    """The workload behind ``pod`` when the alert's labels prove it, else ``None``.

    Proof, mirroring ``kubewatch.owners`` (which reads ownerReferences and pod-template-hash):

    * ``owner_kind``/``owner_name`` (kube-state-metrics ``kube_pod_owner``): StatefulSet,
      DaemonSet or Job as is; ReplicaSet ``<d>-<h>`` -> Deployment ``<d>`` only when the
      ``label_pod_template_hash`` (or ``pod_template_hash``) label equals ``<h>``.
    * ``deployment`` label ``d`` and a pod named ``d-<hash>-<suffix>``; ``statefulset`` ``s``
      and a pod ``s-<ordinal>``; ``daemonset`` ``ds`` and a pod ``ds-<suffix>``.
    """
    namespace, name = pod.namespace, pod.name

    def ref(kind: str, owner: str) -> model.ObjectRef:
        return model.ObjectRef(
            api_version=KINDS[kind].api_version, kind=kind, namespace=namespace, name=owner
        )

    owner_kind, owner_name = _label(labels, "owner_kind"), _label(labels, "owner_name")
    if owner_name and owner_kind in ("StatefulSet", "DaemonSet", "Job"):
        return ref(owner_kind, owner_name)
    template_hash = labels.get("label_pod_template_hash") or labels.get("pod_template_hash") or ""
    suffix = f"-{template_hash}"
    if owner_kind == "ReplicaSet" and template_hash and owner_name.endswith(suffix) and owner_name != suffix:
        return ref("Deployment", owner_name.removesuffix(suffix))
    shapes = (
        ("Deployment", "deployment", rf"-{_ALNUM}{{1,10}}-{_ALNUM}{{5}}"),
        ("StatefulSet", "statefulset", r"-\d+"),
        ("DaemonSet", "daemonset", rf"-{_ALNUM}{{5}}"),
    )
    for kind, label, tail in shapes:
        workload = _label(labels, label)
        if workload and re.fullmatch(re.escape(workload) + tail, name):
            return ref(kind, workload)
    return None


def _owner(resource: model.ObjectRef, labels: Mapping[str, str]) -> model.ObjectRef | None:
    """The owner the labels prove for ``resource`` (pods, Jobs of CronJobs, HPA targets)."""
    if resource.kind == "Pod":
        return pod_owner(labels, resource)
    if resource.kind == "Job" and _label(labels, "owner_kind") == "CronJob" and _label(labels, "owner_name"):
        return model.ObjectRef(
            api_version="batch/v1",
            kind="CronJob",
            namespace=resource.namespace,
            name=_label(labels, "owner_name"),
        )
    if resource.kind == "HorizontalPodAutoscaler":
        kind, name = labels.get("scaletargetref_kind", ""), labels.get("scaletargetref_name", "")
        if kind in KINDS and name:
            return model.ObjectRef(
                api_version=KINDS[kind].api_version, kind=kind, namespace=resource.namespace, name=name
            )
    return None


def _guess(labels: Mapping[str, str]) -> model.ObjectRef:
    """The most specific object the labels name (:data:`GUESS_ORDER`), else a synthetic Alert."""
    for kind in GUESS_ORDER:
        found = _ref(kind, labels)
        if found is not None:
            return found
    return model.ObjectRef(
        api_version=SYNTHETIC_API_VERSION,
        kind=SYNTHETIC_KIND,
        namespace=_label(labels, "namespace") or None,
        name=labels["alertname"],
    )


_SEVERITIES = {s.value: s for s in model.Severity}


def alert_event(
    alert: am.Alert, mapping: AlertMapping = DEFAULT, *, payload: am.Payload | None = None
) -> model.ClusterEvent:
    """The ClusterEvent for one alert (see the module docstring for type and resource).

    ``severity`` from the ``severity`` label (critical/warning/info; anything else: warning);
    ``reason`` is the alertname; ``message`` the description/message/summary annotation;
    ``labels`` the alert's labels. ``details``: ``alertname``, ``status`` (``firing`` /
    ``resolved``), ``fingerprint``, ``startsAt``, ``endsAt`` (resolved only), ``generatorURL``,
    ``runbook_url``, ``container`` and ``condition`` when present, ``groupKey`` and ``receiver``
    from ``payload``. ``observed_at`` is ``startsAt`` while firing and ``endsAt`` once resolved.
    ``fingerprint_override`` stays unset: the event's fingerprint names the problem (as the
    watch's does), while Alertmanager's label-set fingerprint is ``details["fingerprint"]``.
    """
    labels = alert.labels
    rule = mapping.rule_for(alert.alertname)
    resource = _ref(rule.kind, labels, rule) if rule is not None and rule.kind is not None else None
    type_ = rule.event_type(labels) if rule is not None and resource is not None else _T.ALERT
    if resource is None:
        resource = _guess(labels)
    resolved = alert.status is am.AlertStatus.RESOLVED
    details: dict[str, str | int | float | bool | None] = {
        "alertname": alert.alertname,
        "status": alert.status.value,
        "fingerprint": alert.fingerprint,
        "startsAt": alert.starts_at.isoformat(),
    }
    if resolved and alert.ends_at is not None:
        details["endsAt"] = alert.ends_at.isoformat()
    if alert.generator_url:
        details["generatorURL"] = alert.generator_url
    if runbook := alert.annotations.get("runbook_url"):
        details["runbook_url"] = runbook
    for label in ("container", "condition"):
        if value := _label(labels, label):
            details[label] = value
    if payload is not None:
        details["groupKey"] = payload.group_key
        details["receiver"] = payload.receiver
    return model.ClusterEvent(
        source=model.EventSource.ALERTMANAGER,
        type=type_,
        severity=_SEVERITIES.get(labels.get("severity", ""), model.Severity.WARNING),
        resource=resource,
        owner=_owner(resource, labels),
        reason=alert.alertname,
        message=alert.text,
        labels=dict(labels),
        details=details,
        observed_at=alert.ends_at if resolved and alert.ends_at is not None else alert.starts_at,
    )
