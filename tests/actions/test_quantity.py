"""Resource quantities as the API reference defines them (binary and decimal SI suffixes, exponents).

https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from aiops.actions import quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512Mi", 512 * 2**20),
        ("1.5Gi", 3 * 2**29),
        ("2Ti", 2 * 2**40),
        ("64Ki", 65536),
        ("250m", Decimal("0.25")),
        ("1", 1),
        ("1k", 1000),
        ("128M", 128_000_000),
        ("1G", 10**9),
        ("1e3", 1000),
        ("1E-3", Decimal("0.001")),
        (".5", Decimal("0.5")),
    ],
)
def test_parse(text: str, value: Decimal | int) -> None:
    assert quantity.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "12 Mi", "1.2.3", "5mb", "-"])
def test_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity.parse_quantity(text)


def test_bytes_round_up_and_format_in_the_largest_exact_unit() -> None:
    assert quantity.to_bytes("0.5Ki") == 512
    assert quantity.to_bytes("1.1") == 2
    assert quantity.format_bytes(805306368) == "768Mi"
    assert quantity.format_bytes(2 * 1024**3) == "2Gi"
    assert quantity.format_bytes(1000) == "1000"
