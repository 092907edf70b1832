"""The kinds the copilot may read: an allow-list, by kind, plural, singular or short name, any casing.

Fed by: the tools' params models and the command parser. Consumes: nothing.

Secrets (their ``data``), ServiceAccounts (and their ``token`` subresource, TokenRequest) and
ConfigMaps (whose ``data`` often holds credentials) are refused by name with a reason; every
other kind not listed is refused as not allowed. Kinds, groups, versions, plurals and short names
as the Kubernetes API reference spells them (``kubectl api-resources``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class KindRefused(ValueError):
    """A kind the copilot does not read; ``reason`` says why."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"kind {kind!r} refused: {reason}")
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class KindInfo:
    """One readable kind: ``kind`` (``Deployment``), ``api_version`` (``apps/v1``), ``plural``
    (``deployments``), whether it is namespaced, and its ``kubectl`` short names."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool
    short: tuple[str, ...] = ()


ALLOWED: tuple[KindInfo, ...] = (
    KindInfo("Pod", "v1", "pods", True, ("po",)),
    KindInfo("Node", "v1", "nodes", False, ("no",)),
    KindInfo("Namespace", "v1", "namespaces", False, ("ns",)),
    KindInfo("Event", "v1", "events", True, ("ev",)),
    KindInfo("Service", "v1", "services", True, ("svc",)),
    KindInfo("PersistentVolumeClaim", "v1", "persistentvolumeclaims", True, ("pvc",)),
    KindInfo("PersistentVolume", "v1", "persistentvolumes", False, ("pv",)),
    KindInfo("Deployment", "apps/v1", "deployments", True, ("deploy",)),
    KindInfo("ReplicaSet", "apps/v1", "replicasets", True, ("rs",)),
    KindInfo("StatefulSet", "apps/v1", "statefulsets", True, ("sts",)),
    KindInfo("DaemonSet", "apps/v1", "daemonsets", True, ("ds",)),
    KindInfo("Job", "batch/v1", "jobs", True, ()),
    KindInfo("CronJob", "batch/v1", "cronjobs", True, ("cj",)),
    KindInfo("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", True, ("hpa",)),
    KindInfo("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", True, ("pdb",)),
)

#: Lower-case spellings refused whatever the context, with the reason given back.
_REFUSED: dict[str, str] = {
    **dict.fromkeys(("secret", "secrets"), "Secrets are never read by the copilot"),
    **dict.fromkeys(
        ("serviceaccount", "serviceaccounts", "sa", "token", "tokenrequest", "tokenrequests"),
        "ServiceAccounts and their tokens are never read by the copilot",
    ),
    **dict.fromkeys(
        ("configmap", "configmaps", "cm"),
        "ConfigMaps are not read by the copilot (their data may hold credentials)",
    ),
}

_BY_NAME: dict[str, KindInfo] = {
    spelling: info for info in ALLOWED for spelling in (info.kind.lower(), info.plural, *info.short)
}

#: The allowed kinds, as shown in help texts and docs.
ALLOWED_NAMES: tuple[str, ...] = tuple(info.plural for info in ALLOWED)


def resolve(text: str) -> KindInfo:
    """The :class:`KindInfo` ``text`` names (``Deployment``, ``deployments``, ``deploy``, any casing,
    ``deployments.apps`` too). Raises :class:`KindRefused` for Secrets, ServiceAccounts, tokens,
    ConfigMaps (also as a part: ``serviceaccounts/token``) and any kind not in :data:`ALLOWED`."""
    key = text.strip().lower()
    base = key.split(".", 1)[0]
    for part in re.split(r"[./]", key):  # serviceaccounts/token, secrets.v1: refused for the sensitive part
        if part in _REFUSED:
            raise KindRefused(text, _REFUSED[part])
    if "/" in key:
        raise KindRefused(text, "a kind is one word (no subresources)")
    info = _BY_NAME.get(key) or _BY_NAME.get(base)
    if info is None:
        raise KindRefused(text, f"not in the allow-list ({', '.join(ALLOWED_NAMES)})")
    return info
