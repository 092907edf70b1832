"""The shipped Slack app manifest asks for what the channel uses."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[3] / "docs" / "slack-app-manifest.yaml"


def test_the_manifest_enables_interactivity_socket_mode_and_the_scopes_used() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"chat:write", "usergroups:read"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url: https://<host>/slack/events" in MANIFEST.read_text()
