"""``aiops run`` when Redis or the Kubernetes API cannot be reached: a few lines saying which one,
how it was tried and what to set, exit code 1; never a traceback, never a hang.

Each case is a real ``aiops run`` child process. What answers is real: the shared Redis and the
emulated Kubernetes API (served by this test's event loop, which ``arun_cli`` leaves free). What
does not answer is a port nothing listens on, or a kubeconfig path that does not exist.
``AIOPS_STARTUP_WAIT_SECONDS=1`` keeps the retries short; the child is bounded by a timeout, so the
old behaviour (retrying the API server forever, or a 270-line traceback) fails the test instead
of hanging it.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from aiops.emulator import ClusterEmulator
from aiops.kube import Kube
from tests.cli.helpers import CliResult, arun_cli, cli_env
from tests.support.ports import free_port

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
  - name: emulated
    cluster: {{server: "{server}"}}
users:
  - name: tester
    user: {{token: not-a-secret}}
contexts:
  - name: emulated
    context: {{cluster: emulated, user: tester}}
current-context: emulated
"""


def _env(**extra: str) -> dict[str, str]:
    return cli_env(
        AIOPS_API__HOST="127.0.0.1",
        AIOPS_API__PORT=str(free_port()),
        AIOPS_API__TOKEN="token-for-the-test-0123456789",
        AIOPS_REDIS_PREFIX=f"aiops-test:{secrets.token_hex(4)}:",
        AIOPS_STARTUP_WAIT_SECONDS="1",
        AIOPS_ENRICHMENT__ENABLED="false",
        AIOPS_ALERTMANAGER__ENABLED="false",
        **extra,
    )


def _assert_short_failure(result: CliResult) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result
    assert "cannot start, nothing was started" in result.stderr, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 8, f"{len(lines)} lines:\n{result.stderr}"


async def test_redis_unreachable_names_redis_the_url_and_the_variable(
    emulator: ClusterEmulator, redis_url: str
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"

    result = await arun_cli(
        "run", env=_env(REDIS_URL=closed, AIOPS_KUBE__SERVER=emulator.url), timeout_seconds=60
    )

    _assert_short_failure(result)
    assert f"Redis did not answer at {closed}" in result.flat_stderr
    assert "tried: PING" in result.stderr and "REDIS_URL" in result.stderr
    assert "Kubernetes" not in result.stderr, "the API answered: only Redis is named"


async def test_api_server_unreachable_names_the_url_and_the_settings(redis_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    result = await arun_cli(
        "run", env=_env(REDIS_URL=redis_url, AIOPS_KUBE__SERVER=closed), timeout_seconds=60
    )

    _assert_short_failure(result)
    assert f"the Kubernetes API did not answer at {closed}" in result.flat_stderr
    assert "GET /version" in result.stderr and "AIOPS_KUBE__" in result.stderr
    assert "Redis" not in result.stderr, "Redis answered: only the API is named"


async def test_a_kubeconfig_that_does_not_exist_is_named_as_missing(redis_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "kubeconfig-typo"

    result = await arun_cli(
        "run", env=_env(REDIS_URL=redis_url, AIOPS_KUBE__KUBECONFIG=str(missing)), timeout_seconds=60
    )

    _assert_short_failure(result)
    assert f"kubeconfig {missing}: does not exist" in result.flat_stderr
    assert "current-context" not in result.stderr, "not kubernetes-asyncio's misleading 'Expected key'"
    assert "AIOPS_KUBE__KUBECONFIG" in result.stderr


async def test_a_context_the_kubeconfig_lacks_is_named_with_the_ones_it_has(
    emulator: ClusterEmulator, redis_url: str, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG.format(server=emulator.url))

    result = await arun_cli(
        "run",
        env=_env(REDIS_URL=redis_url, AIOPS_KUBE__KUBECONFIG=str(kubeconfig), AIOPS_KUBE__CONTEXT="prod"),
        timeout_seconds=60,
    )

    _assert_short_failure(result)
    assert f"kubeconfig {kubeconfig}: no context 'prod' (it has: emulated)" in result.flat_stderr


async def test_the_same_kubeconfig_with_its_own_context_reaches_the_api(
    emulator: ClusterEmulator, tmp_path: Path
) -> None:
    # The control for the test above: the kubeconfig itself is usable.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG.format(server=emulator.url))

    kube = await Kube.from_config(str(kubeconfig), "emulated", None)
    try:
        assert kube.server == emulator.url
        assert await kube.ping()
    finally:
        await kube.close()


async def test_an_api_port_in_use_stops_everything_with_exit_1_and_says_what_to_set(
    emulator: ClusterEmulator, redis_url: str
) -> None:
    """Redis and the API server answer, but the API's port is taken: uvicorn cannot bind and
    exits (before, its ``sys.exit(3)`` ended the process with no word from aiops). aiops stops the
    operator too and exits 1 naming the address and the settings; never exit 0, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _env(REDIS_URL=redis_url, AIOPS_KUBE__SERVER=emulator.url) | {"AIOPS_API__PORT": str(port)}

        result = await arun_cli("run", env=env, timeout_seconds=60)

    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result
    assert f"the API server could not start on 127.0.0.1:{port}" in result.flat_stderr
    assert "AIOPS_API__PORT" in result.stderr and "address already in use" in result.stderr
