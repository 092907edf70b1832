"""Kubernetes resource quantities ("512Mi", "1.5Gi", "250m", "1e3"): parse and format.

Fed by: ``patch_resources`` (container limits and requests). Pure functions.

Grammar from the Quantity definition in the API reference
(https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/): a signed decimal
number followed by a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei: powers of 1024), a decimal SI suffix
(n, u, m, "", k, M, G, T, P, E: powers of 1000) or a decimal exponent (``e3``, ``E-2``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1)}
_DECIMAL |= {"k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12)}
_DECIMAL |= {"P": Decimal(10**15), "E": Decimal(10**18)}
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


def parse_quantity(text: str) -> Decimal:
    """The quantity's value in base units (bytes, cores). Raises ``ValueError`` when malformed."""
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * _DECIMAL[suffix]
    return value * Decimal(10) ** int(suffix[1:])


def to_bytes(text: str) -> int:
    """A memory quantity in whole bytes (rounded up, as the API rounds fractional bytes)."""
    return math.ceil(parse_quantity(text))


def format_bytes(value: int) -> str:
    """Bytes in the largest binary suffix that divides them exactly: 805306368 → ``768Mi``."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)
