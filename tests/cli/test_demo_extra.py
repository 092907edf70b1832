"""The ``demo`` extra: ``aiops run``'s import graph needs neither kmock nor fakeredis, and ``aiops demo``
without them says how to get them instead of a traceback (issue 10, item 5).

Each case runs a fresh interpreter in which importing the extra's packages fails the way it does
when they are not installed (``None`` in ``sys.modules`` raises ModuleNotFoundError naming them).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = "import sys\nsys.modules['kmock'] = None\nsys.modules['fakeredis'] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_the_install_requirements_leave_the_emulator_and_fakeredis_to_the_demo_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = " ".join(project["dependencies"])
    assert "kmock" not in required and "fakeredis" not in required
    demo = " ".join(project["optional-dependencies"]["demo"])
    assert "kmock" in demo and "fakeredis" in demo


def test_everything_aiops_run_imports_loads_without_the_demo_extra() -> None:
    done = _python(
        "import aiops.cli, aiops.runtime, aiops.operator, aiops.store, aiops.api, aiops.pipeline\n"
        "from aiops.store import Store\n"
        "Store.connect('redis://127.0.0.1:1/0')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('kmock', 'fakeredis', 'aiops.emulator')) "
        "and sys.modules[m] is not None)\n"
        "print('loaded:', loaded)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout


def test_aiops_demo_without_the_extra_says_how_to_install_it() -> None:
    done = _python("from aiops.cli import main\nsys.argv = ['aiops', 'demo', '--script']\nmain()\n")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pip install 'aiops[demo]'" in done.stderr
    assert "Traceback" not in done.stderr
