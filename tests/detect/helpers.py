"""Shared test data for the detector tests: fixture loading, the fixed clock, and expected refs.

Fixtures under ``fixtures/<kind>/`` are single objects as ``kubectl get -o json`` prints them,
written by hand to match real clusters (v1.29-era field sets).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiops.events import model

FIXTURES = Path(__file__).parent / "fixtures"

#: The clock every test passes as ``now``: a few minutes after the fixtures' latest timestamps.
NOW = datetime(2025, 3, 14, 10, 30, tzinfo=UTC)


@cache
def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def load(name: str) -> dict[str, Any]:
    """A fresh (deep-copied, so tests may mutate it) body of ``fixtures/<name>.json``."""
    return copy.deepcopy(_read(name))


def fixture_names(kind_dir: str | None = None) -> list[str]:
    """All fixture names (``pod/crash_loop``), optionally only those under one directory."""
    paths = sorted(FIXTURES.glob(f"{kind_dir or '*'}/*.json"))
    return [f"{path.parent.name}/{path.stem}" for path in paths if path.parent.name != "list"]


def ref(
    api_version: str, kind: str, namespace: str | None, name: str, uid: str | None = None
) -> model.ObjectRef:
    """An ObjectRef spelled positionally, for compact expectations."""
    return model.ObjectRef(api_version=api_version, kind=kind, namespace=namespace, name=name, uid=uid)


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    """The ``status.conditions`` entry of ``type_`` in ``body`` (for tests that patch one)."""
    found: dict[str, Any] = next(c for c in body["status"]["conditions"] if c["type"] == type_)
    return found


CHECKOUT = ref("apps/v1", "Deployment", "shop", "checkout")
CART = ref("apps/v1", "Deployment", "shop", "cart")
PAYMENTS = ref("apps/v1", "Deployment", "shop", "payments")
GPU_WORKER = ref("apps/v1", "Deployment", "ml", "gpu-worker")
POSTGRES = ref("apps/v1", "StatefulSet", "orders", "postgres", "2c4e6b8d-0f2a-4c6e-8b0d-2f4a6c8e0b2d")
SEARCH_INDEXER = ref(
    "apps/v1", "StatefulSet", "search", "search-indexer", "8f0a2c4e-6b8d-4f0a-9c4e-6b8d0f2a4c6e"
)
NODE_EXPORTER = ref(
    "apps/v1", "DaemonSet", "monitoring", "node-exporter", "0a2c4e6b-8d0f-4a2c-8e6b-8d0f2a4c6e8b"
)
NIGHTLY_JOB = ref(
    "batch/v1", "Job", "analytics", "nightly-report-28971360", "4d6f8a0c-2e4b-4d6f-8a0c-2e4b6d8f0a2c"
)
NIGHTLY_CRON = ref(
    "batch/v1", "CronJob", "analytics", "nightly-report", "6f8a0c2e-4b6d-4f8a-8c2e-4b6d8f0a2c4e"
)
