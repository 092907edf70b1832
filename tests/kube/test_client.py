"""aiops.kube.Kube against the emulator: plain JSON, typed errors, call recording, configuration."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from aiops import errors
from aiops import kube as kube_mod
from aiops.emulator import ClusterEmulator
from aiops.events.model import ObjectRef
from tests.support.kube_fixtures import deployment, event, pdb, pod


def test_paths_follow_the_api_conventions() -> None:
    """/api/v1 for the core group, /apis/GROUP/VERSION otherwise; kinds map to plurals."""
    assert kube_mod.resource_path("v1", "Pod", "web", "p", "log") == "/api/v1/namespaces/web/pods/p/log"
    assert kube_mod.resource_path("apps/v1", "Deployment", None) == "/apis/apps/v1/deployments"
    assert kube_mod.resource_path("v1", "Node", None, "n1") == "/api/v1/nodes/n1"
    assert kube_mod.plural_of("NetworkPolicy") == "networkpolicies"
    assert kube_mod.plural_of("Playbook") == "playbooks"


async def test_reads_and_writes_return_plain_json(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """create/get/list/patch/replace/delete speak dicts, selectors pass through."""
    created = await kube.create("apps/v1", "Deployment", "default", deployment("web"))
    assert created["metadata"]["uid"]
    await kube.create("v1", "Pod", "default", pod("a", labels={"app": "web"}, node="n1"))
    await kube.create("v1", "Pod", "default", pod("b", labels={"app": "db"}, node="n1"))
    assert [p["metadata"]["name"] for p in await kube.list("v1", "Pod", label_selector="app=web")] == ["a"]
    assert len(await kube.list("v1", "Pod", None, field_selector="spec.nodeName=n1")) == 2
    patched = await kube.patch(
        "apps/v1",
        "Deployment",
        "default",
        "web",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}
                }
            }
        },
        patch_type="strategic",
    )
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == "app:1"
    patched["spec"]["replicas"] = 1
    assert (await kube.replace("apps/v1", "Deployment", "default", "web", patched))["spec"]["replicas"] == 1
    await kube.delete("v1", "Pod", "default", "a")
    assert emulator.get_object("v1", "Pod", "default", "a") is None


async def test_dry_run_stores_nothing(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """dry_run=True sends dryRun=All."""
    emulator.put_object(pod("a"))
    await kube.patch("v1", "Pod", "default", "a", {"metadata": {"labels": {"x": "y"}}}, dry_run=True)
    await kube.evict("default", "a", dry_run=True)
    await kube.delete("v1", "Pod", "default", "a", dry_run=True)
    stored = emulator.get_object("v1", "Pod", "default", "a")
    assert stored is not None and "x" not in stored["metadata"]["labels"]
    assert all(call.query.get("dryRun") == "All" for call in emulator.calls if call.method != "GET")


async def test_errors_are_typed(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """404 NotFound and 409 Conflict are permanent; 429 TooManyRequests is temporary, with the causes."""
    with pytest.raises(kube_mod.NotFound) as missing:
        await kube.get("v1", "Pod", "default", "ghost")
    assert isinstance(missing.value, errors.PermanentError) and missing.value.status == 404
    emulator.put_object(pod("a", labels={"app": "web"}))
    with pytest.raises(kube_mod.Conflict):
        await kube.create("v1", "Pod", "default", pod("a"))
    emulator.put_object(pdb("web", match_labels={"app": "web"}, min_available=1))
    with pytest.raises(kube_mod.TooManyRequests) as blocked:
        await kube.evict("default", "a")
    assert isinstance(blocked.value, errors.TemporaryError)
    assert blocked.value.causes == ["The disruption budget web needs 1 healthy pods and has 1 currently"]


async def test_unreachable_server_is_a_temporary_error() -> None:
    """No HTTP answer: Unreachable (status 0), a TemporaryError; ping answers False."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = kube_mod.Kube.for_server(f"http://127.0.0.1:{port}")
    try:
        assert await client.ping() is False
        with client.recording() as calls, pytest.raises(kube_mod.Unreachable) as exc:
            await client.get("v1", "Pod", "default", "a")
        assert isinstance(exc.value, errors.TemporaryError)
        assert calls[0].status == 0
    finally:
        await client.close()


async def test_logs_scale_and_events(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """pod_log returns text; get_scale/patch_scale use the Scale subresource; events_for filters by object."""
    subject = emulator.put_object(pod("a"))
    emulator.set_pod_log("default", "a", "1\n2\n3\n")
    assert await kube.pod_log("default", "a", tail_lines=1) == "3\n"
    emulator.put_object(deployment("web", replicas=2))
    assert (await kube.get_scale("apps/v1", "Deployment", "default", "web"))["spec"]["replicas"] == 2
    await kube.patch_scale("apps/v1", "Deployment", "default", "web", {"spec": {"replicas": 4}})
    assert emulator.get_object("apps/v1", "Deployment", "default", "web")["spec"]["replicas"] == 4  # type: ignore[index]
    emulator.put_object(event("e1", subject, reason="BackOff", message="x"))
    ref = ObjectRef(
        api_version="v1", kind="Pod", namespace="default", name="a", uid=subject["metadata"]["uid"]
    )
    assert [e["reason"] for e in await kube.events_for(ref)] == ["BackOff"]


async def test_recording_is_per_context(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """Each recording sees its own calls (tasks started inside included); concurrent ones do not mix."""
    stored = emulator.put_object(pod("a"))
    emulator.put_object(pod("b"))

    async def read(name: str) -> list[kube_mod.ApiCall]:
        with kube.recording() as calls:
            await kube.get("v1", "Pod", "default", name)
            await asyncio.gather(kube.get("v1", "Pod", "default", name))
        return calls

    first, second = await asyncio.gather(read("a"), read("b"))
    assert [c.path for c in first] == ["/api/v1/namespaces/default/pods/a"] * 2
    assert [c.path for c in second] == ["/api/v1/namespaces/default/pods/b"] * 2
    rv = stored["metadata"]["resourceVersion"]
    assert first[0].response == {"code": 200, "kind": "Pod", "name": "a", "resourceVersion": rv}


async def test_bearer_token_is_sent(emulator: ClusterEmulator) -> None:
    """for_server(url, token) authenticates with ``Authorization: Bearer <token>``."""
    client = kube_mod.Kube.for_server(emulator.url, token="s3cret")
    try:
        assert await client.ping()
    finally:
        await client.close()
    assert list(emulator)[-1].headers.get("Authorization") == "Bearer s3cret"


async def test_from_config_reads_a_kubeconfig(emulator: ClusterEmulator, tmp_path: Path) -> None:
    """A kubeconfig file (and context) is used when given; in_cluster=True outside a pod is a ConfigError."""
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: other\n"
        f"clusters:\n- name: emu\n  cluster:\n    server: {emulator.url}\n"
        "users:\n- name: me\n  user:\n    token: t0ken\n"
        "contexts:\n- name: emu\n  context:\n    cluster: emu\n    user: me\n"
        "- name: other\n  context:\n    cluster: nowhere\n    user: me\n"
    )
    client = await kube_mod.Kube.from_config(str(config), "emu")
    try:
        assert await client.ping()
    finally:
        await client.close()
    assert list(emulator)[-1].headers.get("Authorization") == "Bearer t0ken"
    with pytest.raises(errors.ConfigError):
        await kube_mod.Kube.from_config(None, None, True)


async def test_server_errors_are_temporary(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """A 5xx (here injected with a kmock reaction, which takes precedence over the emulation) is temporary."""
    emulator.put_object(pod("a"))
    (
        emulator["get /api/v1/namespaces/default/pods/a"]
        << 503
        << {"kind": "Status", "reason": "ServiceUnavailable"}
    )
    with pytest.raises(kube_mod.TemporaryApiError) as exc:
        await kube.get("v1", "Pod", "default", "a")
    assert exc.value.status == 503 and exc.value.reason == "ServiceUnavailable"
    assert isinstance(exc.value, errors.TemporaryError)
