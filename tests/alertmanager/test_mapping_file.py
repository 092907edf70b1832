"""The alert mapping table is extensible in config (``alertmanager.mapping_file``): an override
routes a custom alert to an event type and resource; an invalid file is refused with file, line
and field, by the loader, by ``aiops alerts convert --mapping`` and by ``aiops run`` at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiops import errors
from aiops.sources.alertmanager import convert_json
from aiops.sources.alertmanager.config import load_mapping
from tests.alertmanager.payloads import alert, payload
from tests.cli.helpers import run_cli

OVERRIDE = """\
# Our own alert: the checkout Deployment has no replicas ready.
CheckoutDown:
  type: replication_failure
  kind: Deployment
  name_label: deployment
"""

BROKEN = """\
CheckoutDown:
  type: replication_failure
  kind: Deployment
  colour: blue
"""


def test_an_override_maps_a_custom_alert_to_a_deployment_problem(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(OVERRIDE)
    body = payload(alert("CheckoutDown", {"namespace": "shop", "deployment": "checkout"}))
    (event,) = convert_json(body, load_mapping(path))
    assert event.dedup_key == "replication_failure:Deployment/shop/checkout"
    (generic,) = convert_json(body)  # without the file: a generic alert
    assert generic.type.value == "alert"


def test_a_broken_file_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(BROKEN)
    with pytest.raises(errors.ValidationFailed) as caught:
        load_mapping(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 4, "CheckoutDown.colour")


def test_the_cli_uses_the_file_and_refuses_a_broken_one(tmp_path: Path) -> None:
    good, bad, body = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "payload.json"
    good.write_text(OVERRIDE)
    bad.write_text(BROKEN)
    body.write_bytes(payload(alert("CheckoutDown", {"namespace": "shop", "deployment": "checkout"})))
    ok = run_cli("alerts", "convert", "-f", str(body), "--mapping", str(good))
    assert ok.returncode == 0, ok
    assert json.loads(ok.stdout)["type"] == "replication_failure"
    refused = run_cli("alerts", "convert", "-f", str(body), "--mapping", str(bad))
    assert refused.returncode == 2 and f"{bad}:4: CheckoutDown.colour" in refused.flat_stderr


def test_aiops_run_refuses_to_start_on_a_broken_mapping_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    result = run_cli(
        "run",
        env={"AIOPS_ALERTMANAGER__MAPPING_FILE": str(bad), "AIOPS_KUBE__SERVER": "http://127.0.0.1:9"},
        timeout_seconds=60,
    )
    assert result.returncode == 2
    assert "refusing to start" in result.flat_stderr and f"{bad}:4: CheckoutDown.colour" in result.flat_stderr
