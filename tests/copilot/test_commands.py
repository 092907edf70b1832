"""The chat command parser: every command, its aliases and spellings, and every error (→ Help)."""

from __future__ import annotations

import pytest

from aiops.copilot import commands as c
from aiops.copilot.tools import DEFAULT_TAIL_LINES, MAX_TAIL_LINES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status", c.Status()),
        ("/status", c.Status()),
        ("/status@aiops_bot", c.Status()),
        ("  STATUS  ", c.Status()),
        ("incidents", c.Incidents()),
        ("incident inc-2026-11-21.7", c.Incident("inc-2026-11-21.7")),
        ("approvals", c.Approvals()),
        ("help", c.Help()),
        ("", c.Help()),
        ("describe deploy shop/web", c.Describe("Deployment", "shop", "web")),
        ("describe Pod shop/web-5d9c7b8f6-x2k4p", c.Describe("Pod", "shop", "web-5d9c7b8f6-x2k4p")),
        ("describe statefulsets.apps db/pg", c.Describe("StatefulSet", "db", "pg")),
        ("describe node worker-1", c.Describe("Node", None, "worker-1")),
        ("describe ns shop", c.Describe("Namespace", None, "shop")),
        ("events shop", c.Events("shop")),
        ("events shop/web", c.Events("shop", "web")),
        ("logs shop/web-1", c.Logs("shop", "web-1")),
        (
            "logs shop/web-1 -c app --previous --tail 50",
            c.Logs("shop", "web-1", "app", True, 50),
        ),
        ("logs --tail 5 shop/web-1 -p", c.Logs("shop", "web-1", None, True, 5)),
        (f"logs shop/web-1 --tail {MAX_TAIL_LINES}", c.Logs("shop", "web-1", tail=MAX_TAIL_LINES)),
        ("rca shop/web", c.Rca("shop", "web")),
        ("why shop/web", c.Rca("shop", "web")),
        ("/Why@aiops_bot shop/web", c.Rca("shop", "web")),
    ],
)
def test_commands_parse(text: str, expected: c.Command) -> None:
    assert c.parse(text) == expected


def test_logs_tail_defaults_to_the_tools_default() -> None:
    parsed = c.parse("logs shop/web-1")
    assert isinstance(parsed, c.Logs) and parsed.tail == DEFAULT_TAIL_LINES


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("kubectl delete pod x", "unknown command 'kubectl'"),
        ("drain worker-1", "unknown command 'drain'"),
        ("status now", "usage: status"),
        ("incidents all", "usage: incidents"),
        ("approvals x", "usage: approvals"),
        ("incident", "usage: incident ID"),
        ("incident ../etc", "incident id"),
        ("describe secret shop/api", "Secrets are never read"),
        ("describe Secrets shop/api", "Secrets are never read"),
        ("describe sa shop/default", "ServiceAccounts"),
        ("describe serviceaccounts/token shop/default", "ServiceAccounts"),
        ("describe cm shop/settings", "ConfigMaps"),
        ("describe ingress shop/web", "allow-list"),
        ("describe deploy web", "expected NS/NAME"),
        ("describe deploy shop/", "expected NS/NAME"),
        ("describe deploy shop/../kube-system", "DNS subdomain"),
        ("describe deploy shop/a/b", "DNS subdomain"),
        ("describe deploy Shop/web", "RFC 1123"),
        ("describe node default/worker-1", "cluster-scoped"),
        ("describe deploy", "usage: describe"),
        ("events", "usage: events"),
        ("events shop/a/b", "DNS subdomain"),
        ("events ../x", "RFC 1123"),
        ("logs", "usage: logs"),
        ("logs shop", "expected NS/NAME"),
        ("logs shop/web-1 -c", "needs a container name"),
        ("logs shop/web-1 -c a/b", "RFC 1123"),
        ("logs shop/web-1 --tail", "--tail needs"),
        ("logs shop/web-1 --tail x", "--tail needs"),
        ("logs shop/web-1 --tail 0", "--tail needs"),
        (f"logs shop/web-1 --tail {MAX_TAIL_LINES + 1}", "--tail needs"),
        ("logs shop/web-1 --follow", "unexpected '--follow'"),
        ("logs shop/web-1 shop/web-2", "unexpected 'shop/web-2'"),
        ("rca", "usage: rca"),
        ("why shop", "expected NS/NAME"),
        ("rca shop/web extra", "usage: rca"),
        ('logs "shop/web', "cannot read the command"),
    ],
)
def test_errors_give_help_with_the_reason(text: str, reason: str) -> None:
    parsed = c.parse(text)
    assert isinstance(parsed, c.Help)
    assert parsed.reason is not None and reason in parsed.reason


def test_help_text_names_every_command_and_the_kinds() -> None:
    for word in (
        "status",
        "incidents",
        "incident ID",
        "approvals",
        "describe",
        "events",
        "logs",
        "rca",
        "why",
    ):
        assert word in c.HELP_TEXT
    assert "deployments" in c.HELP_TEXT and "secrets" not in c.HELP_TEXT
