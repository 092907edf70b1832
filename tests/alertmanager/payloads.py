"""Webhook payloads for the receiver tests, shaped as Alertmanager 0.34 sends them (webhook_format.md)."""

from __future__ import annotations

import json
from typing import Any

from aiops.sources.alertmanager import fingerprint


def alert(
    alertname: str,
    labels: dict[str, str],
    *,
    status: str = "firing",
    starts: str = "2026-11-21T10:00:00Z",
    description: str = "",
) -> dict[str, Any]:
    """One alert with its real label-set fingerprint."""
    full = {"alertname": alertname, "severity": "warning", **labels}
    return {
        "status": status,
        "labels": full,
        "annotations": {
            "description": description or f"{alertname} fired",
            "runbook_url": "https://runbooks/x",
        },
        "startsAt": starts,
        "endsAt": "2026-11-21T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "fingerprint": fingerprint(full),
    }


def payload(*alerts: dict[str, Any], group_key: str = '{}:{namespace="shop"}') -> bytes:
    """A version-4 payload; the group status is firing when any alert fires."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return json.dumps(
        {
            "receiver": "aiops",
            "status": status,
            "alerts": list(alerts),
            "groupLabels": {"namespace": "shop"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
        }
    ).encode()
