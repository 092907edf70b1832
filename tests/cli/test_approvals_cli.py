"""``aiops approvals`` and ``aiops incidents``: an SRE deciding a pending remediation from a shell.

Against the whole runtime (real kopf operator and API, emulated Kubernetes, real Redis) with a
crash-looping Deployment: the pod restart waits for approval; ``approvals list/show`` show it,
``approvals approve`` as alice runs it (the pod is deleted once) and prints the decision, a
second decision is refused (exit 1, "already approved by alice"), a wrong or missing token is
refused with 401 and changes nothing, an unreachable API exits 1; ``incidents list/show`` show
the incident and its run; ``AIOPS_API_URL``/``AIOPS_API_TOKEN`` replace the flags.
The CLI runs as a child process under asyncio, so the operator keeps running meanwhile.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiops.emulator.controllers import running_controllers
from aiops.settings import ApprovalSettings
from tests.cli.helpers import CliResult, arun_cli, cli_env
from tests.operator import workloads
from tests.support.operator_fixtures import (
    TOKENS,
    Harness,
    eventually,
    make_settings,
    writes,
)
from tests.support.ports import free_port


async def start_with_pending_restart(harness: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seed a crash loop, start the runtime, wait for its restart approval: (pod, request)."""
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def one_pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(one_pending, what="the pod restart to wait for approval")
    (request,) = await harness.pending()
    return pod, request


def as_user(harness: Harness, identity: str) -> tuple[str, ...]:
    return ("--api-url", harness.base_url, "--token", TOKENS[identity])


def json_of(result: CliResult) -> Any:
    assert result.returncode == 0, result
    return json.loads(result.stdout)


async def test_list_show_approve_and_a_second_decision_is_refused(harness: Harness) -> None:
    pod, request = await start_with_pending_restart(harness)
    pod_name = pod["metadata"]["name"]

    listed = json_of(await arun_cli("approvals", "list", *as_user(harness, "alice"), "--json"))
    (row,) = listed
    assert row["id"] == request["id"]
    assert (row["state"], row["risk"], row["action"]) == ("pending", "medium", "delete_pod")
    assert row["params"]["pod"] == pod_name and row["params"]["namespace"] == "shop"
    assert (
        json_of(
            await arun_cli("approvals", "list", *as_user(harness, "bob"), "--state", "approved", "--json")
        )
        == []
    )

    shown = json_of(await arun_cli("approvals", "show", request["id"], *as_user(harness, "bob"), "--json"))
    assert shown["id"] == request["id"] and shown["params"] == row["params"]
    [planned] = shown["plan"]["calls"]
    assert planned["method"] == "DELETE" and planned["path"].endswith(f"/pods/{pod_name}")
    # Without --json: the plan for people, call by call, with the server's dry-run answer.
    text = (await arun_cli("approvals", "show", request["id"], *as_user(harness, "bob"))).flat_stdout
    assert (
        f"params: namespace=shop, pod={pod_name}" in text or f"params: pod={pod_name}, namespace=shop" in text
    )
    assert f"Plan: delete_pod on Pod/shop/{pod_name}" in text
    assert f"1. DELETE /api/v1/namespaces/shop/pods/{pod_name}" in text
    assert "server dry run: code 200" in text and "- (the whole object)" in text
    assert f"then verify: pod_replaced on Pod/shop/{pod_name}" in text
    assert writes(harness.emulator, "DELETE") == [], "listing and showing change nothing"

    async with running_controllers(harness.emulator):
        approved = await arun_cli(
            "approvals", "approve", request["id"], *as_user(harness, "alice"), "--reason", "known bad pod"
        )

    assert approved.returncode == 0, approved
    decision = re.fullmatch(r"(\S+) approved by alice; run (\S+) is (\S+)", approved.flat_stdout)
    assert decision is not None, approved
    assert decision[1] == request["id"]
    assert decision[3] in ("running", "succeeded")  # verification may still be going on
    assert harness.emulator.get_object("v1", "Pod", "shop", pod_name) is None

    again = await arun_cli("approvals", "approve", request["id"], *as_user(harness, "bob"))

    assert again.returncode == 1, again
    assert again.stdout == ""
    assert "409" in again.flat_stderr
    assert "already approved by alice" in again.flat_stderr, again
    assert "Traceback" not in again.stderr
    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1, "the pod was deleted once"

    (entry,) = await harness.get("/api/audit")
    assert (entry["action"], entry["actor"], entry["ok"]) == ("delete_pod", "alice", True)
    after = json_of(await arun_cli("approvals", "show", request["id"], *as_user(harness, "bob"), "--json"))
    assert (after["state"], after["decided_by"]) == ("approved", "alice")


async def test_two_approvers_vote_from_the_cli(harness: Harness) -> None:
    """With ``approvals.votes_medium: 2`` the restart needs two people: alice's approve is vote
    1/2 (nothing runs), her second one is refused (409, already voted), bob's runs it."""
    harness.settings = make_settings(
        harness.emulator, approvals=ApprovalSettings(sweep_interval_seconds=0.2, votes_medium=2)
    )
    pod, request = await start_with_pending_restart(harness)

    first = await arun_cli("approvals", "approve", request["id"], *as_user(harness, "alice"))
    assert first.returncode == 0, first
    assert re.fullmatch(
        rf"{request['id']} vote 1/2 recorded \(alice\); still pending; run (\S+) is waiting_approval",
        first.flat_stdout,
    ), first
    again = await arun_cli("approvals", "approve", request["id"], *as_user(harness, "alice"))
    assert again.returncode == 1 and "409" in again.flat_stderr, again
    assert "alice already voted" in again.flat_stderr and "Traceback" not in again.stderr
    assert writes(harness.emulator, "DELETE") == [], "one vote runs nothing"

    async with running_controllers(harness.emulator):
        second = await arun_cli("approvals", "approve", request["id"], *as_user(harness, "bob"))
    assert second.returncode == 0, second
    assert second.flat_stdout.startswith(f"{request['id']} approved by bob; run "), second
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None
    shown = json_of(await arun_cli("approvals", "show", request["id"], *as_user(harness, "bob"), "--json"))
    assert (shown["votes"], shown["votes_needed"], shown["reason"]) == (
        ["alice", "bob"],
        2,
        "approved by alice, bob",
    )


async def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(harness: Harness) -> None:
    pod, request = await start_with_pending_restart(harness)

    wrong = await arun_cli(
        "approvals", "approve", request["id"], "--api-url", harness.base_url, "--token", "not-a-token"
    )
    missing = await arun_cli("approvals", "approve", request["id"], "--api-url", harness.base_url)
    listing = await arun_cli("approvals", "list", "--api-url", harness.base_url, "--token", "nope", "--json")

    for result in (wrong, missing, listing):
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert "401" in result.flat_stderr, result
        assert "Traceback" not in result.stderr
    assert "invalid bearer token" in wrong.flat_stderr
    assert "missing bearer token" in missing.flat_stderr
    assert [r["id"] for r in await harness.pending()] == [request["id"]]
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is not None
    assert writes(harness.emulator, "DELETE") == []


async def test_input_the_api_refuses_exits_2_naming_the_field(harness: Harness) -> None:
    pod, request = await start_with_pending_restart(harness)

    too_long = await arun_cli(
        "approvals", "approve", request["id"], *as_user(harness, "alice"), "--reason", "x" * 1001
    )
    bad_state = await arun_cli("approvals", "list", *as_user(harness, "alice"), "--state", "approvd")
    bad_status = await arun_cli("incidents", "list", *as_user(harness, "alice"), "--status", "closed")

    for result in (too_long, bad_state, bad_status):
        assert result.returncode == 2, result  # invalid input, not an operational failure
        assert result.stdout == ""
        assert "422: invalid input:" in result.flat_stderr, result
        assert "Traceback" not in result.stderr
    assert "reason (request body): String should have at most 1000 characters" in too_long.flat_stderr
    assert "state (query parameter): Input should be 'pending'" in bad_state.flat_stderr, bad_state
    assert "status (query parameter): Input should be 'open' or 'resolved'" in bad_status.flat_stderr
    assert [r["id"] for r in await harness.pending()] == [request["id"]], "nothing was decided"
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is not None


async def test_an_unreachable_api_exits_1_saying_so() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = await arun_cli("approvals", "list", "--api-url", url, "--token", TOKENS["alice"])

    assert result.returncode == 1, result
    assert f"cannot reach {url}" in result.flat_stderr, result
    assert "Traceback" not in result.stderr


async def test_incidents_list_and_show(harness: Harness) -> None:
    _, request = await start_with_pending_restart(harness)

    incidents = json_of(await arun_cli("incidents", "list", *as_user(harness, "alice"), "--json"))

    (incident,) = [i for i in incidents if i["type"] == "crash_loop"]
    assert incident["status"] == "open"
    assert (incident["subject"]["kind"], incident["subject"]["namespace"], incident["subject"]["name"]) == (
        "Deployment",
        "shop",
        "web",
    )
    assert incident["event_count"] >= 1
    assert incident["subject"]["apiVersion"] == "apps/v1"
    assert (
        json_of(
            await arun_cli("incidents", "list", *as_user(harness, "alice"), "--status", "resolved", "--json")
        )
        == []
    )

    detail = json_of(await arun_cli("incidents", "show", incident["id"], *as_user(harness, "bob")))

    assert detail["incident"]["id"] == incident["id"]
    # One spelling for object references across the API: the Kubernetes one, apiVersion.
    assert detail["incident"]["subject"] == incident["subject"]
    assert detail["incident"]["first_event"]["resource"]["apiVersion"] == "v1"
    (run,) = detail["runs"]
    assert run["event"]["owner"] == incident["first_event"]["owner"]
    assert run["event"]["owner"]["apiVersion"] == "apps/v1"
    assert run["playbook_id"] == request["playbook_id"]
    assert run["state"] == "waiting_approval"
    steps = {step["name"]: step for step in run["steps"]}
    assert steps[request["step_name"]]["state"] == "awaiting_approval"
    assert all(s["state"] == "succeeded" for s in run["steps"] if s["risk"] == "low")

    unknown = await arun_cli("incidents", "show", "no-such-incident", *as_user(harness, "bob"))
    assert unknown.returncode == 1, unknown
    assert "404" in unknown.flat_stderr and "no incident no-such-incident" in unknown.flat_stderr


def squash(text: str) -> str:
    """``text`` without any whitespace: what a folded or wrapped table cell reads as."""
    return "".join(text.split())


def table_rows(text: str) -> list[list[str]]:
    """The rows of a rich table drawn with lines between rows: per row, each column's cell with
    its lines joined, so a value folded over several lines is whole again (compare squashed)."""
    rows: list[list[str]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
            current = current or [[] for _ in cells]
            for parts, cell in zip(current, cells, strict=True):
                parts.append(cell)
        elif current is not None and line.startswith(("├", "└")):
            rows.append(["".join(parts) for parts in current])
            current = None
    return rows


async def test_the_tables_show_what_is_pending_whole_at_any_width(harness: Harness) -> None:
    pod, request = await start_with_pending_restart(harness)
    target = f"Pod/shop/{pod['metadata']['name']}"

    for columns in ("250", "80"):
        env = cli_env(COLUMNS=columns)
        approvals = await arun_cli("approvals", "list", *as_user(harness, "alice"), env=env)
        incidents = await arun_cli("incidents", "list", *as_user(harness, "alice"), env=env)

        assert approvals.returncode == 0, approvals
        assert "…" not in approvals.stdout, f"a value was cut at {columns} columns:\n{approvals.stdout}"
        (row,) = [r for r in table_rows(approvals.stdout) if request["id"] in r[0]]
        assert squash(f"{request['id']} pending, medium risk") in squash(row[0]), row
        assert squash(f"{request['playbook_id']} {request['step_name']} (delete_pod)") == squash(row[1])
        assert squash(row[2]) == target
        assert incidents.returncode == 0, incidents
        assert "…" not in incidents.stdout, f"a value was cut at {columns} columns:\n{incidents.stdout}"
        (incident,) = [r for r in table_rows(incidents.stdout) if "crash_loop" in r[1]]
        assert squash(incident[1]) == "crash_loopDeployment/shop/web"
        assert incident[0].startswith("inc-") and "open" in incident[0]

    # An empty list says so, rather than drawing an empty table.
    none_approved = await arun_cli("approvals", "list", "--state", "approved", *as_user(harness, "bob"))
    none_resolved = await arun_cli("incidents", "list", "--status", "resolved", *as_user(harness, "bob"))
    assert (none_approved.returncode, none_approved.stdout) == (0, "no approved approvals\n"), none_approved
    assert (none_resolved.returncode, none_resolved.stdout) == (0, "no resolved incidents\n"), none_resolved


async def test_the_approvals_table_shows_whole_ids_at_80_columns(harness: Harness) -> None:
    _, request = await start_with_pending_restart(harness)

    result = await arun_cli("approvals", "list", *as_user(harness, "alice"), env=cli_env(COLUMNS="80"))

    assert result.returncode == 0, result
    assert request["id"] in result.stdout, result


async def test_environment_variables_replace_the_flags(harness: Harness) -> None:
    pod, request = await start_with_pending_restart(harness)
    as_bob = cli_env(AIOPS_API_URL=harness.base_url, AIOPS_API_TOKEN=TOKENS["bob"])

    (row,) = json_of(await arun_cli("approvals", "list", "--state", "pending", "--json", env=as_bob))
    assert row["id"] == request["id"]
    incidents = json_of(await arun_cli("incidents", "list", "--json", env=as_bob))
    assert any(i["type"] == "crash_loop" for i in incidents)

    rejected = await arun_cli("approvals", "reject", request["id"], "--reason", "DB is down", env=as_bob)

    assert rejected.returncode == 0, rejected
    assert re.fullmatch(
        rf"{re.escape(request['id'])} rejected by bob; run \S+ is rejected", rejected.flat_stdout
    )
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is not None
    assert writes(harness.emulator, "DELETE") == []

    # A flag still wins over the environment: alice's token, bob's in the environment.
    shown = json_of(
        await arun_cli("approvals", "show", request["id"], "--token", TOKENS["alice"], "--json", env=as_bob)
    )
    assert (shown["state"], shown["decided_by"], shown["reason"]) == ("rejected", "bob", "DB is down")
