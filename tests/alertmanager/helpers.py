"""Shared test data for the Alertmanager tests: the real kube-prometheus rules and payload builders.

``alerts.json`` (the 139 kube-prometheus alert rules: name, labels, description/summary templates,
runbook_url) and the example payloads are read at test time from the shared data folder, never
copied into the repo. :func:`render` expands a rule's Go-template annotation text the way
Prometheus does for the labels given (an absent label renders ``<no value>``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

DATA = Path("/work/shared/data/alertmanager")

STARTS = "2025-03-14T10:12:03.581290431Z"
ENDS = "2025-03-14T10:41:33.581290431Z"
STARTS_UTC = datetime(2025, 3, 14, 10, 12, 3, 581290, tzinfo=UTC)
ENDS_UTC = datetime(2025, 3, 14, 10, 41, 33, 581290, tzinfo=UTC)
ZERO = "0001-01-01T00:00:00Z"


def data_file(name: str) -> Path:
    """A file of the shared Alertmanager data folder (../shared beside the checkout, as CI has it).

    Fails, never skips, when it is missing: these tests are only meaningful on the real data.
    """
    path = DATA / name
    if not path.exists():
        pytest.fail(f"shared data {path} is missing: check out ../shared beside the repository")
    return path


@cache
def _rules() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(data_file("alerts.json").read_text()))


def rules() -> list[dict[str, Any]]:
    """Every rule of ``alerts.json`` (some alertnames appear twice, one per severity)."""
    return list(_rules())


def rule(alertname: str, severity: str | None = None) -> dict[str, Any]:
    """The rule named ``alertname`` (the one of ``severity`` when there are several)."""
    return next(
        r for r in _rules() if r["alert"] == alertname and (severity is None or r["severity"] == severity)
    )


_LABEL = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")
_WITH_CLUSTER = re.compile(r"\{\{\s*with \$labels\.(\w+)\s*-?\}\}(.*?)\{\{-?\s*end\s*\}\}")
_VALUE = re.compile(r"\{\{\s*(?:printf \"[^\"]*\" )?\$value[^}]*\}\}")
_OTHER = re.compile(r"\{\{[^}]*\}\}")


def render(template: str, labels: dict[str, str]) -> str:
    """Go-template annotation text rendered for ``labels`` (``$value`` is 42)."""

    def with_block(match: re.Match[str]) -> str:
        value = labels.get(match.group(1))
        return match.group(2).replace("{{ . }}", value) if value else ""

    text = _WITH_CLUSTER.sub(with_block, template)
    text = _LABEL.sub(lambda m: labels.get(m.group(1), "<no value>"), text)
    text = _VALUE.sub("42", text)
    return _OTHER.sub("", text)


def alert(
    alertname: str,
    labels: dict[str, str],
    *,
    resolved: bool = False,
    severity: str | None = None,
    with_status: bool = True,
) -> dict[str, Any]:
    """A webhook alert object for the real rule ``alertname``: its labels plus ``labels``,
    annotations rendered from its templates, and Alertmanager's timestamps for the state."""
    source = rule(alertname, severity)
    full = {"alertname": alertname, **source["labels"], **labels}
    annotations = {
        name: render(source[name], full) for name in ("description", "summary") if source.get(name)
    }
    if source.get("runbook_url"):
        annotations["runbook_url"] = source["runbook_url"]
    body: dict[str, Any] = {
        "labels": full,
        "annotations": annotations,
        "startsAt": STARTS,
        "endsAt": ENDS if resolved else ZERO,
        "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=up&g0.tab=1",
    }
    if with_status:
        body = {"status": "resolved" if resolved else "firing", **body}
    return body


def payload(*alerts: dict[str, Any], group_key: str = '{}:{namespace="shop"}') -> dict[str, Any]:
    """A version-4 payload as Alertmanager 0.34 sends it (Go's key order), around ``alerts``."""
    firing = any(a.get("status", "firing") == "firing" and a.get("endsAt") == ZERO for a in alerts)
    common = set.intersection(*(set(a["labels"].items()) for a in alerts)) if alerts else set()
    return {
        "receiver": "aiops",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "notification_reason": "first notification",
        "groupLabels": {"namespace": "shop"},
        "commonLabels": dict(common),
        "commonAnnotations": {},
        "routeLabels": {},
        "externalURL": "http://alertmanager-main-0:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }


#: Labels kube-state-metrics scraped with ``honorLabels: true`` adds as the scrape target's.
KSM_TARGET = {
    "container": "kube-rbac-proxy-main",
    "endpoint": "https-main",
    "instance": "10.244.1.7:8443",
    "job": "kube-state-metrics",
    "namespace": "monitoring",
    "pod": "kube-state-metrics-6d4f8b9c7-2xk9p",
    "prometheus": "monitoring/k8s",
    "service": "kube-state-metrics",
}
