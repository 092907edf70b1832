"""The developer entry points as a newcomer meets them: ``make help``, ``make clean`` and
``scripts/ensure-redis.sh`` (which ``make test`` runs).

``make clean`` is run on a copy of the Makefile in a temporary directory, after
``scripts/ensure-redis.sh`` started a real ``redis-server`` there on a free port: its pid file is
the temporary one, so the shared Redis on 6379 is never touched. ``ensure-redis.sh`` is also run
with a PATH that holds no ``redis-server`` and a stand-in ``apt-get`` that only records its call,
so nothing is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_make_help_lists_every_phony_target() -> None:
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert phony is not None

    result = subprocess.run(
        ["make", "-s", "help"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines() if line}
    assert set(phony.group(1).split()) <= listed, listed
    assert "e2e" in listed


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A directory with the Makefile and scripts/ensure-redis.sh; any redis-server left is killed."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "scripts" / "ensure-redis.sh", tmp_path / "scripts" / "ensure-redis.sh")
    yield tmp_path
    pidfile = tmp_path / ".redis" / "redis.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text())
        if _alive(pid):
            os.kill(pid, 9)


def test_make_clean_stops_the_redis_server_that_make_test_started(workdir: Path) -> None:
    env = {**os.environ, "PY": sys.executable, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    started = subprocess.run(
        ["bash", "scripts/ensure-redis.sh"],
        check=False,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert "starting redis-server" in started.stdout
    pid = int((workdir / ".redis" / "redis.pid").read_text())
    assert _alive(pid)

    cleaned = subprocess.run(
        ["make", "-s", "clean"], check=False, cwd=workdir, capture_output=True, text=True, timeout=30
    )

    assert cleaned.returncode == 0, cleaned.stderr
    assert f"stopping the redis-server make started (pid {pid}" in cleaned.stdout
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "make clean left the redis-server running"
    assert not (workdir / ".redis").exists()


def _no_redis_path(workdir: Path) -> dict[str, str]:
    """A PATH without redis-server, where ``id -u`` says root and ``apt-get`` records its call and fails."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    # The script hides apt-get's output: the stand-in appends to $OUTPUT, the file the script's
    # stdout goes to, so the order of what the script said and the call is kept.
    (bin_dir / "apt-get").write_text('#!/bin/sh\necho "APT-GET CALLED $*" >>"$OUTPUT"\nexit 100\n')
    for stub in ("id", "apt-get"):
        (bin_dir / stub).chmod(0o755)
    return {
        "PATH": str(bin_dir),
        "PY": sys.executable,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "OUTPUT": str(workdir / "output.txt"),
    }


def _ensure_redis(workdir: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the script with stdout appended to ``$OUTPUT``; (exit code, stdout with the calls, stderr)."""
    output = Path(env["OUTPUT"])
    output.unlink(missing_ok=True)
    with output.open("ab") as stdout:
        done = subprocess.run(
            ["/bin/bash", "scripts/ensure-redis.sh"],
            check=False,
            cwd=workdir,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    return done.returncode, output.read_text(), done.stderr


def test_ensure_redis_says_what_it_installs_before_it_does_and_can_be_told_not_to(workdir: Path) -> None:
    env = _no_redis_path(workdir)

    code, stdout, stderr = _ensure_redis(workdir, env)

    assert code == 1
    said, called, _ = stdout.partition("APT-GET CALLED install")
    assert called, f"apt-get was not called: {stdout}"
    assert "installing the Debian package redis-server" in said, stdout
    assert "apt-get install -y redis-server" in said and "REDIS_NO_INSTALL=1" in said, stdout
    assert "apt-get install redis-server failed" in stderr

    code, stdout, stderr = _ensure_redis(workdir, {**env, "REDIS_NO_INSTALL": "1"})

    assert code == 1
    assert "APT-GET CALLED" not in stdout
    assert "redis-server is not installed" in stderr and "REDIS_URL" in stderr
