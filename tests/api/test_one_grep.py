"""One grep of an incident id follows it from the watch event to the approval and the write.

The real operator runs with the production log set-up (``aiops.cli.setup_logging``, JSON lines);
an SRE approves with their own ``X-Request-ID``. Grepping the incident id over the log lines, the
audit log and the run record finds: the watch event that opened the incident, the run waiting
for approval, the approval, the write and its audit entry, each also naming the request id.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from aiops import cli, correlation
from aiops.emulator.controllers import running_controllers
from aiops.enrichment.scrub import LogScrubber
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually

REQUEST_ID = "sre-approve-7f3a"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The production JSON log handler, writing into a buffer; the root logger restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    cli.setup_logging("INFO", json_logs=True)
    buffer = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


async def test_one_grep_of_the_incident_id_follows_it_to_the_write(
    harness: Harness, json_logs: io.StringIO
) -> None:
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(pending, what="the pod restart to wait for approval")
    (request,) = await harness.pending()
    incident_id = request["incident_id"]
    async with running_controllers(harness.emulator), harness.api("alice") as api:
        answer = await api.post(
            f"/api/approvals/{request['id']}/approve", headers={"X-Request-ID": REQUEST_ID}
        )
        assert answer.status_code == 200 and answer.headers["x-request-id"] == REQUEST_ID
        await harness.finished_run(answer.json()["run"]["id"])
    run = await harness.get(f"/api/runs/{request['run_id']}")
    audit = await harness.get("/api/audit")

    # One grep, over everything the operator writes out.
    lines = json_logs.getvalue().splitlines() + [json.dumps(entry) for entry in audit] + [json.dumps(run)]
    found = [line for line in lines if incident_id in line]
    logged = [json.loads(line) for line in found[: -len(audit) - 1]]
    messages = [entry["message"] for entry in logged]

    def one(fragment: str) -> dict[str, object]:
        hits = [entry for entry in logged if fragment in entry["message"]]
        assert hits, f"no line with {fragment!r} among:\n" + "\n".join(messages)
        return hits[0]

    one("opened by kubernetes event crash_loop:Deployment/shop/web (CrashLoopBackOff")
    one(f"waits for approval {request['id']}")
    decided = one(f"approval {request['id']} approved by alice")
    wrote = one("'delete the pod so its controller recreates it' succeeded (approved by alice)")
    assert decided["request_id"] == REQUEST_ID and wrote["request_id"] == REQUEST_ID
    assert all(entry["incident_id"] == incident_id for entry in (decided, wrote))

    (entry,) = audit
    assert json.dumps(entry) in found
    assert entry["incident_id"] == incident_id and entry["http_request_id"] == REQUEST_ID
    assert entry["target"].endswith(pod["metadata"]["name"])
    assert json.dumps(run) in found
    delete = run["steps"][-1]
    assert delete["incident_id"] == incident_id and delete["http_request_id"] == REQUEST_ID
    describe = run["steps"][0]
    assert (
        describe["incident_id"] == incident_id and describe["http_request_id"] is None
    )  # run from the watch


def test_a_console_line_shows_the_ids_compactly_and_no_secret() -> None:
    """What the console handler of ``setup_logging`` does to a record: redact, then add the ids."""
    record = logging.LogRecord(
        "aiops.x", logging.INFO, __file__, 1, "dial %s", ("postgres://a:Pw0rdX@db/x",), None
    )
    token = correlation.request_id.set("req-1")
    try:
        with correlation.incident("inc-1"):
            assert LogScrubber().filter(record) and correlation.LogFilter().filter(record)
    finally:
        correlation.request_id.reset(token)
    line = logging.Formatter("%(message)s%(correlation)s").format(record)
    assert line == "dial postgres://a:[REDACTED:url_password]@db/x [incident=inc-1 request=req-1]"
    bare = logging.LogRecord("aiops.x", logging.INFO, __file__, 1, "idle", (), None)
    correlation.LogFilter().filter(bare)
    assert logging.Formatter("%(message)s%(correlation)s").format(bare) == "idle"
