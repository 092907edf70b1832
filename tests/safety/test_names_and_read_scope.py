"""Names from alerts and objects never address another object, and reads keep to aiops' namespaces.

End to end (real kopf operator, real API, real Redis, emulated Kubernetes API over HTTP):

* an Alertmanager alert whose ``pod`` label walks up the path (``x/../../../kube-system/pods/…``)
  fails the describe, logs and delete steps with the reason, the emulated API receives no request
  for kube-system, and nothing of the kube-system pod (its env, its log) reaches the API;
* a read step into a protected namespace is blocked with the reason before any request;
* a ``Playbook`` resource's steps, reads included, act only in the resource's own namespace.

Unit level: :func:`aiops.kube_mod.resource_path` refuses every name the Kubernetes naming rules refuse
and percent-encodes what it accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiops import errors
from aiops import kube as kube_mod
from aiops.actions._common import Reach
from aiops.emulator import ClusterEmulator
from aiops.events.model import ObjectRef
from aiops.safety import scope
from aiops.settings import SafetySettings
from tests.alertmanager.payloads import alert, payload
from tests.operator import workloads
from tests.support import kube_fixtures as kf
from tests.support.operator_fixtures import (
    ALERTMANAGER_TOKEN,
    Harness,
    eventually,
    make_settings,
    step_of,
    writes,
)

#: What the kube-system pod holds that must never reach the API.
SECRET_ENV = "coredns-upstream-token-7f3a9c"
SECRET_LOG = "coredns log line: zone transfer key 91b2e4"
COREDNS = "coredns-5d78c9869d-q7x2p"
TRAVERSAL = f"x/../../../kube-system/pods/{COREDNS}"


def _seed_coredns(emu: ClusterEmulator) -> None:
    """A kube-system pod with a secret in its env and in its previous log."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    pod = kf.pod(COREDNS, "kube-system", labels={"k8s-app": "kube-dns"}, node="worker-1")
    pod["spec"]["containers"][0]["env"] = [{"name": "UPSTREAM_TOKEN", "value": SECRET_ENV}]
    emu.put_object(pod)
    for container in ("app", "coredns"):
        emu.set_pod_log("kube-system", COREDNS, SECRET_LOG, container=container, previous=True)


def _kube_system_calls(emu: ClusterEmulator) -> list[str]:
    return [f"{c.method} {c.path}" for c in emu.calls if "kube-system" in c.path or COREDNS in c.path]


async def _runs(harness: Harness, type_: str) -> list[dict[str, Any]]:
    found = [i for i in await harness.get("/api/incidents") if i["type"] == type_]
    runs: list[dict[str, Any]] = []
    for incident in found:
        runs += (await harness.get(f"/api/incidents/{incident['id']}"))["runs"]
    return runs


async def _ended(harness: Harness, type_: str) -> list[dict[str, Any]]:
    """The runs of the ``type_`` incidents once every one has stopped moving (ended or waiting)."""

    async def settled() -> bool:
        runs = await _runs(harness, type_)
        return bool(runs) and all(r["state"] != "running" for r in runs)

    await eventually(settled, what=f"the {type_} runs to stop moving")
    return await _runs(harness, type_)


async def test_a_traversal_in_an_alert_label_reads_nothing_outside_its_namespace(harness: Harness) -> None:
    emu = harness.emulator
    _seed_coredns(emu)
    await harness.start()
    labels = {"namespace": "shop", "pod": TRAVERSAL, "container": "coredns"}
    body = payload(alert("KubePodCrashLooping", labels))
    async with httpx.AsyncClient(base_url=harness.base_url, timeout=30) as client:
        answer = await client.post(
            "/api/webhook/alertmanager",
            content=body,
            headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
        )
    assert answer.status_code == 200, answer.text

    (run,) = await _ended(harness, "crash_loop")
    assert run["playbook_id"] == "crash_loop_remediation"
    assert run["state"] == "failed", run
    describe, logs = step_of(run, "describe"), step_of(run, "logs")
    assert describe["state"] == "failed" and "invalid Pod name" in describe["error"], describe
    assert "DNS subdomain" in describe["error"]
    assert logs["state"] == "failed" and "DNS subdomain" in logs["error"], logs
    assert describe["api_calls"] == [] and logs["api_calls"] == []
    assert _kube_system_calls(emu) == []
    assert writes(emu) == [] and await harness.pending() == []
    everything = json.dumps(
        [await harness.get("/api/incidents"), *[await harness.get(f"/api/runs/{run['id']}")]]
        + [await harness.get(f"/api/incidents/{i['id']}") for i in await harness.get("/api/incidents")]
    )
    assert SECRET_ENV not in everything and SECRET_LOG not in everything


async def test_a_read_in_a_protected_namespace_is_blocked_with_the_reason(
    harness: Harness, tmp_path: Path
) -> None:
    """A rule without exclusions routes a kube-system crash loop to ``crash_loop_remediation``: its
    first read is blocked by ``protected`` before any request (escalated, run failed); the later
    steps never run. (Incident enrichment, not a step, still reads what the watch reported.)"""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu, namespace="kube-system")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: everywhere\n    match:\n      types: [crash_loop]\n"
        "    playbooks: [crash_loop_remediation]\n"
    )
    harness.settings = make_settings(emu, rules_file=rules)
    await harness.start()

    (run,) = await _ended(harness, "crash_loop")
    describe = step_of(run, "describe")
    assert (describe["state"], describe["guard"]) == ("blocked", "protected"), describe
    assert "namespace kube-system is protected: aiops neither reads nor writes there" in describe["error"]
    assert run["state"] == "failed" and run["escalations"][0]["guard"] == "protected", run
    assert step_of(run, "logs")["state"] == "pending" and step_of(run, "delete_pod")["state"] == "pending"
    assert describe["api_calls"] == [] and describe["output"] is None
    assert emu.get_object("v1", "Pod", "kube-system", pod["metadata"]["name"]) is not None


def _resource(name: str, namespace: str, step: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"triggers": ["crash_loop"], "steps": [{"name": "peek", "risk": "low", **step}]},
    }


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (
            {"action": "logs", "params": {"namespace": "payments", "pod": "ledger-0"}},
            "may act only on objects in shop, not in namespace payments",
        ),
        (
            {"action": "describe", "params": {"api_version": "v1", "kind": "Node", "name": "worker-1"}},
            "reaches cluster-scoped objects or every namespace",
        ),
    ],
)
async def test_a_playbook_resource_reads_only_in_its_own_namespace(
    harness: Harness, step: dict[str, Any], reason: str
) -> None:
    """A team's ``Playbook`` in ``shop`` whose read targets another namespace (or a Node) is
    blocked by ``playbook_namespace`` before any request: the step made no call, and nothing in
    ``payments`` was read."""
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}})
    emu.put_object(kf.pod("ledger-0", "payments", node="worker-1"))
    emu.put_object(kf.node("worker-1"))
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(_resource("peek-elsewhere", "shop", step))
    await harness.start()

    async def accepted() -> bool:
        stored = emu.get_object("aiops.dev/v1alpha1", "Playbook", "shop", "peek-elsewhere") or {}
        return bool((stored.get("status") or {}).get("accepted"))

    await eventually(accepted, what="the Playbook resource to be accepted")
    before = len(emu.calls)
    workloads.seed_crash_loop(emu)

    async def ran() -> bool:
        return any(r["playbook_id"] == "peek-elsewhere" for r in await _runs(harness, "crash_loop"))

    await eventually(ran, what="the resource playbook's run")
    (run,) = [r for r in await _ended(harness, "crash_loop") if r["playbook_id"] == "peek-elsewhere"]
    peek = step_of(run, step["action"])
    assert (peek["state"], peek["guard"]) == ("blocked", "playbook_namespace"), peek
    assert reason in peek["error"] and run["state"] == "failed", peek
    assert peek["api_calls"] == [] and peek["output"] is None
    assert [c.path for c in emu.calls[before:] if "payments" in c.path] == []


@pytest.mark.parametrize(
    ("namespace", "kind", "name", "what"),
    [
        ("shop", "Pod", TRAVERSAL, "Pod name"),
        ("shop", "Pod", "..", "Pod name"),
        ("shop", "Pod", "web%2F..%2Fx", "Pod name"),
        ("shop", "Pod", "Web", "Pod name"),
        ("shop", "Pod", "", "Pod name"),
        ("shop/../kube-system", "Pod", "web", "namespace"),
        ("Shop", "Pod", "web", "namespace"),
        ("a" * 64, "Pod", "web", "namespace"),
        (None, "Node", "n1?watch=true", "Node name"),
        (None, "Namespace", "a.b", "Namespace name"),
        ("shop", "Service", "1web", "Service name"),
        ("shop", "pods/../secrets", "x", "kind"),
        (None, "ClusterRole", "a/b", "ClusterRole name"),
    ],
)
def test_resource_path_refuses_what_the_naming_rules_refuse(
    namespace: str | None, kind: str, name: str, what: str
) -> None:
    with pytest.raises(kube_mod.InvalidName, match=f"invalid {what} ") as caught:
        kube_mod.resource_path("v1", kind, namespace, name)
    assert isinstance(caught.value, errors.PermanentError)
    assert "nothing was sent" in str(caught.value)


def test_resource_path_accepts_valid_names_and_encodes_each_segment() -> None:
    assert (
        kube_mod.resource_path("v1", "Pod", "shop", "web-1.a", "log")
        == "/api/v1/namespaces/shop/pods/web-1.a/log"
    )
    assert kube_mod.resource_path("v1", "Node", None, "ip-10-0-0-1.ec2.internal") == (
        "/api/v1/nodes/ip-10-0-0-1.ec2.internal"
    )
    assert kube_mod.resource_path("rbac.authorization.k8s.io/v1", "ClusterRole", None, "system:node") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Anode"
    )
    with pytest.raises(kube_mod.InvalidName, match="subresource"):
        kube_mod.resource_path("v1", "Pod", "shop", "web", "log/../../x")
    with pytest.raises(kube_mod.InvalidName, match="API version"):
        kube_mod.resource_path("../v1", "Pod", "shop", "web")


async def test_no_request_leaves_for_a_refused_name(kube: kube_mod.Kube, emulator: ClusterEmulator) -> None:
    """The client refuses before sending: nothing reaches the API server, nothing is recorded;
    a name cannot add terms to the Events field selector either."""
    injected = ObjectRef(
        api_version="v1", kind="Pod", namespace="shop", name="web,involvedObject.namespace=x"
    )
    with kube.recording() as calls:
        with pytest.raises(kube_mod.InvalidName):
            await kube.get("v1", "Pod", "shop", TRAVERSAL)
        with pytest.raises(kube_mod.InvalidName):
            await kube.pod_log("shop", "web", container="app/../x")
        with pytest.raises(kube_mod.InvalidName):
            await kube.events_for(injected)
    assert calls == [] and emulator.calls == []


_SCOPED = SafetySettings(namespaces=["team-*", "shop"], exclude_namespaces=["team-secret"])


@pytest.mark.parametrize(
    ("settings", "namespace", "guard", "reason"),
    [
        (_SCOPED, "ops", "namespace", "namespace ops is outside safety.namespaces ['team-*', 'shop']"),
        (_SCOPED, "team-secret", "namespace", "matches safety.exclude_namespaces entry 'team-secret'"),
        (_SCOPED, "team-a", None, ""),
        (SafetySettings(), "kube-system", "protected", "namespace kube-system is protected"),
        (SafetySettings(), "aiops-system", "protected", "namespace aiops-system is protected"),
        (SafetySettings(), "shop", None, ""),
    ],
)
def test_reads_keep_to_the_namespaces_writes_may_touch(
    settings: SafetySettings, namespace: str, guard: str | None, reason: str
) -> None:
    """A read is scoped like a write: ``safety.namespaces`` minus ``exclude_namespaces``, never a
    protected namespace (the settings' plus the operator's own). For a write the guards decide on
    its plan, so the scope check leaves it to them."""
    reach = Reach(frozenset({namespace}))
    protected = {*settings.protected_namespaces, "aiops-system"}
    block = scope.step_scope_block(
        reach, writes=False, home_namespace=None, settings=settings, protected=protected
    )
    assert (block.guard if block else None) == guard
    assert reason in (block.reason if block else "")
    write = scope.step_scope_block(
        reach, writes=True, home_namespace=None, settings=settings, protected=protected
    )
    assert write is None
    home = scope.step_scope_block(
        reach, writes=True, home_namespace="web", settings=settings, protected=protected
    )
    assert home is not None and home.guard == "playbook_namespace"
