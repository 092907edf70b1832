"""Nothing secret leaves: a crash-looping pod full of secrets, through the real operator, end to end.

The pod's logs, env, probe headers, last-applied annotation, container status message and Events
carry the corpus (AWS key id and secret, a bearer JWT, a URL password, ``password=``, a ``ghp_``
token, a PEM private key, a Slack bot token, env literals no text rule recognises). The operator
(real kopf against the emulated API, real Redis) opens the incident, enriches it, runs describe and
logs, asks for and gets approval to delete the pod, writes and audits. Then every API route, the
CLI and every key under the test's Redis prefix are searched for each planted secret; none may be
there, while the evidence people need (the log's non-secret text, env names) still is.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from tests.alertmanager.payloads import alert, payload
from tests.cli.helpers import arun_cli, cli_env
from tests.operator import workloads
from tests.secrets import corpus
from tests.support import kube_fixtures as kf
from tests.support.operator_fixtures import ALERTMANAGER_TOKEN, TOKENS, Harness, eventually


def _seed_pod_full_of_secrets(emu: ClusterEmulator) -> dict[str, Any]:
    """``workloads.seed_crash_loop`` with the corpus planted in the pod, its logs and its Events."""
    pod = workloads.seed_crash_loop(emu)
    pod = copy.deepcopy(pod)
    container = pod["spec"]["containers"][0]
    container["env"] = corpus.ENV
    container["args"] = [f"--db-password={corpus.PASSWORD}"]
    container["readinessProbe"] = {
        "httpGet": {
            "path": "/ready",
            "port": 8080,
            "httpHeaders": [{"name": "X-Auth", "value": corpus.HEADER_SECRET}],
        }
    }
    applied = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [{"name": "app", "env": corpus.ENV}]},
    }
    pod["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = (
        json.dumps(applied)
    )
    status = pod["status"]["containerStatuses"][0]
    status["state"]["waiting"]["message"] = f"back-off restarting; last error: token {corpus.GITHUB} rejected"
    status["lastState"]["terminated"]["message"] = f"fatal: AWS_SECRET_ACCESS_KEY={corpus.AWS_SECRET}"
    stored = emu.put_object(pod)
    name = stored["metadata"]["name"]
    text = "\n".join(corpus.LOG_LINES) + "\n"
    emu.set_pod_log("shop", name, text, container="app", previous=True)
    emu.set_pod_log("shop", name, text, container="app")
    emu.put_object(
        kf.event(
            f"{name}.backoff",
            stored,
            reason="BackOff",
            message=f"Back-off pulling with Authorization: Bearer {corpus.JWT} from https://u:{corpus.URL_PASSWORD}@reg",
        )
    )
    emu.put_object(
        kf.event(
            f"{name}.slack",
            stored,
            reason="Unhealthy",
            message=f"probe: slack {corpus.SLACK}; key {corpus.AWS_KEY_ID}",
        )
    )
    return stored


async def _everything_stored(redis_url: str, prefix: str) -> str:
    """Every key under ``prefix`` and its whole value (strings, hashes, streams, sets, lists), as text."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    parts: list[str] = []
    try:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        async for key in client.scan_iter(match=pattern, count=500):
            kind = await client.type(key)
            value: Any
            if kind == "string":
                value = await client.get(key)
            elif kind == "hash":
                value = await client.hgetall(key)
            elif kind == "stream":
                value = await client.xrange(key)
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            elif kind == "set":
                value = sorted(await client.smembers(key))
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            else:
                value = kind
            parts.append(f"{key} {json.dumps(value, default=str)}")
    finally:
        await client.aclose()
    assert parts, f"nothing stored under {prefix}"
    return "\n".join(parts)


async def test_no_planted_secret_reaches_redis_the_api_the_cli_or_the_logs(
    harness: Harness, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiops")
    emu = harness.emulator
    _seed_pod_full_of_secrets(emu)
    await harness.start()

    async def waiting_and_enriched() -> bool:
        incidents = await harness.get("/api/incidents")
        if len(incidents) < 2 or not await harness.pending():  # the crash loop, and the failing probe
            return False
        details = [await harness.get(f"/api/incidents/{incident['id']}") for incident in incidents]
        return all(detail["enrichment"] is not None for detail in details)

    await eventually(
        waiting_and_enriched, timeout_seconds=30, what="the restart to wait for approval, enriched"
    )
    (request,) = await harness.pending()
    async with running_controllers(emu):
        answer = await harness.approve(request["id"], reason=f"ok; rotate {corpus.GITHUB} later")
        run = await harness.finished_run(answer["run"]["id"])
    (incident,) = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]

    # Every API route, including the approve answer itself.
    routes = [
        "/api/incidents",
        *(f"/api/incidents/{i['id']}" for i in await harness.get("/api/incidents")),
        f"/api/runs/{run['id']}",
        "/api/approvals",
        f"/api/approvals/{request['id']}",
        "/api/audit",
    ]
    answers = {route: json.dumps(await harness.get(route)) for route in routes}
    answers["POST approve"] = json.dumps(answer)
    for route, text in answers.items():
        assert corpus.leaks(text) == [], f"{route} leaks"

    # What people need is still there: the log's own words, env names, the write in the audit.
    describe, logs = run["steps"][0], run["steps"][1]
    assert "connection refused" in logs["output"] and "[REDACTED:url_password]" in logs["output"]
    assert len(logs["output"].splitlines()) == len(corpus.LOG_LINES)
    env = describe["output"]["object"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["SIGNING_SALT", "DATABASE_URL", "TOKEN_FROM_SECRET"]
    assert any(e["reason"] == "BackOff" for e in describe["output"]["events"])
    (audit,) = json.loads(answers["/api/audit"])
    assert audit["action"] == "delete_pod" and audit["actor"] == "alice"

    # Every key the operator wrote under this test's prefix, whatever its type.
    assert corpus.leaks(await _everything_stored(redis_url, harness.store.prefix)) == []

    # The CLI, as a person runs it against the API.
    env_vars = cli_env(AIOPS_API_URL=harness.base_url, AIOPS_API_TOKEN=TOKENS["alice"])
    for args in (("incidents", "show", incident["id"]), ("approvals", "show", request["id"])):
        result = await arun_cli(*args, env=env_vars)
        assert result.returncode == 0, str(result)
        assert corpus.leaks(result.stdout + result.stderr) == [], str(result)

    # And no log record of ours carried one.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "incident" in logged  # the operator did log its work
    assert corpus.leaks(logged) == []


def _seed_stuck_rollout_with_secret_env(emu: ClusterEmulator) -> None:
    """Deployment ``api`` stuck at revision 2; revision 1's template carries the env secrets."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    deploy = kf.deployment("api", "shop", replicas=2, image="app:2", revision=2)
    deploy["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "SIGNING_SALT", "value": "rotated"}
    ]
    deploy["status"] = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 0,
        "unavailableReplicas": 2,
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
        ],
    }
    stored = emu.put_object(deploy)
    for revision, image, hash_ in ((1, "app:1", "6b7c8d9e0f"), (2, "app:2", "1a2b3c4d5e")):
        rs = kf.replicaset(stored, revision=revision, image=image, hash_=hash_)
        if revision == 1:
            rs["spec"]["template"]["spec"]["containers"][0]["env"] = corpus.ENV
        else:
            rs["spec"]["template"]["spec"]["containers"][0]["env"] = [
                {"name": "SIGNING_SALT", "value": "rotated"}
            ]
        emu.put_object(rs)


async def test_a_rollback_writes_the_real_env_and_stores_none_of_it(harness: Harness, redis_url: str) -> None:
    """The approved plan is stored scrubbed; the re-check compares it with the fresh plan scrubbed
    the same way, so the rollback still runs, and it writes the template's real values."""
    emu = harness.emulator
    _seed_stuck_rollout_with_secret_env(emu)
    await harness.start()

    async def pending() -> bool:
        return any(r["action"] == "rollback" for r in await harness.pending())

    await eventually(pending, what="the rollback to wait for approval")
    (request,) = [r for r in await harness.pending() if r["action"] == "rollback"]
    assert corpus.leaks(json.dumps(request)) == []
    [call] = request["plan"]["calls"]
    assert "[REDACTED:env_value]" in json.dumps(call["body"]), "the approver sees where a value was elided"
    answer = await harness.approve(request["id"])
    run = await harness.finished_run(answer["run"]["id"])
    rollback = next(s for s in run["steps"] if s["action"] == "rollback")
    assert rollback["state"] == "succeeded", rollback

    # The cluster got the real values, never a marker.
    template = emu.get_object("apps/v1", "Deployment", "shop", "api")["spec"]["template"]  # type: ignore[index]
    assert template["spec"]["containers"][0]["env"] == corpus.ENV
    assert template["spec"]["containers"][0]["image"] == "app:1"

    for route in ("/api/audit", f"/api/runs/{run['id']}", f"/api/approvals/{request['id']}"):
        assert corpus.leaks(json.dumps(await harness.get(route))) == [], route
    assert corpus.leaks(await _everything_stored(redis_url, harness.store.prefix)) == []


async def test_an_alert_carrying_secrets_is_recorded_and_shown_without_them(
    harness: Harness, redis_url: str
) -> None:
    """Alertmanager posts what its rules template: a description quoting a log line, a generator
    URL with credentials, an annotation named like a secret. The intake stores the payload (to
    answer 200 only once it is durable) and the incident keeps the alert's text: neither may hold
    a secret. Before the intake scrubbed the body, the stored payload held every one in clear."""
    await harness.start()
    planted = alert(
        "KubePodCrashLooping",
        {"namespace": "shop", "pod": "web-0", "container": "app"},
        description=" | ".join(  # a PEM block is recognised by its armor lines, which a one-line text lacks
            line for line in corpus.LOG_LINES if "PRIVATE KEY" not in line and line != corpus.PRIVATE_KEY_BODY
        ),
    )
    planted["generatorURL"] = f"http://admin:{corpus.URL_PASSWORD}@prometheus:9090/graph?g0.expr=up"
    planted["annotations"]["api_token"] = corpus.GITHUB
    body = payload(planted)
    assert corpus.leaks(body.decode()) != [], "the payload carries the planted secrets"

    async with harness.api(identity=None) as client:
        answer = await client.post(
            "/api/webhook/alertmanager",
            content=body,
            headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": 1, "duplicates": 0}

    async def opened() -> bool:
        return any(i["type"] == "crash_loop" for i in await harness.get("/api/incidents"))

    await eventually(opened, timeout_seconds=20, what="the alert to open an incident")
    (incident,) = await harness.get("/api/incidents")
    detail = await harness.get(f"/api/incidents/{incident['id']}")
    shown = json.dumps([incident, detail])
    assert corpus.leaks(shown) == [], shown
    assert "connection refused" in shown, "the alert's own words are kept"
    assert corpus.leaks(await _everything_stored(redis_url, harness.store.prefix)) == []
