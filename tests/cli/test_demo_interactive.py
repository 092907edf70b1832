"""``aiops demo`` on a terminal: an SRE decides each waiting step at the keyboard (real pty).

The demo runs as a child process on an 80-column pseudo-terminal with the real Redis. While a
prompt waits, the API keeps answering (``/healthz``, ``aiops approvals list``). Each request is
shown whole: the full id in the table and the prompt, every param (the drain flags, the memory
factor), the plan's diff (the new memory limit) and the incident's RCA summary. Enter skips
(the default never approves); at high risk ``a`` is refused and the word must be typed;
rejecting and skipping are normal outcomes (exit 0). Ctrl-C at a prompt (the first, or a later
one) stops the demo cleanly: exit 130, no traceback, the demo's Redis keys removed.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
import redis

from tests.cli.helpers import run_cli
from tests.cli.terminal import Terminal

#: A request's first line: ``[2/4] patch_resources on Deployment/shop/cart — high risk``.
HEADER = r"\[(\d+)/(\d+)\]\s+(\w+)\s+on\s+(\S+)\s+—\s+(\w+)\s+risk"
PROMPT = r"Decide:[^>]*>"
API = r"api:\s+http://127\.0\.0\.1:(\d+)\s+\(token\s+for\s+identity\s+demo-sre:\s+(\S+)\)"
REQUEST_ID = r"request\s+([0-9a-f]{32}),"
DEMO_SECONDS = 90
#: A traceback printed by a crash starts its line; the seeded logs' own, quoted in the console
#: channel's incident panels, follow a border and a finding's name.
CRASH = re.compile(r"(?m)^Traceback \(most recent call last\)")


def flat(text: str) -> str:
    """``text`` with every run of whitespace made one space (terminal wraps undone)."""
    return " ".join(text.split())


def check_the_api_answers_while_the_prompt_waits(port: str, token: str, table: str) -> None:
    """``/healthz`` and ``aiops approvals list`` answer; the table ``table`` showed every whole id."""
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    listed = run_cli(
        "approvals", "list", "--api-url", f"http://127.0.0.1:{port}", "--token", token, "--json",
        timeout_seconds=30,
    )  # fmt: skip
    assert listed.returncode == 0, listed
    waiting = json.loads(listed.stdout)
    assert sorted(r["action"] for r in waiting) == ["cordon", "delete_pod", "patch_resources", "rollback"]
    for request in waiting:
        assert request["id"] in table, request["id"]
    assert not [line for line in table.splitlines() if line.startswith("│") and "…" in line], "cut"


def answer_every_request(term: Terminal, header: re.Match[str]) -> dict[str, str]:
    """Answer the five requests as they come (the drain only once the cordon is approved and
    verified); returns what each prompt showed, by action."""
    shown: dict[str, str] = {}
    while True:
        action = header[3]
        shown[action] = term.since(header)
        if action == "patch_resources":  # high risk: "a" is not enough, Enter skips
            assert header[5] == "high"
            term.line("a")
            term.expect(r'high risk: type the whole word "approve" to run this step')
            term.expect(PROMPT)
            term.line("")
            term.expect(r"skipped")
        elif action == "rollback":
            term.line("approve")
            term.expect(r"approved")
        elif action == "cordon":  # medium risk: "a" will do
            term.line("a")
            term.expect(r"approved")
        else:
            assert action in ("drain", "delete_pod"), action
            term.line("reject" if action == "drain" else "r")
            term.expect(r"rejected")
        if len(shown) == 5:
            return shown
        header = term.expect(HEADER, DEMO_SECONDS)
        term.expect(PROMPT)


def test_an_sre_decides_each_step_at_the_terminal_and_rejecting_is_a_normal_outcome(redis_url: str) -> None:
    term = Terminal("demo", columns=80, REDIS_URL=redis_url)
    try:
        port, token = term.expect(API, DEMO_SECONDS).groups()
        first = term.expect(HEADER, DEMO_SECONDS)
        term.expect(PROMPT)
        before = term.text[: first.start()]  # the table, after the console channel's incident panels
        check_the_api_answers_while_the_prompt_waits(
            port, token, before[before.rfind("Waiting for approval") :]
        )

        shown = answer_every_request(term, first)

        assert term.wait_exit(DEMO_SECONDS) == 0, term.text[-3000:]
    finally:
        term.close()

    oom, drain = flat(shown["patch_resources"]), flat(shown["drain"])
    assert "memory_factor: 1.5" in oom
    assert "256Mi → 384Mi" in oom, "the plan shows the new memory limit"
    assert re.search(r"RCA \(heuristic, confidence [01]\.\d\d, out_of_memory\): OOMKilled", oom), oom
    assert "ignore_daemonsets: true" in drain and "delete_emptydir_data: false" in drain
    assert "timeout_seconds: 600" in drain
    assert "RCA (heuristic" in drain and "node_failure" in drain
    for action, text in shown.items():
        assert re.search(REQUEST_ID, flat(text)), f"the {action} prompt shows the whole request id"
    end = flat(term.text)
    assert "no other pending approvals (1 skipped, left pending)" in end
    assert "payments rolled back to shop/payments:1.4.2: yes" in end
    assert "worker-2 cordoned: yes" in end
    assert "worker-2 drained through the Eviction API: not done: rejected" in end
    assert "crash-looping pod deleted (its ReplicaSet replaces it): not done: rejected" in end
    assert "cart memory limit raised above 256Mi: not done: left pending" in end, "Enter approved nothing"
    assert not CRASH.search(term.text), "no traceback of aiops (a log sample in a panel is indented)"


@pytest.mark.parametrize("skipped", [0, 2], ids=["first prompt", "third prompt"])
def test_ctrl_c_at_a_prompt_stops_the_demo_cleanly(redis_url: str, skipped: int) -> None:
    term = Terminal("demo", columns=100, REDIS_URL=redis_url)
    try:
        prefix = term.expect(r"keys\s+under\s+(aiops-demo:[0-9a-f]+:)", DEMO_SECONDS)[1]
        term.expect(PROMPT, DEMO_SECONDS)
        for _ in range(skipped):  # Enter skips; the next request's prompt follows
            term.line("")
            term.expect(r"skipped")
            term.expect(PROMPT, DEMO_SECONDS)

        term.ctrl_c()

        assert term.wait_exit(60) == 130, term.text[-3000:]
    finally:
        term.close()
    assert "interrupted: the demo stopped" in flat(term.text)
    assert not CRASH.search(term.text), "no traceback of aiops (a log sample in a panel is indented)"
    assert not re.search(r"\b(approved|rejected) ", term.text.split("Decide:")[-1]), "nothing was decided"
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{prefix}*", count=1000)) == [], "the demo's keys are removed"
    finally:
        client.close()
