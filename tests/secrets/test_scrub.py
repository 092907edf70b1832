"""The scrubber: every planted secret leaves JSON-like data by shape or by text, and nothing else moves.

Shapes the text rules cannot judge (an env var's literal value, a Secret's data, a header value, a
secret inside the JSON of ``last-applied-configuration``) are elided by position; text goes through
the redactor. The result keeps keys, list lengths and non-string values, validates as the same
model again, and scrubbing twice changes nothing (an approved plan and a fresh one compare equal).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from aiops.actions.catalog import Risk
from aiops.enrichment.redact import Redactor
from aiops.enrichment.scrub import ENV_VALUE, SECRET_DATA, Scrubber
from aiops.events.model import ClusterEvent, EventSource, EventType, ObjectRef
from aiops.playbooks.runs import Run, RunStore, StepRecord
from aiops.store import Store
from tests.alertmanager.payloads import alert, payload
from tests.secrets import corpus


def _pod() -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "app:1",
        "args": [f"--db-password={corpus.PASSWORD}"],
        "env": corpus.ENV,
        "livenessProbe": {
            "httpGet": {
                "path": "/healthz",
                "port": 8080,
                "httpHeaders": [{"name": "X-Probe-Auth", "value": corpus.HEADER_SECRET}],
            }
        },
    }
    applied = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [{"name": "app", "env": corpus.ENV}]},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "0b8f3c1e-6a47-4d0e-9d1c-3f5e2a7b9c10",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)},
        },
        "spec": {"containers": [container]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 3}]},
    }


def _secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web", "namespace": "shop"},
        "type": "Opaque",
        "data": {"token": "ZWxlY3Ryb24=", "tls.key": "LS0tLS1CRUdJTg=="},
        "stringData": {"plain": corpus.ENV_SECRET},
    }


def test_a_pod_keeps_its_shape_and_loses_every_secret() -> None:
    pod = _pod()
    scrubbed = Scrubber()(pod)
    text = json.dumps(scrubbed)
    assert corpus.leaks(text) == []
    env = scrubbed["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["SIGNING_SALT", "DATABASE_URL", "TOKEN_FROM_SECRET"]
    assert env[0]["value"] == ENV_VALUE and env[1]["value"] == ENV_VALUE
    assert env[2]["valueFrom"] == {"secretKeyRef": {"name": "web", "key": "token"}}  # a reference, kept
    header = scrubbed["spec"]["containers"][0]["livenessProbe"]["httpGet"]["httpHeaders"][0]
    assert header == {"name": "X-Probe-Auth", "value": ENV_VALUE}
    assert scrubbed["spec"]["containers"][0]["args"] == ["--db-password=[REDACTED:password]"]
    applied = json.loads(
        scrubbed["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert applied["spec"]["containers"][0]["env"][0] == {"name": "SIGNING_SALT", "value": ENV_VALUE}
    # What is not a secret is untouched, and the input itself was not modified.
    assert scrubbed["metadata"]["uid"] == pod["metadata"]["uid"]
    assert scrubbed["status"] == pod["status"]
    assert pod["spec"]["containers"][0]["env"][0]["value"] == corpus.ENV_SECRET


def test_secret_data_is_never_kept_wherever_the_secret_appears() -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [_secret()]}
    for scrubbed in (Scrubber()(_secret()), Scrubber()(listed)["items"][0]):
        assert scrubbed["data"] == {"token": SECRET_DATA, "tls.key": SECRET_DATA}
        assert scrubbed["stringData"] == {"plain": SECRET_DATA}
        assert scrubbed["metadata"] == {"name": "web", "namespace": "shop"}
    assert "ZWxlY3Ryb24=" not in json.dumps(Scrubber()({"object": _secret()}))


def test_text_keys_and_patches_are_judged_too() -> None:
    data = {
        "log": "\n".join(corpus.LOG_LINES),
        "configmap": {"kind": "ConfigMap", "data": {"DB_PASSWORD": corpus.PASSWORD, "LOG_LEVEL": "debug"}},
        "diff": [
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/env/0/value",
                "value": corpus.ENV_SECRET,
            },
            {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": corpus.ENV[0]},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
        ],
        "count": 3,
        "ok": True,
        "nothing": None,
    }
    scrubbed = Scrubber()(data)
    assert corpus.leaks(json.dumps(scrubbed)) == []
    assert scrubbed["configmap"]["data"] == {"DB_PASSWORD": "[REDACTED:password]", "LOG_LEVEL": "debug"}
    assert scrubbed["diff"][0]["value"] == ENV_VALUE
    assert scrubbed["diff"][1]["value"] == {"name": "SIGNING_SALT", "value": ENV_VALUE}
    assert scrubbed["diff"][2] == data["diff"][2]
    assert (scrubbed["count"], scrubbed["ok"], scrubbed["nothing"]) == (3, True, None)
    assert len(scrubbed["log"].splitlines()) == len(corpus.LOG_LINES)


def test_scrubbing_is_idempotent_and_honours_extra_patterns() -> None:
    scrub = Scrubber(Redactor([r"\bEMP-\d{6}\b"]))
    data = {"pod": _pod(), "secret": _secret(), "note": "badge EMP-123456", "lines": corpus.LOG_LINES}
    once = scrub(data)
    assert scrub(once) == once
    assert once["note"] == "badge [REDACTED:extra]"


def test_an_event_keeps_what_names_the_problem() -> None:
    event = ClusterEvent(
        source=EventSource.ALERTMANAGER,
        type=EventType.CRASH_LOOP,
        resource=ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="web-1"),
        reason="BackOff",
        message=f"probe failed: GET http://app:{corpus.URL_PASSWORD}@web:8080/ returned 401",
        labels={"team": "shop", "leaked": f"token={corpus.PASSWORD}"},
        details={"container": "app", "note": f"key {corpus.AWS_KEY_ID}", "restarts": 4},
        fingerprint_override="a1b2c3d4e5f60718",
    )
    scrubbed = Scrubber().event(event)
    assert corpus.leaks(scrubbed.model_dump_json()) == []
    assert scrubbed.fingerprint == "a1b2c3d4e5f60718" and scrubbed.dedup_key == event.dedup_key
    assert scrubbed.details["restarts"] == 4 and scrubbed.labels["team"] == "shop"
    clean = event.model_copy(update={"message": "back-off", "labels": {}, "details": {}})
    assert Scrubber().event(clean) is clean


async def test_a_described_secret_is_stored_without_its_data(store: Store) -> None:
    now = datetime.now(UTC)
    event = ClusterEvent(
        type=EventType.CRASH_LOOP,
        resource=ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="web"),
    )
    step = StepRecord(
        index=0, name="describe", action="describe", risk=Risk.LOW, output={"object": _secret()}
    )
    run = Run(
        id="run-1",
        incident_id="inc-1",
        playbook_id="p",
        event=event,
        created_at=now,
        updated_at=now,
        steps=[step],
    )
    runs = RunStore(store)
    await runs.save(run)
    stored = await runs.get("run-1")
    assert stored is not None and stored.steps[0].output["object"]["data"] == {
        "token": SECRET_DATA,
        "tls.key": SECRET_DATA,
    }
    assert "ZWxlY3Ryb24=" not in stored.model_dump_json() and corpus.leaks(stored.model_dump_json()) == []
    assert run.steps[0].output["object"]["data"]["token"] == "ZWxlY3Ryb24="  # the caller's copy is untouched


def _webhook_bodies() -> list[bytes]:
    """Alertmanager payloads: a clean one, then one secret per kind in each place it can hide."""
    labels = {"namespace": "shop", "pod": "web-0"}
    bodies = [payload(*(alert("KubePodCrashLooping", {**labels, "pod": f"web-{i}"}) for i in range(10)))]
    for line in corpus.LOG_LINES:
        if line == corpus.PRIVATE_KEY_BODY:
            continue  # a key's body alone is base64 like any other: its armor lines give it away (below)
        bodies.append(payload(alert("KubePodCrashLooping", labels, description=line)))
        bodies.append(payload(alert("KubePodCrashLooping", {**labels, "instance": line})))
    pem = "\n".join(
        line for line in corpus.LOG_LINES if "PRIVATE KEY" in line or line == corpus.PRIVATE_KEY_BODY
    )
    bodies.append(payload(alert("KubePodCrashLooping", labels, description=pem)))
    embedded = json.dumps({"kind": "Pod", "spec": {"containers": [{"name": "app", "env": corpus.ENV}]}})
    bodies.append(payload(alert("KubePodCrashLooping", labels, description=embedded)))
    keyed = alert("KubePodCrashLooping", labels)
    keyed["annotations"]["session_cookie"] = "s3ss10nCookieValueThatIsLongEnough0123"
    bodies.append(payload(keyed))
    return bodies


@pytest.mark.parametrize("body", _webhook_bodies())
def test_a_webhook_body_is_scrubbed_exactly_as_its_parsed_data_would_be(body: bytes) -> None:
    """``json_bytes`` judges a whole body in one batch first and returns it untouched when nothing
    would change: that shortcut must never give another answer than the full walk."""
    scrubber = Scrubber()

    scrubbed = scrubber.json_bytes(body)

    assert json.loads(scrubbed) == scrubber(json.loads(body))
    assert corpus.leaks(scrubbed.decode()) == []
    if scrubber(json.loads(body)) == json.loads(body):
        assert scrubbed is body, "a clean body is recorded byte for byte"
