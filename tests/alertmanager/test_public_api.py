"""The public names of ``aiops.sources.alertmanager``: what the endpoint and the CLI will import."""

from __future__ import annotations

from aiops.sources import alertmanager


def test_every_public_name_exists_and_the_entry_points_are_there() -> None:
    assert all(hasattr(alertmanager, name) for name in alertmanager.__all__)
    assert {"parse_payload", "convert", "convert_json", "AlertMapping", "MappingRule", "DEFAULT"} <= set(
        alertmanager.__all__
    )
    assert alertmanager.DEFAULT is alertmanager.mapping.DEFAULT
