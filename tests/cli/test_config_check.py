"""``aiops config check`` and ``aiops run`` load settings the same strict way (``aiops.config.load``).

Every bad value is reported as a list, exit code 2, never a traceback, naming where it came from:
the environment variable, or the settings file with line and key. The cases are the ones a first
install met: the Helm chart rendered ``AIOPS_ALERTMANAGER__MAX_BODY_BYTES`` as ``1.048576e+06``
(the pod crash-looped), a memory limit that is not a quantity or not positive, a Redis URL without
a scheme, a list given as a bare word, two approvers sharing one token, and a ``--config`` file
that does not exist (which used to run silently on defaults). ``config check`` touches neither
Redis nor the Kubernetes API: both are local sockets that listen, never answer, and count
connections; ``aiops run`` refuses the same configurations before connecting either.

``config check`` runs in this process (typer's CliRunner, environment set per test) to keep the
many cases fast; ``aiops run`` runs as a child process, as a user starts it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops import cli
from tests.cli.helpers import CliResult, SilentServer, cli_env, run_cli

SAME_TOKEN = "same-token-for-two-0123456789"

#: (environment, the variable the problem must name, words the problem must contain)
BAD_ENVIRONMENTS = {
    "chart-rendered-float": (
        {"AIOPS_ALERTMANAGER__MAX_BODY_BYTES": "1.048576e+06"},
        "AIOPS_ALERTMANAGER__MAX_BODY_BYTES",
        ["valid integer", "1.048576e+06", "whole number"],
    ),
    "memory-limit-not-a-quantity": (
        {"AIOPS_ACTIONS__MAX_MEMORY_LIMIT": "lots"},
        "AIOPS_ACTIONS__MAX_MEMORY_LIMIT",
        ["'lots' is not a Kubernetes quantity", "4Gi"],
    ),
    "negative-memory-limit": (
        {"AIOPS_ACTIONS__MAX_MEMORY_LIMIT": "-5Gi"},
        "AIOPS_ACTIONS__MAX_MEMORY_LIMIT",
        ["'-5Gi' is not above zero"],
    ),
    "zero-memory-limit": (
        {"AIOPS_ACTIONS__MAX_MEMORY_LIMIT": "0"},
        "AIOPS_ACTIONS__MAX_MEMORY_LIMIT",
        ["'0' is not above zero"],
    ),
    "redaction-pattern-that-does-not-compile": (
        {"AIOPS_ENRICHMENT__REDACT_PATTERNS": '["token=(["]'},
        "AIOPS_ENRICHMENT__REDACT_PATTERNS",
        ["invalid redaction pattern", "token=(["],
    ),
    "redis-url-without-scheme": (
        {"REDIS_URL": "notaurl"},
        "REDIS_URL",
        ["redis://", "rediss://", "unix://"],
    ),
    "list-as-a-bare-word": (
        {"AIOPS_KUBE__NAMESPACES": "prod"},
        "AIOPS_KUBE__NAMESPACES",
        ["not JSON", """AIOPS_KUBE__NAMESPACES='["prod"]'"""],
    ),
    "two-approvers-one-token": (
        {"AIOPS_API__TOKENS": json.dumps({"alice": SAME_TOKEN, "bob": SAME_TOKEN})},
        "AIOPS_API__TOKENS",
        ["'alice' and 'bob' have the same token", "recorded as the other's"],
    ),
    "telegram-chat-id-not-a-number": (
        {"AIOPS_TELEGRAM__BOT_TOKEN": "1:bot-token", "AIOPS_TELEGRAM__CHAT_IDS": "-1001234,oncall"},
        "AIOPS_TELEGRAM__CHAT_IDS",
        ["valid integer", "'oncall'"],
    ),
    "slack-without-its-channel": (
        {"AIOPS_SLACK__BOT_TOKEN": "xoxb-bot-token", "AIOPS_SLACK__APP_TOKEN": "xapp-app-token"},
        "AIOPS_SLACK",
        ["needs channel", "AIOPS_SLACK__CHANNEL"],
    ),
    "telegram-anonymous-admin-as-approver": (
        {"AIOPS_APPROVALS__APPROVERS_HIGH": '["telegram:1087968824"]'},
        "AIOPS_APPROVALS__APPROVERS_HIGH",
        ["anonymous-admin", "own numeric user id"],
    ),
    "token-shared-with-admin": (
        {"AIOPS_API__TOKEN": SAME_TOKEN, "AIOPS_API__TOKENS": json.dumps({"bob": SAME_TOKEN})},
        "AIOPS_API__TOKENS",
        ["'bob' and 'admin' (api.token) have the same token"],
    ),
}


def _env(silent: tuple[SilentServer, SilentServer], **extra: str) -> dict[str, str]:
    """The aiops variables of a test: the silent servers, a free API port, plus ``extra``."""
    kube, redis_ = silent
    base = {
        "AIOPS_KUBE__SERVER": f"http://127.0.0.1:{kube.port}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_.port}/0",
        "AIOPS_API__HOST": "127.0.0.1",
        "AIOPS_API__PORT": "0",
        "AIOPS_STARTUP_WAIT_SECONDS": "0",
    }
    return base | extra


def check_in_process(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> CliResult:
    """``aiops config check *args`` in this process with exactly ``env`` for the aiops variables."""
    for name in list(os.environ):
        if name.upper().startswith(("AIOPS_", "REDIS_URL")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli.app, ["config", "check", *args])
    assert isinstance(result.exception, SystemExit | None), f"not a clean exit: {result.exception!r}"
    return CliResult(("config", "check", *args), result.exit_code, result.stdout, result.stderr)


def _problem_line(result: CliResult, variable: str) -> str:
    lines = [line.strip() for line in result.stderr.splitlines() if f"environment: {variable}" in line]
    assert lines, f"no problem names {variable}:\n{result}"
    return lines[0]


def _assert_no_connection(silent: tuple[SilentServer, SilentServer]) -> None:
    kube, redis_ = silent
    assert kube.connections() == 0, "the Kubernetes API was contacted"
    assert redis_.connections() == 0, "Redis was contacted"


@pytest.mark.parametrize("case", list(BAD_ENVIRONMENTS))
def test_config_check_names_the_variable_and_exits_2(
    case: str, silent: tuple[SilentServer, SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, variable, words = BAD_ENVIRONMENTS[case]

    result = check_in_process(monkeypatch, _env(silent, **env))

    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    line = _problem_line(result, variable)
    for word in words:
        assert word in line, line
    assert SAME_TOKEN not in result.stdout + result.stderr, "a token is never repeated"
    _assert_no_connection(silent)


@pytest.mark.parametrize("case", ["memory-limit-not-a-quantity", "list-as-a-bare-word"])
def test_run_refuses_the_same_problems_before_connecting(
    case: str, silent: tuple[SilentServer, SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: 'lots' was a traceback from inside the runtime, after connecting; 'prod' named no variable.
    env, variable, _ = BAD_ENVIRONMENTS[case]

    checked = check_in_process(monkeypatch, _env(silent, **env))
    ran = run_cli("run", env=cli_env(**_env(silent, **env)))

    assert ran.returncode == 2, ran
    assert "Traceback" not in ran.stderr and "refusing to start" in ran.stderr
    assert _problem_line(ran, variable) == _problem_line(checked, variable)
    _assert_no_connection(silent)


def test_a_valid_configuration_passes_without_touching_redis_or_kubernetes(
    tmp_path: Path, silent: tuple[SilentServer, SilentServer]
) -> None:
    # As a user runs it (a child process): nothing in the check opens a connection.
    config = tmp_path / "aiops.yaml"
    config.write_text(
        "actions:\n  max_memory_limit: 2Gi\napi:\n  tokens:\n    alice: alice-token-0123456789\n"
    )

    result = run_cli(
        "config",
        "check",
        "--config",
        str(config),
        env=cli_env(
            **_env(
                silent, AIOPS_ALERTMANAGER__MAX_BODY_BYTES="1048576", AIOPS_ACTIONS__MAX_MEMORY_LIMIT="3Gi"
            )
        ),
    )

    assert result.returncode == 0, result
    assert "ok: aiops run would start" in result.stdout
    assert "max_memory_limit=3Gi" in result.stdout, "the environment wins over the file"
    assert "1 token(s)" in result.stdout and "alice-token" not in result.stdout
    assert str(config) in result.stdout
    _assert_no_connection(silent)


def test_bad_values_in_the_settings_file_are_located_by_line_and_key(
    tmp_path: Path, silent: tuple[SilentServer, SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aiops.yaml"
    config.write_text("log_level: INFO\nactions:\n  max_memory_limit: -5Gi\nkube:\n  namespace: [prod]\n")

    result = check_in_process(monkeypatch, _env(silent), "--config", str(config))

    assert result.returncode == 2, result
    assert f"{config}:5: kube.namespace: unknown setting 'namespace'" in result.flat_stderr
    config.write_text("log_level: INFO\nactions:\n  max_memory_limit: -5Gi\n")
    result = check_in_process(monkeypatch, _env(silent), "--config", str(config))
    assert result.returncode == 2, result
    assert f"{config}:3: actions.max_memory_limit: '-5Gi' is not above zero" in result.flat_stderr


@pytest.mark.parametrize("how", ["option", "AIOPS_CONFIG"])
def test_a_settings_file_that_does_not_exist_is_an_error(
    how: str, tmp_path: Path, silent: tuple[SilentServer, SilentServer]
) -> None:
    # Before, a missing --config file was ignored and aiops ran on defaults: no approver lists,
    # no namespace filters, no protected namespaces beyond the built-in one.
    missing = tmp_path / "typo-aiops.yaml"
    args = ["--config", str(missing)] if how == "option" else []
    extra = {"AIOPS_CONFIG": str(missing)} if how == "AIOPS_CONFIG" else {}

    result = run_cli("run", *args, env=cli_env(**_env(silent, **extra)))

    assert result.returncode == 2, result
    assert f"{missing}: <root>: no such settings file" in result.flat_stderr
    assert "Traceback" not in result.stderr
    _assert_no_connection(silent)


def test_a_configuration_that_starts_but_cannot_be_used_is_valid_with_warnings(
    silent: tuple[SilentServer, SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart's default values start, but with no API token every approval route answers 503 and
    with no Alertmanager credentials every alert is refused (401): the check says so, and what to set."""
    bare = check_in_process(monkeypatch, _env(silent))
    token = check_in_process(
        monkeypatch,
        _env(
            silent,
            AIOPS_API__TOKENS='{"alice": "alice-token-0123456789"}',
            AIOPS_ALERTMANAGER__TOKEN="am-token-0123456789",
        ),
    )
    paused = check_in_process(monkeypatch, _env(silent, AIOPS_SAFETY__PAUSED="true"))

    assert bare.returncode == 0, bare
    assert "warning: no API token" in bare.flat_stderr and "AIOPS_API__TOKENS" in bare.flat_stderr
    assert "warning: no Alertmanager credentials" in bare.flat_stderr
    assert "AIOPS_ALERTMANAGER__TOKEN" in bare.flat_stderr
    assert token.returncode == 0, token
    assert "warning" not in token.flat_stderr, token
    assert "every write is refused" in paused.flat_stderr


#: (variable, its setting's key in the file, the file's value, the environment's value, what shows it)
BOTH_PLACES = {
    "REDIS_URL": ("REDIS_URL", "redis_url", "redis://file-redis:6379/0", "redis://127.0.0.1:{redis}/3", "/3"),
    "AIOPS_REDIS_URL": (
        "AIOPS_REDIS_URL",
        "redis_url",
        "redis://file-redis:6379/0",
        "redis://127.0.0.1:{redis}/4",
        "/4",
    ),
    "POD_NAMESPACE": ("POD_NAMESPACE", "pod_namespace", "from-file", "from-env", "own namespace 'from-env'"),
}


@pytest.mark.parametrize("case", list(BOTH_PLACES))
def test_a_setting_in_both_the_file_and_the_environment_takes_the_environment(
    case: str, tmp_path: Path, silent: tuple[SilentServer, SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    variable, key, file_value, env_value, shown = BOTH_PLACES[case]
    # Before: a setting read under another name (REDIS_URL, POD_NAMESPACE) set in both places was
    # refused as "unknown setting 'redis_url'": the chart sets the variable, users copy the file.
    config = tmp_path / "aiops.yaml"
    config.write_text(f"{key}: {file_value}\napi:\n  tokens:\n    alice: alice-token-0123456789\n")
    env = _env(silent)
    if variable != "REDIS_URL":
        env.pop("REDIS_URL")
    env[variable] = env_value.format(redis=silent[1].port)

    result = check_in_process(monkeypatch, env, "--config", str(config))

    assert result.returncode == 0, result
    assert "1 token(s)" in result.stdout, "the file's other settings still apply"
    assert file_value not in result.stdout
    if key == "redis_url":
        assert shown in result.stdout.split("redis:", 1)[1].splitlines()[0]
    else:
        assert shown in result.stdout
    assert f"environment ({variable})" in result.stdout or f", {variable}" in result.stdout
    _assert_no_connection(silent)


def test_chat_settings_are_described_and_their_traps_warned(
    silent: tuple[SilentServer, SilentServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack and Telegram on (chat ids in the comma form the chart's users type), nobody from chat
    on the approver lists: it starts (exit 0), says what chat will do and that its buttons would
    refuse everyone; the tokens are never shown."""
    env = _env(
        silent,
        AIOPS_SLACK__BOT_TOKEN="xoxb-secret-bot-token",
        AIOPS_SLACK__APP_TOKEN="xapp-secret-app-token",
        AIOPS_SLACK__CHANNEL="C0123456789",
        AIOPS_TELEGRAM__BOT_TOKEN="123:secret-telegram-token",
        AIOPS_TELEGRAM__CHAT_IDS="-1001234567890, 42",
        AIOPS_APPROVALS__APPROVERS_MEDIUM='["alice"]',
    )
    result = check_in_process(monkeypatch, env)
    assert result.returncode == 0, result
    text = " ".join((result.stdout + result.stderr).split())
    assert "chat: slack (socket mode, channel C0123456789), telegram (polling, 2 chats)" in text
    assert "votes: medium 1, high 1, drain 2" in text
    assert "no chat identity may approve medium-risk steps" in text
    assert "secret" not in text, "no token is shown"
    _assert_no_connection(silent)
