"""The namespace aiops runs in: ``POD_NAMESPACE`` through the settings, else the service account's file.

The runtime adds it to the protected namespaces (``aiops.runtime.own_namespace``); the environment
is read by ``aiops.settings`` only, the service account's file by the kube door.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops import kube, runtime, settings


def test_pod_namespace_comes_from_the_environment_through_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", " aiops-system ")
    loaded = settings.load()
    assert loaded.pod_namespace == "aiops-system"
    assert runtime.own_namespace(loaded) == ["aiops-system"]


def test_an_empty_pod_namespace_is_no_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "  ")
    assert settings.load().pod_namespace is None


def test_the_service_account_namespace_file_is_read_stripped(tmp_path: Path) -> None:
    (tmp_path / "namespace").write_text("ops\n", encoding="utf-8")
    assert kube.service_account_namespace(tmp_path) == "ops"
    (tmp_path / "namespace").write_text("\n", encoding="utf-8")
    assert kube.service_account_namespace(tmp_path) is None
    assert kube.service_account_namespace(tmp_path / "absent") is None
