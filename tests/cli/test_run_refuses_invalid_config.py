"""``aiops run`` refuses invalid configuration before it connects to anything; ``--help`` works.

A rules file (``AIOPS_RULES_FILE``, or ``rules_file`` in the ``--config`` YAML) naming an
unknown playbook or breaking the schema makes ``aiops run`` exit 2 with "refusing to start" and
``FILE:LINE: FIELD: MESSAGE`` for every problem. The Kubernetes API and Redis it is pointed at
are local sockets that listen but never answer: no connection reaches them on refusal, while
with a valid configuration the same command does connect (so the probe can see connections).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.helpers import CliResult, SilentServer, cli_env, run_cli

# Line numbers: 6 "- name: oom", 9 the misspelt playbook id (rules.1.playbooks.0).
UNKNOWN_PLAYBOOK = """\
rules:
  - name: crash-looping pods
    match:
      types: [crash_loop]
    playbooks: [crash_loop_remediation]
  - name: oom-killed workloads
    match:
      types: [oom_killed]
    playbooks: [oom_kill_remediaton]
"""

# Line 5: an unknown key under match; line 7: a negative cooldown.
SCHEMA_ERRORS = """\
rules:
  - name: crash-looping pods
    match:
      types: [crash_loop]
      namespace: shop
    playbooks: [crash_loop_remediation]
    cooldown_seconds: -5
"""

VALID_RULES = """\
rules:
  - name: crash-looping pods
    match:
      types: [crash_loop]
    playbooks: [crash_loop_remediation]
"""


def run_env(kube: SilentServer, redis_: SilentServer, **extra: str) -> dict[str, str]:
    return cli_env(
        AIOPS_KUBE__SERVER=f"http://127.0.0.1:{kube.port}",
        AIOPS_REDIS_URL=f"redis://127.0.0.1:{redis_.port}/0",
        AIOPS_API__HOST="127.0.0.1",
        AIOPS_API__PORT="0",
        AIOPS_API__TOKEN="token-for-the-test-0123456789",
        **extra,
    )


def assert_refused(result: CliResult, *located: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "refusing to start on invalid configuration" in result.flat_stderr, result
    for problem in located:
        assert problem in result.flat_stderr, result
    assert "Traceback" not in result.stderr


def test_an_unknown_playbook_id_in_the_rules_is_refused(
    tmp_path: Path, silent: tuple[SilentServer, SilentServer]
) -> None:
    kube, redis_ = silent
    (tmp_path / "rules.yaml").write_text(UNKNOWN_PLAYBOOK)

    result = run_cli("run", env=run_env(kube, redis_, AIOPS_RULES_FILE="rules.yaml"), cwd=tmp_path)

    assert_refused(result, "rules.yaml:9: rules.1.playbooks.0: unknown playbook 'oom_kill_remediaton'")
    assert "oom_kill_remediation" in result.flat_stderr.split("known:")[1], "the known ids are listed"
    assert kube.connections() == 0 and redis_.connections() == 0


def test_schema_errors_in_the_rules_are_all_located(
    tmp_path: Path, silent: tuple[SilentServer, SilentServer]
) -> None:
    kube, redis_ = silent
    (tmp_path / "rules.yaml").write_text(SCHEMA_ERRORS)

    result = run_cli("run", env=run_env(kube, redis_, AIOPS_RULES_FILE="rules.yaml"), cwd=tmp_path)

    assert_refused(
        result,
        "rules.yaml:5: rules.0.match.namespace: unknown field 'namespace'",
        "rules.yaml:7: rules.0.cooldown_seconds:",
    )
    assert kube.connections() == 0 and redis_.connections() == 0


def test_the_rules_file_named_in_the_config_file_is_checked_too(
    tmp_path: Path, silent: tuple[SilentServer, SilentServer]
) -> None:
    kube, redis_ = silent
    (tmp_path / "rules.yaml").write_text(UNKNOWN_PLAYBOOK)
    (tmp_path / "aiops.yaml").write_text("rules_file: rules.yaml\nlog_level: WARNING\n")

    result = run_cli("run", "--config", "aiops.yaml", env=run_env(kube, redis_), cwd=tmp_path)

    assert_refused(result, "rules.yaml:9: rules.1.playbooks.0: unknown playbook 'oom_kill_remediaton'")
    assert kube.connections() == 0 and redis_.connections() == 0


def test_a_missing_rules_file_is_refused(tmp_path: Path, silent: tuple[SilentServer, SilentServer]) -> None:
    kube, redis_ = silent

    result = run_cli("run", env=run_env(kube, redis_, AIOPS_RULES_FILE="gone.yaml"), cwd=tmp_path)

    assert_refused(result, "gone.yaml")
    assert "No such file or directory" in result.flat_stderr
    assert kube.connections() == 0 and redis_.connections() == 0


def test_with_a_valid_configuration_the_same_command_does_connect(
    tmp_path: Path, silent: tuple[SilentServer, SilentServer]
) -> None:
    # The control for the tests above: the probe sockets do see a starting operator.
    kube, redis_ = silent
    (tmp_path / "rules.yaml").write_text(VALID_RULES)
    process = subprocess.Popen(
        [sys.executable, "-m", "aiops", "run"],
        env=run_env(kube, redis_, AIOPS_RULES_FILE="rules.yaml"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            if redis_.connections(wait_seconds=0.1) + kube.connections(wait_seconds=0.1):
                break
        assert redis_.connections() + kube.connections() >= 1, "aiops run never connected"
        assert process.poll() is None, "a valid configuration is not refused"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("args", "commands"),
    [
        pytest.param((), ["run", "demo", "detect", "playbooks", "approvals", "incidents"], id="aiops"),
        pytest.param(("approvals",), ["list", "show", "approve", "reject"], id="approvals"),
        pytest.param(("incidents",), ["list", "show"], id="incidents"),
        pytest.param(("playbooks",), ["validate"], id="playbooks"),
    ],
)
def test_help_lists_the_commands(args: tuple[str, ...], commands: list[str]) -> None:
    result = run_cli(*args, "--help")

    assert result.returncode == 0, result
    listed = {
        line.split()[1]
        for line in result.stdout.splitlines()
        if line.startswith("│ ") and len(line.split()) > 2
    }
    assert set(commands) <= listed, result
