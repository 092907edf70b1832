"""The Alertmanager webhook receiver against the running runtime (real Redis, real kopf, emulated API).

Credentials as Alertmanager's http_config sends them; bad input answers 4xx with the reason and
never 5xx (fuzzed); repeated deliveries are idempotent (one incident, duplicates counted); an
alert and the watch agree on one incident; an alert starts the same playbooks as the watch; a
resolved alert resolves its incident.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.settings import AlertmanagerSettings
from tests.alertmanager.payloads import alert, payload
from tests.operator import workloads
from tests.support.operator_fixtures import ALERTMANAGER_TOKEN, Harness, eventually, make_settings

URL = "/api/webhook/alertmanager"
AUTH = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}


async def post(harness: Harness, body: bytes) -> httpx.Response:
    """POST ``body`` to the receiver with Alertmanager's bearer token."""
    async with httpx.AsyncClient(base_url=harness.base_url, timeout=30) as client:
        return await client.post(URL, content=body, headers=AUTH)


async def incidents(harness: Harness, type_: str) -> list[dict[str, Any]]:
    return [i for i in await harness.get("/api/incidents") if i["type"] == type_]


async def test_credentials_are_required_and_checked(harness: Harness) -> None:
    await harness.start()
    body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": "web-1", "container": "app"}))
    async with httpx.AsyncClient(base_url=harness.base_url) as client:
        assert (await client.post(URL, content=body)).status_code == 401
        wrong = await client.post(URL, content=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await client.post(URL, content=body, headers=AUTH)
    assert ok.status_code == 200 and ok.json() == {"recorded": 1, "duplicates": 0}


async def test_basic_auth_as_alertmanager_sends_it(harness: Harness) -> None:
    harness.settings = make_settings(
        harness.emulator, alertmanager=AlertmanagerSettings(username="am", password="s3cret-password")
    )
    await harness.start()
    body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": "web-1", "container": "app"}))
    good = base64.b64encode(b"am:s3cret-password").decode()
    bad = base64.b64encode(b"am:guess").decode()
    async with httpx.AsyncClient(base_url=harness.base_url) as client:
        assert (
            await client.post(URL, content=body, headers={"Authorization": f"Basic {good}"})
        ).status_code == 200
        assert (
            await client.post(URL, content=body, headers={"Authorization": f"Basic {bad}"})
        ).status_code == 401
        assert (
            await client.post(URL, content=body, headers={"Authorization": "Basic !!"})
        ).status_code == 401


async def test_bad_input_is_a_4xx_with_the_reason(harness: Harness) -> None:
    await harness.start()
    async with httpx.AsyncClient(base_url=harness.base_url, headers=AUTH) as client:
        not_json = await client.post(URL, content=b"{not json")
        assert not_json.status_code == 400 and not_json.json()["detail"] == "not JSON"
        schema = await client.post(URL, content=json.dumps({"status": "firing", "alerts": [{"labels": {}}]}))
        assert schema.status_code == 422
        assert schema.headers["content-type"] == "application/problem+json"
        fields = {p["field"] for p in schema.json()["errors"]}
        assert any(f.startswith("alerts.0") for f in fields)
        huge = await client.post(URL, content=b" " * (2 * 1024 * 1024))
        assert huge.status_code == 413


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=512),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "version": st.sampled_from(["4", 4, None]),
                "status": st.sampled_from(["firing", "resolved", "bogus", 1]),
                "alerts": st.lists(
                    st.fixed_dictionaries(
                        {
                            "labels": st.dictionaries(
                                st.sampled_from(["alertname", "pod", "namespace", "node"]),
                                st.text(max_size=12) | st.integers(),
                            ),
                            "startsAt": st.sampled_from(["2026-11-21T10:00:00Z", "yesterday", "", None]),
                            "status": st.sampled_from(["firing", "resolved", "x"]),
                        }
                    ),
                    max_size=3,
                ),
            }
        ).map(lambda v: json.dumps(v).encode()),
    )
)
async def test_fuzzed_payloads_never_get_a_5xx(started: Harness, body: bytes) -> None:
    response = await post(started, body)
    assert response.status_code < 500, response.text


async def test_the_same_payload_five_times_is_one_incident_with_duplicates_counted(harness: Harness) -> None:
    await harness.start()
    body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": "web-1", "container": "app"}))
    answers = [(await post(harness, body)).json() for _ in range(5)]
    assert answers[0] == {"recorded": 1, "duplicates": 0}
    assert all(a == {"recorded": 0, "duplicates": 1} for a in answers[1:])

    async def counted() -> bool:
        found = await incidents(harness, "alert")
        return len(found) == 1 and found[0]["suppressed"].get("duplicate", 0) == 4

    await eventually(counted, what="one incident with 4 duplicates")


async def test_alert_and_watch_about_one_pod_share_one_incident(harness: Harness) -> None:
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def watched() -> bool:
        return len(await incidents(harness, "crash_loop")) == 1

    await eventually(watched, what="the watch-detected incident")
    body = payload(
        alert(
            "KubePodCrashLooping", {"namespace": "shop", "pod": pod["metadata"]["name"], "container": "app"}
        )
    )
    assert (await post(harness, body)).status_code == 200

    async def joined() -> bool:
        found = await incidents(harness, "crash_loop")
        return len(found) == 1 and found[0]["event_count"] >= 2

    await eventually(joined, what="the alert to join the watch's incident")
    (incident,) = await incidents(harness, "crash_loop")
    assert incident["dedup_key"] == "crash_loop:Deployment/shop/web"
    assert len(incident["run_ids"]) == 1  # the playbook started once, for the first source


async def test_an_alert_alone_starts_the_playbook_up_to_the_approval_gate(harness: Harness) -> None:
    await harness.start()
    body = payload(alert("KubeNodeNotReady", {"node": "worker-9"}), group_key="{}:{}")
    assert (await post(harness, body)).status_code == 200

    async def waiting_or_done() -> bool:
        found = await incidents(harness, "node_not_ready")
        if not found:
            return False
        detail = await harness.get(f"/api/incidents/{found[0]['id']}")
        return bool(detail["runs"]) and detail["runs"][0]["state"] != "running"

    await eventually(waiting_or_done, what="the node playbook's run")
    (incident,) = await incidents(harness, "node_not_ready")
    assert incident["dedup_key"] == "node_not_ready:Node/-/worker-9"
    detail = await harness.get(f"/api/incidents/{incident['id']}")
    assert detail["runs"][0]["playbook_id"] == "node_not_ready_remediation"


async def test_a_resolved_alert_resolves_its_incident(harness: Harness) -> None:
    await harness.start()
    labels = {"namespace": "shop", "pod": "web-1", "container": "app"}
    assert (await post(harness, payload(alert("CPUThrottlingHigh", labels)))).status_code == 200

    async def opened() -> bool:
        return len(await incidents(harness, "alert")) == 1

    await eventually(opened, what="the alert's incident")
    resolved = payload(alert("CPUThrottlingHigh", labels, status="resolved"))
    assert (await post(harness, resolved)).json() == {"recorded": 1, "duplicates": 0}

    async def closed() -> bool:
        found = await incidents(harness, "alert")
        return len(found) == 1 and found[0]["status"] == "resolved"

    await eventually(closed, what="the incident to resolve")
    assert (await incidents(harness, "alert"))[0]["resolution"] == "alert resolved"
